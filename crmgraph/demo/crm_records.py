"""What the simulated CRM says, in HubSpot's JSON: object types, records, associations, owners, errors.

A store row becomes a record ``{"id", "properties", "createdAt", "updatedAt", "archived"}`` whose
properties are all strings. ``hs_object_id``, ``createdate`` and the last-modified property are not in
the stored JSON: they come from the row's columns, as HubSpot derives them from the object itself; so do a
seeded deal's ``hs_date_entered_{stage}`` (:mod:`crmgraph.demo.crm_stage_history`).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from crmgraph.demo import crm_stage_history
from crmgraph.demo.instruments import json_response


@dataclass(frozen=True)
class ObjectType:
    """One HubSpot object type as the v3 objects API names and describes it."""

    name: str  # the plural path segment, and the store's object_type
    type_id: str  # HubSpot's objectTypeId, accepted in paths in place of the name
    singular: str
    last_modified: str
    defaults: tuple[str, ...]  # the properties answered when a request names none
    searchable: tuple[str, ...]  # the properties a search's free-text ``query`` looks in

    @property
    def label(self) -> str:
        """The upper-case name HubSpot puts in messages: ``COMPANY``."""
        return self.singular.upper()


def _engagement(name: str, type_id: str, singular: str, title: str, body: str) -> ObjectType:
    searchable = tuple(dict.fromkeys((title, body)))  # a note's title is its body
    return ObjectType(name, type_id, singular, "hs_lastmodifieddate", (title, "hs_timestamp"), searchable)


OBJECT_TYPES: dict[str, ObjectType] = {
    object_type.name: object_type
    for object_type in (
        ObjectType(
            "companies", "0-2", "company", "hs_lastmodifieddate", ("name", "domain"),
            ("name", "domain", "website", "phone"),
        ),
        ObjectType(
            "contacts", "0-1", "contact", "lastmodifieddate", ("firstname", "lastname", "email"),
            ("firstname", "lastname", "email", "phone", "mobilephone", "company"),
        ),
        ObjectType(
            "deals", "0-3", "deal", "hs_lastmodifieddate",
            ("dealname", "amount", "closedate", "pipeline", "dealstage"),
            ("dealname", "pipeline", "dealstage"),
        ),
        _engagement("calls", "0-48", "call", "hs_call_title", "hs_call_body"),
        _engagement("emails", "0-49", "email", "hs_email_subject", "hs_email_text"),
        _engagement("meetings", "0-47", "meeting", "hs_meeting_title", "hs_meeting_body"),
        _engagement("notes", "0-46", "note", "hs_note_body", "hs_note_body"),
    )
}  # fmt: skip

# HubSpot accepts the plural name, the singular name and the objectTypeId in a path.
_OBJECT_TYPE_ALIASES: dict[str, ObjectType] = {
    alias: object_type
    for object_type in OBJECT_TYPES.values()
    for alias in (object_type.name, object_type.singular, object_type.type_id)
}


class CrmError(Exception):
    """An answer other than 2xx, raised anywhere below a route and rendered by :func:`error_response`."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        extra: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {category}: {message}")
        self.status = status
        self.category = category
        self.message = message
        self.extra = extra or {}
        self.headers = headers

    def body(self) -> dict[str, object]:
        # Every HubSpot error carries a fresh correlationId, the handle its support asks for.
        return {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
            **self.extra,
        }


def validation_error(message: str) -> CrmError:
    return CrmError(400, "VALIDATION_ERROR", message)


def object_not_found(message: str) -> CrmError:
    return CrmError(404, "OBJECT_NOT_FOUND", message)


async def error_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CrmError)
    return json_response(exc.body(), exc.status, exc.headers)


async def http_error_response(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 (no such route) and 405, in HubSpot's error shape."""
    assert isinstance(exc, HTTPException)
    category = "OBJECT_NOT_FOUND" if exc.status_code == 404 else "VALIDATION_ERROR"
    error = CrmError(exc.status_code, category, f"{exc.detail}: {request.method} {request.url.path}")
    headers = dict(exc.headers) if exc.headers else None
    return json_response(error.body(), exc.status_code, headers)


def objects_not_found(object_type: ObjectType, ids: list[str]) -> dict[str, object]:
    """The error a batch read reports, once for all the ids it could not find."""
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": (
            f"Could not get some {object_type.label} objects, they may be deleted or not exist. "
            "Check that ids are valid."
        ),
        "context": {"ids": ids},
    }


def no_associations(from_type: ObjectType, to_type: ObjectType, from_id: str) -> dict[str, object]:
    """The error an associations batch read reports for one input without associations."""
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
        "message": f"No {to_type.singular} is associated with {from_type.singular} {from_id}.",
        "context": {"fromObjectId": [from_id]},
    }


# HubSpot-defined association types that have a primary and a plain ("unlabeled") variant: contact and
# company (1 and 279, back 2 and 280), deal and company (5 and 341, back 6 and 342). A record's own answer
# names the primary one ``contact_to_company`` and the plain one ``contact_to_company_unlabeled``.
UNLABELED_TYPE_IDS = frozenset({279, 280, 341, 342})


def association_label(from_type: ObjectType, to_type: ObjectType, type_id: int) -> str:
    """The ``type`` of one associated id in a record's ``associations`` (v3), by its association type id."""
    label = f"{from_type.singular}_to_{to_type.singular}"
    return f"{label}_unlabeled" if type_id in UNLABELED_TYPE_IDS else label


def association_result(from_id: str, targets: dict[int, list[int]], after: str | None) -> dict[str, object]:
    """One input's answer: each associated id with its association types, and a cursor to the rest."""
    result: dict[str, object] = {
        "from": {"id": from_id},
        "to": [
            {
                "toObjectId": to_id,
                "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None} for type_id in type_ids
                ],
            }
            for to_id, type_ids in targets.items()
        ],
    }
    if after is not None:
        result["paging"] = {"next": {"after": after}}
    return result


def resolve_object_type(raw: str) -> ObjectType:
    object_type = _OBJECT_TYPE_ALIASES.get(raw.lower())
    if object_type is None:
        known = ", ".join(f"{t.name} ({t.type_id})" for t in OBJECT_TYPES.values())
        raise validation_error(f"Unable to infer object type from: {raw}. This CRM serves {known}.")
    return object_type


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _as_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def property_view(row: sqlite3.Row, object_type: ObjectType, *, with_stages: bool = True) -> dict[str, str]:
    """Every property of a stored object that has a value, the derived ones included (a deal's stage dates
    only ``with_stages``: a search that neither filters nor sorts on them skips deriving them per row)."""
    stored: dict[str, object] = orjson.loads(row["properties"])
    props = {name: _as_string(value) for name, value in stored.items() if value is not None}
    props["hs_object_id"] = str(row["id"])
    props["createdate"] = row["created_at"]
    props[object_type.last_modified] = row["updated_at"]
    if with_stages and object_type.name == "deals":  # HubSpot's calculated hs_date_entered_{stage}
        props.update(crm_stage_history.stage_dates(row["id"], stored, row["created_at"], row["updated_at"]))
    return props


def record_json(
    row: sqlite3.Row,
    object_type: ObjectType,
    requested: Sequence[str],
    props: dict[str, str] | None = None,
) -> dict[str, object]:
    """The record as HubSpot answers it: the requested properties (or the defaults), null when unset."""
    if props is None:
        props = property_view(row, object_type, with_stages=any(map(crm_stage_history.is_stage_date, requested)))
    names = [*(requested or object_type.defaults), "hs_object_id", "createdate", object_type.last_modified]
    record: dict[str, object] = {
        "id": str(row["id"]),
        "properties": {name: props.get(name) for name in names},
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "archived": bool(row["archived"]),
    }
    if row["archived"]:
        # The store keeps no separate archive time; archiving is the object's last change.
        record["archivedAt"] = row["updated_at"]
    return record


# A HubSpot owner is also a user with an id of its own; the store keeps none, so it is derived.
USER_ID_OFFSET = 9_000_000


def owner_json(row: sqlite3.Row) -> dict[str, object]:
    return {
        "id": str(row["id"]),
        "email": row["email"],
        "type": "PERSON",
        "firstName": row["first_name"],
        "lastName": row["last_name"],
        "userId": USER_ID_OFFSET + row["id"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "archived": False,
    }
