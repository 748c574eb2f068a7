"""The simulated CRM's HTTP API: a faithful subset of HubSpot's CRM v3 objects, v4 associations and owners.

Every route needs ``Authorization: Bearer <private app token>``. The reads:

- ``GET  /crm/v3/objects/{objectType}``: a page of records in id order, with a cursor to the next; with
  ``?associations=companies`` each record lists the ids associated with it, as its own GET does;
- ``GET  /crm/v3/objects/{objectType}/{objectId}``: one record, by id or by a unique ``idProperty``, with
  ``?associations=contacts,deals`` the ids associated with it (the first 100 of each type, each id once
  per association type: ``contact_to_company`` for the primary company, ``..._unlabeled`` for any);
- ``POST /crm/v3/objects/{objectType}/batch/read``: up to 100 records, 207 when some are unknown;
- ``POST /crm/v3/objects/{objectType}/search``: see :mod:`crmgraph.demo.crm_search`;
- ``POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read``: up to 1,000 inputs, 500
  associated ids each per answer (send the input again with its ``after`` for the rest);
- ``GET  /crm/v3/owners`` and ``GET /crm/v3/owners/{ownerId}``;
- ``GET  /crm/v3/pipelines/deals``: the deal pipelines and their stages in order (the demo has one, ``default``).

The writes are in :mod:`crmgraph.demo.crm_writes` (objects) and :mod:`crmgraph.demo.crm_association_writes`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crmgraph.demo.crm_association_writes import CrmAssociationWrites
from crmgraph.demo.crm_changes import CrmStore
from crmgraph.demo.crm_records import (
    USER_ID_OFFSET,
    CrmError,
    ObjectType,
    association_label,
    association_result,
    error_response,
    http_error_response,
    no_associations,
    now_iso,
    object_not_found,
    objects_not_found,
    owner_json,
    record_json,
    resolve_object_type,
    validation_error,
)
from crmgraph.demo.crm_search import SearchRequest, run_search
from crmgraph.demo.crm_stage_history import pipelines_json
from crmgraph.demo.crm_writes import CrmObjectWrites
from crmgraph.demo.instruments import json_response
from crmgraph.demo.stores.crm import connect
from crmgraph.demo.webhook_wires import HUBSPOT_WIRE
from crmgraph.demo.webhooks import WebhookHub

LIST_LIMIT = (10, 100)  # (default, maximum) of ?limit=
OWNERS_LIMIT = (100, 500)
MAX_BATCH_READ_INPUTS = 100
MAX_ASSOCIATION_INPUTS = 1_000
ASSOCIATIONS_PER_INPUT = 500
INLINE_ASSOCIATIONS = 100  # associated ids of one type in a record's own answer (?associations=)

Handler = Callable[[Request], Awaitable[Response]]
Model = TypeVar("Model", bound=BaseModel)

_ID = re.compile(r"[0-9]{1,18}")  # what fits an SQLite integer
_PROPERTY_NAME = re.compile(r"[A-Za-z0-9_]+")


class _Body(BaseModel):
    # HubSpot rejects unknown fields, which is how a client learns of a misspelt one.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class ObjectIdInput(_Body):
    id: str


class BatchReadRequest(_Body):
    inputs: list[ObjectIdInput] = Field(min_length=1, max_length=MAX_BATCH_READ_INPUTS)
    properties: list[str] = Field(default_factory=list)
    propertiesWithHistory: list[str] = Field(default_factory=list)  # accepted; the store keeps no history
    idProperty: str | None = None


class AssociationInput(_Body):
    id: str
    after: str | None = None


class AssociationBatchRequest(_Body):
    inputs: list[AssociationInput] = Field(min_length=1, max_length=MAX_ASSOCIATION_INPUTS)


def crm_error(status: int, retry_after: int | None) -> Response:
    """What HubSpot answers when it throttles a client (429) or fails (5xx); used for injected faults."""
    if status == 429:
        body = {
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": "SECONDLY",
        }
        return json_response(body, 429, {"Retry-After": str(retry_after or 1)})
    return json_response(CrmError(status, "INTERNAL_ERROR", "internal error").body(), status)


def _authenticated(token: str, handler: Handler) -> Handler:
    async def guarded(request: Request) -> Response:
        header = request.headers.get("authorization")
        if not header:
            raise CrmError(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found: send 'Authorization: Bearer <private app token>'.",
            )
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(), token.encode()):
            raise CrmError(401, "INVALID_AUTHENTICATION", "The access token is not valid: check the private app token.")
        return await handler(request)

    return guarded


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "(body)"
        problems.append(f"{field}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


async def _parse_body(request: Request, model: type[Model]) -> Model:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise validation_error(f"Invalid input JSON: {_describe(exc)}") from None


def _encode_cursor(next_id: int) -> str:
    return base64.urlsafe_b64encode(str(next_id).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, field: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if not _ID.fullmatch(decoded):
        raise validation_error(f"{field}: {cursor!r} is not a paging cursor this API gave out")
    return int(decoded)


def _limit(request: Request, default_and_maximum: tuple[int, int]) -> int:
    default, maximum = default_and_maximum
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise validation_error(f"limit: must be a whole number from 1 to {maximum}, got {raw!r}")
    return int(raw)


def _start(request: Request) -> int:
    after = request.query_params.get("after")
    return 0 if after is None else _decode_cursor(after, "after")


def _archived(request: Request) -> bool:
    raw = request.query_params.get("archived", "false").lower()
    if raw not in ("true", "false"):
        raise validation_error(f"archived: must be true or false, got {raw!r}")
    return raw == "true"


def _requested_properties(request: Request) -> list[str]:
    # Both ?properties=a,b and ?properties=a&properties=b are HubSpot's.
    names = (name.strip() for value in request.query_params.getlist("properties") for name in value.split(","))
    return list(dict.fromkeys(name for name in names if name))


def _requested_associations(request: Request) -> list[ObjectType]:
    """The object types named by ``?associations=``; HubSpot ignores a name it does not know."""
    names = (name.strip() for value in request.query_params.getlist("associations") for name in value.split(","))
    types: dict[str, ObjectType] = {}
    for name in names:
        try:
            object_type = resolve_object_type(name)
        except CrmError:
            continue
        types.setdefault(object_type.name, object_type)
    return list(types.values())


def _page(request: Request, results: list[dict[str, object]], next_id: int | None) -> dict[str, object]:
    body: dict[str, object] = {"results": results}
    if next_id is not None:
        after = _encode_cursor(next_id)
        body["paging"] = {"next": {"after": after, "link": str(request.url.include_query_params(after=after))}}
    return body


class CrmApi:
    """The read handlers, over the store's connection (requests run one at a time on the event loop)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _find(
        self, object_type: ObjectType, keys: list[str], id_property: str | None, archived: bool
    ) -> dict[str, sqlite3.Row]:
        """The objects whose id (or ``id_property``, case-insensitively) is one of ``keys``, by key."""
        if id_property in (None, "hs_object_id"):
            ids = {key: int(key) for key in keys if _ID.fullmatch(key)}
            rows = self.conn.execute(
                "SELECT * FROM objects WHERE object_type = ? AND archived = ?"
                " AND id IN (SELECT value FROM json_each(?))",
                (object_type.name, archived, json.dumps(list(ids.values()))),
            )
            by_id = {row["id"]: row for row in rows}
            return {key: by_id[object_id] for key, object_id in ids.items() if object_id in by_id}
        if not _PROPERTY_NAME.fullmatch(id_property):
            raise validation_error(f"idProperty: {id_property!r} is not a property name")
        path = f'$."{id_property}"'
        rows = self.conn.execute(
            "SELECT *, json_extract(properties, ?) AS lookup FROM objects"
            " WHERE object_type = ? AND archived = ?"
            " AND lower(json_extract(properties, ?)) IN (SELECT lower(value) FROM json_each(?)) ORDER BY id",
            (path, object_type.name, archived, path, json.dumps(keys)),
        )
        found: dict[str, sqlite3.Row] = {}
        for row in rows:
            found.setdefault(str(row["lookup"]).lower(), row)  # a value held twice answers with the oldest
        return {key: found[key.lower()] for key in keys if key.lower() in found}

    async def list_objects(self, request: Request) -> Response:
        object_type = resolve_object_type(request.path_params["objectType"])
        limit = _limit(request, LIST_LIMIT)
        rows = self.conn.execute(
            "SELECT * FROM objects WHERE object_type = ? AND archived = ? AND id >= ? ORDER BY id LIMIT ?",
            (object_type.name, _archived(request), _start(request), limit + 1),
        ).fetchall()
        properties = _requested_properties(request)
        page = rows[:limit]
        results = [record_json(row, object_type, properties) for row in page]
        to_types = _requested_associations(request)
        if to_types:
            listed = self._inline_associations(object_type, [str(row["id"]) for row in page], to_types)
            for result in results:
                if listed.get(str(result["id"])):
                    result["associations"] = listed[str(result["id"])]
        return json_response(_page(request, results, rows[limit]["id"] if len(rows) > limit else None))

    async def get_object(self, request: Request) -> Response:
        object_type = resolve_object_type(request.path_params["objectType"])
        key = request.path_params["objectId"]
        id_property = request.query_params.get("idProperty")
        row = self._find(object_type, [key], id_property, _archived(request)).get(key)
        if row is None:
            raise object_not_found(f"No {object_type.singular} has {id_property or 'id'} {key!r}.")
        body = record_json(row, object_type, _requested_properties(request))
        object_id = str(row["id"])
        associations = self._inline_associations(object_type, [object_id], _requested_associations(request))
        if associations.get(object_id):
            body["associations"] = associations[object_id]
        return json_response(body)

    def _inline_associations(
        self, object_type: ObjectType, object_ids: list[str], to_types: list[ObjectType]
    ) -> dict[str, dict[str, object]]:
        """``?associations=contacts,deals`` for each of ``object_ids``: each type's associated ids, the first
        page of them, each once per association type; a type with none is left out, as HubSpot does. The
        rest of a long list is read through the v4 API from ``after``. One store query per type."""
        found: dict[str, dict[str, object]] = {object_id: {} for object_id in object_ids}
        for to_type in to_types:
            for object_id, targets in self._association_targets(object_type, to_type, object_ids).items():
                to_ids = list(targets)
                listing: dict[str, object] = {
                    "results": [
                        {"id": str(to_id), "type": association_label(object_type, to_type, type_id)}
                        for to_id in to_ids[:INLINE_ASSOCIATIONS]
                        for type_id in targets[to_id]
                    ]
                }
                if len(to_ids) > INLINE_ASSOCIATIONS:
                    listing["paging"] = {"next": {"after": _encode_cursor(to_ids[INLINE_ASSOCIATIONS])}}
                found[object_id][to_type.name] = listing
        return found

    async def batch_read(self, request: Request) -> Response:
        started = now_iso()
        object_type = resolve_object_type(request.path_params["objectType"])
        body = await _parse_body(request, BatchReadRequest)
        keys = list(dict.fromkeys(item.id for item in body.inputs))
        found = self._find(object_type, keys, body.idProperty, _archived(request))
        rows = {row["id"]: row for row in found.values()}  # two keys may name one object
        results = [record_json(row, object_type, body.properties) for row in rows.values()]
        payload: dict[str, object] = {"status": "COMPLETE", "results": results}
        missing = [key for key in keys if key not in found]
        if missing:
            payload |= {"numErrors": 1, "errors": [objects_not_found(object_type, missing)]}
        payload |= {"startedAt": started, "completedAt": now_iso()}
        return json_response(payload, 207 if missing else 200)

    async def search(self, request: Request) -> Response:
        object_type = resolve_object_type(request.path_params["objectType"])
        body = await _parse_body(request, SearchRequest)
        rows = self.conn.execute(
            "SELECT * FROM objects WHERE object_type = ? AND archived = 0 ORDER BY id", (object_type.name,)
        )
        total, page = run_search(rows, object_type, body)
        results = [record_json(row, object_type, body.properties, props) for row, props in page]
        payload: dict[str, object] = {"total": total, "results": results}
        end = body.after + body.limit
        if end < total:
            # Past 10,000 HubSpot still offers the next page, and then refuses it: clients must cope.
            payload["paging"] = {"next": {"after": str(end)}}
        return json_response(payload)

    async def associations(self, request: Request) -> Response:
        started = now_iso()
        from_type = resolve_object_type(request.path_params["fromObjectType"])
        to_type = resolve_object_type(request.path_params["toObjectType"])
        body = await _parse_body(request, AssociationBatchRequest)
        starts = [
            None if item.after is None else _decode_cursor(item.after, f"inputs.{index}.after")
            for index, item in enumerate(body.inputs)
        ]
        ids = list(dict.fromkeys(item.id for item in body.inputs))
        targets = self._association_targets(from_type, to_type, ids)
        results: list[dict[str, object]] = []
        errors: list[dict[str, object]] = []
        for from_id, start in dict.fromkeys(zip((item.id for item in body.inputs), starts, strict=True)):
            if from_id not in targets:
                errors.append(no_associations(from_type, to_type, from_id))
                continue
            remaining = [to_id for to_id in targets[from_id] if start is None or to_id >= start]
            page = {to_id: targets[from_id][to_id] for to_id in remaining[:ASSOCIATIONS_PER_INPUT]}
            more = len(remaining) > ASSOCIATIONS_PER_INPUT
            after = _encode_cursor(remaining[ASSOCIATIONS_PER_INPUT]) if more else None
            results.append(association_result(from_id, page, after))
        payload: dict[str, object] = {"status": "COMPLETE", "results": results}
        if errors:
            payload |= {"numErrors": len(errors), "errors": errors}
        payload |= {"startedAt": started, "completedAt": now_iso()}
        return json_response(payload, 207 if errors else 200)

    def _association_targets(
        self, from_type: ObjectType, to_type: ObjectType, keys: list[str]
    ) -> dict[str, dict[int, list[int]]]:
        """For each key with associations: the associated ids in order, each with its type ids."""
        ids = {key: int(key) for key in keys if _ID.fullmatch(key)}
        # Archiving an object hides its associations, in both directions.
        rows = self.conn.execute(
            "SELECT a.from_id, a.to_id, a.type_id FROM associations AS a"
            " JOIN objects AS f ON f.object_type = a.from_type AND f.id = a.from_id AND f.archived = 0"
            " JOIN objects AS t ON t.object_type = a.to_type AND t.id = a.to_id AND t.archived = 0"
            " WHERE a.from_type = ? AND a.to_type = ? AND a.from_id IN (SELECT value FROM json_each(?))"
            " ORDER BY a.from_id, a.to_id, a.type_id",
            (from_type.name, to_type.name, json.dumps(list(ids.values()))),
        )
        by_id: defaultdict[int, defaultdict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for from_id, to_id, type_id in rows:
            by_id[from_id][to_id].append(type_id)
        return {key: by_id[object_id] for key, object_id in ids.items() if object_id in by_id}

    async def list_owners(self, request: Request) -> Response:
        limit = _limit(request, OWNERS_LIMIT)
        email = request.query_params.get("email")
        if _archived(request):
            return json_response({"results": []})  # the store holds active owners only
        rows = self.conn.execute(
            "SELECT * FROM owners WHERE id >= ? AND (? IS NULL OR lower(email) = lower(?)) ORDER BY id LIMIT ?",
            (_start(request), email, email, limit + 1),
        ).fetchall()
        results = [owner_json(row) for row in rows[:limit]]
        return json_response(_page(request, results, rows[limit]["id"] if len(rows) > limit else None))

    async def get_owner(self, request: Request) -> Response:
        key = request.path_params["ownerId"]
        id_property = request.query_params.get("idProperty", "id")
        if id_property not in ("id", "userId"):
            raise validation_error(f"idProperty: must be id or userId, got {id_property!r}")
        owner_id = int(key) if _ID.fullmatch(key) else None
        if owner_id is not None and id_property == "userId":
            owner_id -= USER_ID_OFFSET
        row = self.conn.execute("SELECT * FROM owners WHERE id = ?", (owner_id,)).fetchone()
        if row is None or _archived(request):
            raise object_not_found(f"No owner has {id_property} {key!r}.")
        return json_response(owner_json(row))


async def _deal_pipelines(request: Request) -> Response:
    return json_response(pipelines_json())


def build_crm_api(db_path: Path, token: str, webhooks: WebhookHub | None = None) -> Starlette:
    """The CRM's product API over the store at ``db_path``, accepting ``token`` as its private app token;
    changes are announced through ``webhooks`` (a hub of its own when none is given)."""
    api = CrmApi(connect(db_path))
    hub = webhooks or WebhookHub(HUBSPOT_WIRE)
    store = CrmStore(api.conn, hub)
    writes, links = CrmObjectWrites(store), CrmAssociationWrites(store)

    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, _authenticated(token, handler), methods=[method])

    objects = "/crm/v3/objects/{objectType}"
    associations = "/crm/v4/associations/{fromObjectType}/{toObjectType}"
    pair = "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations"
    write_routes = [
        route(objects, writes.create, "POST"),
        route(f"{objects}/batch/create", writes.batch_create, "POST"),
        route(f"{objects}/batch/update", writes.batch_update, "POST"),
        route(f"{objects}/{{objectId}}", writes.update, "PATCH"),
        route(f"{pair}/default/{{toObjectType}}/{{toObjectId}}", links.associate_default, "PUT"),
        route(f"{pair}/{{toObjectType}}/{{toObjectId}}", links.associate_labelled, "PUT"),
        route(f"{pair}/{{toObjectType}}/{{toObjectId}}", links.dissociate, "DELETE"),
        route(f"{associations}/batch/create", links.associate_batch, "POST"),
    ]
    app = Starlette(
        routes=[
            route(objects, api.list_objects, "GET"),
            route(f"{objects}/batch/read", api.batch_read, "POST"),
            route(f"{objects}/search", api.search, "POST"),
            route(f"{objects}/{{objectId}}", api.get_object, "GET"),
            route(f"{associations}/batch/read", api.associations, "POST"),
            route("/crm/v3/owners", api.list_owners, "GET"),
            route("/crm/v3/pipelines/deals", _deal_pipelines, "GET"),
            route("/crm/v3/owners/{ownerId}", api.get_owner, "GET"),
            *write_routes,
        ],
        exception_handlers={CrmError: error_response, HTTPException: http_error_response},
    )
    app.state.store = api.conn  # for whoever stops serving the app to close
    app.state.webhooks = hub
    app.state.write_routes = frozenset(f"{next(iter(r.methods or ()))} {r.path}" for r in write_routes)
    return app
