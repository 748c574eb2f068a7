"""The simulated CRM's association writes, in HubSpot's CRM v4 associations shapes, and the webhooks they cause.

- ``PUT    /crm/v4/objects/{from}/{fromId}/associations/default/{to}/{toId}``  the default (unlabeled) type;
- ``PUT    /crm/v4/objects/{from}/{fromId}/associations/{to}/{toId}``          body: the types, 201;
- ``POST   /crm/v4/associations/{from}/{to}/batch/create``                      many at once, 201;
- ``DELETE /crm/v4/objects/{from}/{fromId}/associations/{to}/{toId}``         every type between the two, 204.

Each direction is stored with its own type id, as HubSpot reports them; a change raises
``{type}.associationChange`` events.
"""

from __future__ import annotations

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from crmgraph.demo.crm_changes import CrmStore, parse_body, parse_object_id
from crmgraph.demo.crm_records import ObjectType, now_iso, object_not_found, resolve_object_type, validation_error
from crmgraph.demo.crm_write_rules import (
    AssociationBatchCreate,
    AssociationSpec,
    association_types,
    default_association,
    primary_pair,
)
from crmgraph.demo.instruments import json_response, note_write
from crmgraph.demo.webhooks import Event


class _Specs(BaseModel):
    specs: list[AssociationSpec]


class CrmAssociationWrites:
    def __init__(self, store: CrmStore) -> None:
        self.store = store
        self.conn = store.conn

    def _pair(self, request: Request) -> tuple[ObjectType, int, ObjectType, int]:
        params = request.path_params
        from_type = resolve_object_type(params["fromObjectType"])
        to_type = resolve_object_type(params["toObjectType"])
        from_id = parse_object_id(params["fromObjectId"])
        if self.store.row(from_type, from_id) is None:
            raise object_not_found(f"No {from_type.singular} has id {from_id}.")
        return from_type, from_id, to_type, parse_object_id(params["toObjectId"])

    def _write_associations(
        self, from_type: ObjectType, from_id: int, to_type: ObjectType, to_id: int, type_ids: list[int]
    ) -> list[Event]:
        events: list[Event] = []
        for type_id in type_ids:
            if self.store.associate(from_type, from_id, to_type, to_id, type_id):
                events += self.store.association_events(
                    from_type, from_id, to_type, to_id, False, primary_pair(type_id)
                )
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
        self.store.hub.publish(events)
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
        specs = parse_body(b'{"specs": ' + (await request.body() or b"null") + b"}", _Specs)
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
        self.store.hub.publish(events)
        return json_response(self._labels_result(from_type, from_id, to_type, to_id), 201)

    async def associate_batch(self, request: Request) -> Response:
        started = now_iso()
        from_type = resolve_object_type(request.path_params["fromObjectType"])
        to_type = resolve_object_type(request.path_params["toObjectType"])
        body = parse_body(await request.body(), AssociationBatchCreate)
        assert isinstance(body, AssociationBatchCreate)
        events: list[Event] = []
        results = []
        with self.conn:
            for item in body.inputs:
                from_id, to_id = parse_object_id(item.from_.id), parse_object_id(item.to.id)
                if self.store.row(from_type, from_id) is None:
                    raise object_not_found(f"No {from_type.singular} has id {from_id}.")
                for spec in item.types:
                    if spec.associationCategory != "HUBSPOT_DEFINED":
                        raise validation_error("Only HUBSPOT_DEFINED association types exist in this CRM")
                type_ids = [spec.associationTypeId for spec in item.types]
                events += self._write_associations(from_type, from_id, to_type, to_id, type_ids)
                results.append(self._labels_result(from_type, from_id, to_type, to_id))
        note_write(request.scope, len(results))
        self.store.hub.publish(events)
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
            self.store.hub.publish(self.store.association_events(from_type, from_id, to_type, to_id, True, False))
        return Response(status_code=204)
