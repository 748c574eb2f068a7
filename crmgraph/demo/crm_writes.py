"""The simulated CRM's object writes, in HubSpot's CRM v3 objects shapes, and the webhooks they cause.

- ``POST  /crm/v3/objects/{objectType}``                 create one object (201), with ``associations``;
- ``PATCH /crm/v3/objects/{objectType}/{objectId}``      update one (200), ``?idProperty=`` as for reads;
  the demo's ``X-Crmgraph-If-Updated-At: <updatedAt>`` refuses it with 409 CONFLICT if the object changed since;
- ``POST  /crm/v3/objects/{objectType}/batch/create``    up to 100 (201);
- ``POST  /crm/v3/objects/{objectType}/batch/update``    up to 100 (200; 207 naming unknown ids).

Association writes are in :mod:`crmgraph.demo.crm_association_writes`, what both share in
:mod:`crmgraph.demo.crm_changes`.

A batch is one transaction: a property HubSpot would refuse (400 VALIDATION_ERROR), an e-mail another contact
holds (409 CONFLICT) or a failed precondition (409 CONFLICT) writes nothing. Each committed change becomes
webhook events (``contact.creation``, ``deal.propertyChange`` per property, ``company.associationChange``).
A write that sets a deal's ``dealstage`` stamps ``hs_date_entered_<stage>`` with the write's time, as HubSpot
does (:mod:`crmgraph.demo.crm_stage_history`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

import orjson
from starlette.requests import Request
from starlette.responses import Response

from crmgraph.demo.crm_changes import CrmStore, parse_body, parse_object_id
from crmgraph.demo.crm_properties import PROPERTIES, check_properties, problems_body
from crmgraph.demo.crm_records import (
    CrmError,
    ObjectType,
    now_iso,
    object_not_found,
    objects_not_found,
    record_json,
    resolve_object_type,
    validation_error,
)
from crmgraph.demo.crm_stage_history import PREFIX as STAGE_DATE_PREFIX
from crmgraph.demo.crm_stage_history import entered_on_write, settle_history
from crmgraph.demo.crm_write_rules import (
    IF_UPDATED_AT,
    AssociationSpec,
    BatchCreate,
    BatchUpdate,
    CreateInput,
    PropertyValue,
    UpdateInput,
    as_string,
    association_types,
    next_stamp,
    primary_pair,
    same_stamp,
)
from crmgraph.demo.instruments import json_response, note_write
from crmgraph.demo.webhooks import Event


class CrmObjectWrites:
    """Create and update handlers."""

    def __init__(self, store: CrmStore) -> None:
        self.store = store
        self.conn = store.conn

    # --- checks ------------------------------------------------------------------------------------------

    def _values(self, object_type: ObjectType, properties: dict[str, PropertyValue]) -> dict[str, str]:
        values = {name: as_string(value) for name, value in properties.items()}
        problems = check_properties(object_type.name, values)
        if problems:
            message, extra = problems_body(problems)
            raise CrmError(400, "VALIDATION_ERROR", message, extra=extra)
        return values

    def _check_unique(self, object_type: ObjectType, changes: list[tuple[int | None, dict[str, str]]]) -> None:
        """409 CONFLICT when a change gives a unique property (a contact's e-mail) a value another object holds."""
        unique = PROPERTIES[object_type.name].unique
        if unique is None:
            return
        claimed: dict[str, int | None] = {}
        for object_id, values in changes:
            value = values.get(unique, "").lower()
            if not value:
                continue
            if value in claimed:
                raise self._duplicate(object_type, unique, value, claimed[value])
            claimed[value] = object_id
        if not claimed:
            return
        rows = self.conn.execute(
            "SELECT id, lower(json_extract(properties, ?)) FROM objects WHERE object_type = ? AND archived = 0"
            " AND lower(json_extract(properties, ?)) IN (SELECT value FROM json_each(?))",
            (f"$.{unique}", object_type.name, f"$.{unique}", json.dumps(list(claimed))),
        )
        for holder, value in rows:
            if claimed[value] != holder:
                raise self._duplicate(object_type, unique, value, holder)

    @staticmethod
    def _duplicate(object_type: ObjectType, unique: str, value: str, holder: int | None) -> CrmError:
        existing = f" Existing ID: {holder}" if holder is not None else ""
        return CrmError(
            409,
            "CONFLICT",
            f"{object_type.singular.capitalize()} already exists.{existing}",
            extra={"errors": [{"message": f"{unique} {value!r} is already used", "code": "DUPLICATE_VALUE",
                               "context": {"propertyName": [unique]}}]},
        )  # fmt: skip

    def _check_version(self, object_type: ObjectType, row: sqlite3.Row, expected: str | None) -> None:
        if expected is None or same_stamp(expected, row["updated_at"]):
            return
        raise CrmError(
            409,
            "CONFLICT",
            f"{object_type.singular.capitalize()} {row['id']} was changed at {row['updated_at']}, after the version"
            f" this update names ({expected}); read it again and re-apply the change.",
            extra={"context": {"id": [str(row["id"])], "updatedAt": [row["updated_at"]]}},
        )

    # --- store -------------------------------------------------------------------------------------------

    def _find_ids(self, object_type: ObjectType, keys: Sequence[str], id_property: str | None) -> dict[str, int]:
        if id_property in (None, "hs_object_id"):
            found = {}
            for key in keys:
                if key.isascii() and key.isdigit() and len(key) <= 18 and self.store.row(object_type, int(key)):
                    found[key] = int(key)
            return found
        unique = PROPERTIES[object_type.name].unique
        if id_property != unique:
            raise validation_error(f"idProperty: {id_property!r} is not a unique property of {object_type.name}")
        rows = self.conn.execute(
            "SELECT id, lower(json_extract(properties, ?)) FROM objects WHERE object_type = ? AND archived = 0"
            " AND lower(json_extract(properties, ?)) IN (SELECT lower(value) FROM json_each(?))",
            (f"$.{unique}", object_type.name, f"$.{unique}", json.dumps(list(keys))),
        )
        by_value = {value: object_id for object_id, value in rows}
        return {key: by_value[key.lower()] for key in keys if key.lower() in by_value}

    def _insert(self, object_type: ObjectType, values: dict[str, str]) -> int:
        (last,) = self.conn.execute("SELECT max(id) FROM objects WHERE object_type = ?", (object_type.name,)).fetchone()
        object_id = (last or 0) + 1
        stamp = next_stamp(None)
        kept = {name: value for name, value in values.items() if value != ""}
        if object_type.name == "deals" and kept.get("dealstage"):
            kept[f"{STAGE_DATE_PREFIX}{kept['dealstage']}"] = stamp  # HubSpot stamps the stage a deal starts in
        self.conn.execute(
            "INSERT INTO objects (object_type, id, properties, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (object_type.name, object_id, orjson.dumps(kept).decode(), stamp, stamp),
        )
        return object_id

    def _update(self, object_type: ObjectType, row: sqlite3.Row, values: dict[str, str]) -> dict[str, str]:
        """Apply ``values``; return the properties whose value changed (new values, "" for cleared)."""
        stored: dict[str, object] = orjson.loads(row["properties"])
        changed = {name: value for name, value in values.items() if stored.get(name, "") != value}
        deal = object_type.name == "deals"
        if deal:  # every update moves updated_at, which a derived history goes by
            settle_history(row["id"], stored, row["created_at"], row["updated_at"])
        for name, value in changed.items():
            if value == "":
                stored.pop(name, None)
            else:
                stored[name] = value
        stamp = next_stamp(row["updated_at"])
        if deal and changed.get("dealstage"):
            entered_on_write(stored, stamp)
        self.conn.execute(
            "UPDATE objects SET properties = ?, updated_at = ? WHERE object_type = ? AND id = ?",
            (orjson.dumps(stored).decode(), stamp, object_type.name, row["id"]),
        )
        return changed

    # --- handlers ---------------------------------------------------------------------------------------

    def _create(self, object_type: ObjectType, item: CreateInput) -> tuple[int, list[Event]]:
        values = self._values(object_type, item.properties)
        object_id = self._insert(object_type, values)
        events = self.store.created_events(object_type, object_id)
        for association in item.associations:
            to_id = parse_object_id(association.to.id)
            for spec in association.types:
                to_type = self._association_target(object_type, spec)
                self.store.associate(object_type, object_id, to_type, to_id, spec.associationTypeId)
                events += self.store.association_events(
                    object_type, object_id, to_type, to_id, False, primary_pair(spec.associationTypeId)
                )
        return object_id, events

    @staticmethod
    def _association_target(object_type: ObjectType, spec: AssociationSpec) -> ObjectType:
        if spec.associationCategory != "HUBSPOT_DEFINED":
            raise validation_error("Only HUBSPOT_DEFINED association types exist in this CRM")
        for name in PROPERTIES:
            if spec.associationTypeId in association_types(object_type.name, name):
                return resolve_object_type(name)
        raise validation_error(f"associationTypeId {spec.associationTypeId} does not start at {object_type.name}")

    def _answer(self, object_type: ObjectType, object_id: int, names: Sequence[str]) -> dict[str, object]:
        row = self.store.row(object_type, object_id)
        assert row is not None
        return record_json(row, object_type, list(dict.fromkeys([*object_type.defaults, *names])))

    async def create(self, request: Request) -> Response:
        object_type = resolve_object_type(request.path_params["objectType"])
        item = parse_body(await request.body(), CreateInput)
        assert isinstance(item, CreateInput)
        with self.conn:
            self._check_unique(object_type, [(None, {k: as_string(v) for k, v in item.properties.items()})])
            object_id, events = self._create(object_type, item)
        note_write(request.scope, 1)
        self.store.hub.publish(events)
        return json_response(self._answer(object_type, object_id, list(item.properties)), 201)

    async def batch_create(self, request: Request) -> Response:
        started = now_iso()
        object_type = resolve_object_type(request.path_params["objectType"])
        body = parse_body(await request.body(), BatchCreate)
        assert isinstance(body, BatchCreate)
        events: list[Event] = []
        with self.conn:
            self._check_unique(
                object_type, [(None, {k: as_string(v) for k, v in item.properties.items()}) for item in body.inputs]
            )
            created = []
            for item in body.inputs:
                object_id, caused = self._create(object_type, item)
                created.append((object_id, list(item.properties)))
                events += caused
        note_write(request.scope, len(created))
        self.store.hub.publish(events)
        results = [self._answer(object_type, object_id, names) for object_id, names in created]
        return json_response(
            {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": now_iso()}, 201
        )

    async def update(self, request: Request) -> Response:
        object_type = resolve_object_type(request.path_params["objectType"])
        key = request.path_params["objectId"]
        item = parse_body(await request.body(), UpdateInput)
        assert isinstance(item, UpdateInput)
        id_property = request.query_params.get("idProperty")
        found = self._find_ids(object_type, [key], id_property)
        if key not in found:
            raise object_not_found(f"No {object_type.singular} has {id_property or 'id'} {key!r}.")
        row = self.store.row(object_type, found[key])
        assert row is not None
        values = self._values(object_type, item.properties)
        with self.conn:
            self._check_version(object_type, row, request.headers.get(IF_UPDATED_AT))
            self._check_unique(object_type, [(row["id"], values)])
            changed = self._update(object_type, row, values)
        note_write(request.scope, 1)
        self.store.hub.publish(self.store.change_events(object_type, row["id"], changed))
        return json_response(self._answer(object_type, row["id"], list(item.properties)))

    async def batch_update(self, request: Request) -> Response:
        started = now_iso()
        object_type = resolve_object_type(request.path_params["objectType"])
        body = parse_body(await request.body(), BatchUpdate)
        assert isinstance(body, BatchUpdate)
        keys = [item.id for item in body.inputs]
        if len(set(keys)) < len(keys):
            raise validation_error("Duplicate IDs found in batch input: each object may be updated once per batch")
        id_properties = {item.idProperty for item in body.inputs}
        if len(id_properties) > 1:
            raise validation_error("All inputs of a batch update must use the same idProperty")
        found = self._find_ids(object_type, keys, id_properties.pop())
        updates = []
        for item in body.inputs:
            if item.id in found:
                row = self.store.row(object_type, found[item.id])
                assert row is not None
                updates.append((item, row, self._values(object_type, item.properties)))
        events: list[Event] = []
        with self.conn:
            for item, row, _ in updates:
                self._check_version(object_type, row, item.ifUpdatedAt)
            self._check_unique(object_type, [(row["id"], values) for _, row, values in updates])
            for _, row, values in updates:
                events += self.store.change_events(object_type, row["id"], self._update(object_type, row, values))
        if updates:
            note_write(request.scope, len(updates))
        self.store.hub.publish(events)
        results = [self._answer(object_type, row["id"], list(item.properties)) for item, row, _ in updates]
        payload: dict[str, object] = {"status": "COMPLETE", "results": results}
        missing = [key for key in keys if key not in found]
        if missing:
            payload |= {"numErrors": 1, "errors": [objects_not_found(object_type, missing)]}
        payload |= {"startedAt": started, "completedAt": now_iso()}
        return json_response(payload, 207 if missing else 200)
