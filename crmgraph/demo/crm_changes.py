"""What the simulated CRM's writes share: the store's rows and associations, and the webhook events of a change.

Events follow HubSpot's webhook payload: ``eventId``, ``portalId``, ``appId``, ``occurredAt`` (epoch ms),
``subscriptionType`` (``contact.creation``, ``deal.propertyChange``, ``company.associationChange``),
``objectId``, ``changeSource`` and the fields of the kind; the hub adds ``subscriptionId`` and
``attemptNumber`` per delivery.
"""

from __future__ import annotations

import itertools
import sqlite3
import time

from pydantic import BaseModel, ValidationError

from crmgraph.demo.crm_records import ObjectType, object_not_found, validation_error
from crmgraph.demo.crm_write_rules import association_types, default_association, primary_pair
from crmgraph.demo.webhooks import Event, WebhookHub

PORTAL_ID = 62515  # the demo account's HubSpot portal (hub) id, as webhook events carry it
APP_ID = 1160452


def parse_body(raw: bytes, model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise validation_error(f"Invalid input JSON: {problems}") from None


def parse_object_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise object_not_found(f"No object has id {raw!r}.")
    return int(raw)


class CrmStore:
    """The API's own connection (requests run one at a time on the event loop) and the hub its changes go to."""

    def __init__(self, conn: sqlite3.Connection, hub: WebhookHub) -> None:
        self.conn = conn
        self.hub = hub
        self._event_ids = itertools.count(int(time.time() * 1000) % 10**9 * 1000)

    def row(self, object_type: ObjectType, object_id: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT * FROM objects WHERE object_type = ? AND id = ? AND archived = 0", (object_type.name, object_id)
        ).fetchone()
        return row

    def associate(self, from_type: ObjectType, from_id: int, to_type: ObjectType, to_id: int, type_id: int) -> bool:
        inverse = association_types(from_type.name, to_type.name).get(type_id)
        if inverse is None:
            known = ", ".join(str(t) for t in association_types(from_type.name, to_type.name)) or "none"
            raise validation_error(
                f"associationTypeId {type_id} does not link {from_type.name} to {to_type.name} (known: {known})"
            )
        if self.row(to_type, to_id) is None:
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

    # --- events ---------------------------------------------------------------------------------------------

    def event(self, object_type: ObjectType, kind: str, object_id: int, **fields: object) -> Event:
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

    def created_events(self, object_type: ObjectType, object_id: int) -> list[Event]:
        return [self.event(object_type, "creation", object_id, changeFlag="CREATED")]

    def change_events(self, object_type: ObjectType, object_id: int, changed: dict[str, str]) -> list[Event]:
        return [
            self.event(object_type, "propertyChange", object_id, propertyName=name, propertyValue=value)
            for name, value in changed.items()
        ]

    def association_events(
        self, from_type: ObjectType, from_id: int, to_type: ObjectType, to_id: int, removed: bool, primary: bool
    ) -> list[Event]:
        kind = f"{from_type.singular}_TO_{to_type.singular}".upper()
        return [
            self.event(
                from_type, "associationChange", from_id, associationType=kind, fromObjectId=from_id,
                toObjectId=to_id, associationRemoved=removed, isPrimaryAssociation=primary,
            )
        ]  # fmt: skip
