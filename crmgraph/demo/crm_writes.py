"""The simulated CRM's writes, in HubSpot's CRM v3 objects and v4 associations shapes, and the webhooks they cause.

- ``POST  /crm/v3/objects/{objectType}``                 create one object (201), with ``associations``;
- ``PATCH /crm/v3/objects/{objectType}/{objectId}``      update one (200), ``?idProperty=`` as for reads;
  the demo's ``X-Crmgraph-If-Updated-At: <updatedAt>`` refuses it with 409 CONFLICT if the object changed since;
- ``POST  /crm/v3/objects/{objectType}/batch/create``    up to 100 (201);
- ``POST  /crm/v3/objects/{objectType}/batch/update``    up to 100 (200; 207 naming unknown ids);
- ``PUT   /crm/v4/objects/{from}/{fromId}/associations/default/{to}/{toId}``  the default association;
- ``PUT   /crm/v4/objects/{from}/{fromId}/associations/{to}/{toId}``          labelled, body: the types;
- ``POST  /crm/v4/associations/{from}/{to}/batch/create``                      many at once;
- ``DELETE /crm/v4/objects/{from}/{fromId}/associations/{to}/{toId}``         every type between the two.

A batch is one transaction: a property HubSpot would refuse (400 VALIDATION_ERROR), an e-mail another contact
holds (409 CONFLICT) or a failed precondition (409 CONFLICT) writes nothing. Each committed change becomes
webhook events (``contact.creation``, ``deal.propertyChange`` per property, ``company.associationChange``).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from collections.abc import Sequence

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

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
from crmgraph.demo.crm_write_rules import (
    IF_UPDATED_AT,
    AssociationBatchCreate,
    AssociationSpec,
    BatchCreate,
    BatchUpdate,
    CreateInput,
    PropertyValue,
    UpdateInput,
    as_string,
    association_types,
    default_association,
    next_stamp,
    primary_pair,
    same_stamp,
)
from crmgraph.demo.instruments import json_response, note_write
from crmgraph.demo.webhooks import Event, WebhookHub

PORTAL_ID = 62515  # the demo account's HubSpot portal (hub) id, as webhook events carry it
APP_ID = 1160452


class _Specs(BaseModel):
    specs: list[AssociationSpec]


def _parse(raw: bytes, model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise validation_error(f"Invalid input JSON: {problems}") from None


def _object_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise object_not_found(f"No object has id {raw!r}.")
    return int(raw)


class CrmWrites:
    """The write handlers, over the API's own connection (requests run one at a time on the event loop)."""

    def __init__(self, conn: sqlite3.Connection, hub: WebhookHub) -> None:
        self.conn = conn
        self.hub = hub
        self._event_ids = itertools.count(int(time.time() * 1000) % 10**9 * 1000)

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

    def _row(self, object_type: ObjectType, object_id: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT * FROM objects WHERE object_type = ? AND id = ? AND archived = 0", (object_type.name, object_id)
        ).fetchone()
        return row

    def _find_ids(self, object_type: ObjectType, keys: Sequence[str], id_property: str | None) -> dict[str, int]:
        if id_property in (None, "hs_object_id"):
            found = {}
            for key in keys:
                if key.isascii() and key.isdigit() and len(key) <= 18 and self._row(object_type, int(key)):
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
        self.conn.execute(
            "INSERT INTO objects (object_type, id, properties, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (object_type.name, object_id, orjson.dumps(kept).decode(), stamp, stamp),
        )
        return object_id

    def _update(self, object_type: ObjectType, row: sqlite3.Row, values: dict[str, str]) -> dict[str, str]:
        """Apply ``values``; return the properties whose value changed (new values, "" for cleared)."""
        stored: dict[str, str] = orjson.loads(row["properties"])
        changed = {name: value for name, value in values.items() if stored.get(name, "") != value}
        for name, value in changed.items():
            if value == "":
                stored.pop(name, None)
            else:
                stored[name] = value
        self.conn.execute(
            "UPDATE objects SET properties = ?, updated_at = ? WHERE object_type = ? AND id = ?",
            (orjson.dumps(stored).decode(), next_stamp(row["updated_at"]), object_type.name, row["id"]),
        )
        return changed

    def _associate(self, from_type: ObjectType, from_id: int, to_type: ObjectType, to_id: int, type_id: int) -> bool:
        inverse = association_types(from_type.name, to_type.name).get(type_id)
        if inverse is None:
            known = ", ".join(str(t) for t in association_types(from_type.name, to_type.name)) or "none"
            raise validation_error(
                f"associationTypeId {type_id} does not link {from_type.name} to {to_type.name} (known: {known})"
            )
        if self._row(to_type, to_id) is None:
            raise object_not_found(f"No {to_type.singular} has id {to_id}.")
        pairs = [(type_id, inverse)]
        if primary_pair(type_id):  # HubSpot keeps the unlabeled association beside a primary one
            unlabeled = default_association(from_type.name, to_type.name)
            if unlabeled is not None:
                pairs.append((unlabeled, association_types(from_type.name, to_type.name)[unlabeled]))
        added = False
        for forward, backward in pairs:
            rows = [
                (from_type.name, from_id, to_type.name, to_id, forward),
                (to_type.name, to_id, from_type.name, from_id, backward),
            ]
            for row in rows:
                inserted = self.conn.execute("INSERT OR IGNORE INTO associations VALUES (?, ?, ?, ?, ?)", row)
                added |= inserted.rowcount > 0
        return added

    # --- events ------------------------------------------------------------------------------------------

    def _event(self, object_type: ObjectType, kind: str, object_id: int, **fields: object) -> Event:
        subscription_type = f"{object_type.singular}.{kind}"
        payload: dict[str, object] = {
            "eventId": next(self._event_ids),
            "portalId": PORTAL_ID,
            "appId": APP_ID,
            "occurredAt": int(time.time() * 1000),
            "subscriptionType": subscription_type,
            "objectId": object_id,
            "changeSource": "INTEGRATION",
            **fields,
        }
        return Event(subscription_type, payload)

    def _created_events(self, object_type: ObjectType, object_id: int) -> list[Event]:
        return [self._event(object_type, "creation", object_id, changeFlag="CREATED")]

    def _change_events(self, object_type: ObjectType, object_id: int, changed: dict[str, str]) -> list[Event]:
        return [
            self._event(object_type, "propertyChange", object_id, propertyName=name, propertyValue=value)
            for name, value in changed.items()
        ]

    def _association_events(
        self, from_type: ObjectType, from_id: int, to_type: ObjectType, to_id: int, removed: bool, primary: bool
    ) -> list[Event]:
        kind = f"{from_type.singular}_TO_{to_type.singular}".upper()
        return [
            self._event(
                from_type, "associationChange", from_id, associationType=kind, fromObjectId=from_id,
                toObjectId=to_id, associationRemoved=removed, isPrimaryAssociation=primary,
            )
        ]  # fmt: skip

    # --- objects -----------------------------------------------------------------------------------------

    def _create(self, object_type: ObjectType, item: CreateInput) -> tuple[int, list[Event]]:
        values = self._values(object_type, item.properties)
        object_id = self._insert(object_type, values)
        events = self._created_events(object_type, object_id)
        for association in item.associations:
            to_id = _object_id(association.to.id)
            for spec in association.types:
                to_type = self._association_target(object_type, spec)
                self._associate(object_type, object_id, to_type, to_id, spec.associationTypeId)
                events += self._association_events(
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
        row = self._row(object_type, object_id)
        assert row is not None
        return record_json(row, object_type, list(dict.fromkeys([*object_type.defaults, *names])))

    async def create(self, request: Request) -> Response:
        object_type = resolve_object_type(request.path_params["objectType"])
        item = _parse(await request.body(), CreateInput)
        assert isinstance(item, CreateInput)
        with self.conn:
            self._check_unique(object_type, [(None, {k: as_string(v) for k, v in item.properties.items()})])
            object_id, events = self._create(object_type, item)
        note_write(request.scope, 1)
        self.hub.publish(events)
        return json_response(self._answer(object_type, object_id, list(item.properties)), 201)

    async def batch_create(self, request: Request) -> Response:
        started = now_iso()
        object_type = resolve_object_type(request.path_params["objectType"])
        body = _parse(await request.body(), BatchCreate)
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
        self.hub.publish(events)
        results = [self._answer(object_type, object_id, names) for object_id, names in created]
        return json_response(
            {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": now_iso()}, 201
        )

    async def update(self, request: Request) -> Response:
        object_type = resolve_object_type(request.path_params["objectType"])
        key = request.path_params["objectId"]
        item = _parse(await request.body(), UpdateInput)
        assert isinstance(item, UpdateInput)
        id_property = request.query_params.get("idProperty")
        found = self._find_ids(object_type, [key], id_property)
        if key not in found:
            raise object_not_found(f"No {object_type.singular} has {id_property or 'id'} {key!r}.")
        row = self._row(object_type, found[key])
        assert row is not None
        values = self._values(object_type, item.properties)
        with self.conn:
            self._check_version(object_type, row, request.headers.get(IF_UPDATED_AT))
            self._check_unique(object_type, [(row["id"], values)])
            changed = self._update(object_type, row, values)
        note_write(request.scope, 1)
        self.hub.publish(self._change_events(object_type, row["id"], changed))
        return json_response(self._answer(object_type, row["id"], list(item.properties)))

    async def batch_update(self, request: Request) -> Response:
        started = now_iso()
        object_type = resolve_object_type(request.path_params["objectType"])
        body = _parse(await request.body(), BatchUpdate)
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
                row = self._row(object_type, found[item.id])
                assert row is not None
                updates.append((item, row, self._values(object_type, item.properties)))
        events: list[Event] = []
        with self.conn:
            for item, row, _ in updates:
                self._check_version(object_type, row, item.ifUpdatedAt)
            self._check_unique(object_type, [(row["id"], values) for _, row, values in updates])
            for _, row, values in updates:
                events += self._change_events(object_type, row["id"], self._update(object_type, row, values))
        if updates:
            note_write(request.scope, len(updates))
        self.hub.publish(events)
        results = [self._answer(object_type, row["id"], list(item.properties)) for item, row, _ in updates]
        payload: dict[str, object] = {"status": "COMPLETE", "results": results}
        missing = [key for key in keys if key not in found]
        if missing:
            payload |= {"numErrors": 1, "errors": [objects_not_found(object_type, missing)]}
        payload |= {"startedAt": started, "completedAt": now_iso()}
        return json_response(payload, 207 if missing else 200)

    # --- associations ------------------------------------------------------------------------------------

    def _pair(self, request: Request) -> tuple[ObjectType, int, ObjectType, int]:
        params = request.path_params
        from_type = resolve_object_type(params["fromObjectType"])
        to_type = resolve_object_type(params["toObjectType"])
        from_id = _object_id(params["fromObjectId"])
        if self._row(from_type, from_id) is None:
            raise object_not_found(f"No {from_type.singular} has id {from_id}.")
        return from_type, from_id, to_type, _object_id(params["toObjectId"])

    def _write_associations(
        self, from_type: ObjectType, from_id: int, to_type: ObjectType, to_id: int, type_ids: list[int]
    ) -> list[Event]:
        events: list[Event] = []
        for type_id in type_ids:
            if self._associate(from_type, from_id, to_type, to_id, type_id):
                events += self._association_events(from_type, from_id, to_type, to_id, False, primary_pair(type_id))
        return events

    def _labels_result(self, from_type: ObjectType, from_id: int, to_type: ObjectType, to_id: int) -> dict[str, object]:
        return {
            "fromObjectTypeId": from_type.type_id, "fromObjectId": from_id,
            "toObjectTypeId": to_type.type_id, "toObjectId": to_id, "labels": [],
        }  # fmt: skip

    async def associate_default(self, request: Request) -> Response:
        started = now_iso()
        from_type, from_id, to_type, to_id = self._pair(request)
        type_id = default_association(from_type.name, to_type.name)
        if type_id is None:
            raise validation_error(f"{from_type.name} cannot be associated with {to_type.name}")
        with self.conn:
            events = self._write_associations(from_type, from_id, to_type, to_id, [type_id])
        note_write(request.scope, 1)
        self.hub.publish(events)
        inverse = association_types(from_type.name, to_type.name)[type_id]
        results = [
            {"from": {"id": str(from_id)}, "to": {"id": str(to_id)},
             "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}},
            {"from": {"id": str(to_id)}, "to": {"id": str(from_id)},
             "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": inverse}},
        ]  # fmt: skip
        return json_response({"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": now_iso()})

    async def associate_labelled(self, request: Request) -> Response:
        from_type, from_id, to_type, to_id = self._pair(request)
        specs = _parse(b'{"specs": ' + (await request.body() or b"null") + b"}", _Specs)
        assert isinstance(specs, _Specs)
        if not specs.specs:
            raise validation_error("The body must list at least one association type")
        for spec in specs.specs:
            if spec.associationCategory != "HUBSPOT_DEFINED":
                raise validation_error("Only HUBSPOT_DEFINED association types exist in this CRM")
        with self.conn:
            events = self._write_associations(
                from_type, from_id, to_type, to_id, [spec.associationTypeId for spec in specs.specs]
            )
        note_write(request.scope, 1)
        self.hub.publish(events)
        return json_response(self._labels_result(from_type, from_id, to_type, to_id), 201)

    async def associate_batch(self, request: Request) -> Response:
        started = now_iso()
        from_type = resolve_object_type(request.path_params["fromObjectType"])
        to_type = resolve_object_type(request.path_params["toObjectType"])
        body = _parse(await request.body(), AssociationBatchCreate)
        assert isinstance(body, AssociationBatchCreate)
        events: list[Event] = []
        results = []
        with self.conn:
            for item in body.inputs:
                from_id, to_id = _object_id(item.from_.id), _object_id(item.to.id)
                if self._row(from_type, from_id) is None:
                    raise object_not_found(f"No {from_type.singular} has id {from_id}.")
                for spec in item.types:
                    if spec.associationCategory != "HUBSPOT_DEFINED":
                        raise validation_error("Only HUBSPOT_DEFINED association types exist in this CRM")
                type_ids = [spec.associationTypeId for spec in item.types]
                events += self._write_associations(from_type, from_id, to_type, to_id, type_ids)
                results.append(self._labels_result(from_type, from_id, to_type, to_id))
        note_write(request.scope, len(results))
        self.hub.publish(events)
        return json_response(
            {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": now_iso()}, 201
        )

    async def dissociate(self, request: Request) -> Response:
        from_type, from_id, to_type, to_id = self._pair(request)
        with self.conn:
            removed = self.conn.execute(
                "DELETE FROM associations"
                " WHERE (from_type, from_id, to_type, to_id) IN (VALUES (?, ?, ?, ?), (?, ?, ?, ?))",
                (from_type.name, from_id, to_type.name, to_id, to_type.name, to_id, from_type.name, from_id),
            ).rowcount
        if removed:
            note_write(request.scope, 1)
            self.hub.publish(self._association_events(from_type, from_id, to_type, to_id, True, False))
        return Response(status_code=204)
