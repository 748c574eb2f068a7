"""Webhook deliveries as canonical change events, and the id each delivery is de-duplicated by.

HubSpot sends a JSON array of events (``subscriptionType`` ``company.propertyChange``, ``objectId``,
``propertyName``, ``occurredAt`` in epoch ms, ``eventId``); Zendesk one event object (``type``
``zen:event-type:ticket.status_changed``, ``id``, ``time``, ``detail`` the ticket after the change);
Mautic an object of event lists by type (``{"mautic.lead_post_save_new": [{"contact": {...}, "timestamp": ...}],
"timestamp": ...}``). A payload that is not what its product sends is refused whole (:class:`BadPayload`),
never half-published.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crmgraph.events.change import ChangeEvent, ChangeKind, Entity

# HubSpot's object types as the graph's entities (engagements are interactions).
_HUBSPOT_ENTITIES = {
    "company": Entity.PARTY, "contact": Entity.PERSON, "deal": Entity.DEAL, "note": Entity.INTERACTION,
    "call": Entity.INTERACTION, "meeting": Entity.INTERACTION, "email": Entity.INTERACTION,
}  # fmt: skip
_HUBSPOT_KINDS = {
    "creation": ChangeKind.CREATED, "propertyChange": ChangeKind.UPDATED, "associationChange": ChangeKind.UPDATED,
    "deletion": ChangeKind.DELETED, "restore": ChangeKind.CREATED, "merge": ChangeKind.UPDATED,
}  # fmt: skip
# What a Zendesk ticket event changed, by its type's last part.
_ZENDESK_CHANGED = {
    "status_changed": "status", "priority_changed": "priority", "subject_changed": "subject",
    "type_changed": "type", "agent_assignment_changed": "assignee", "tags_changed": "tags",
    "comment_added": "comments",
}  # fmt: skip
MAX_EVENTS = 1000  # more than HubSpot's 100 a request: a body past it is not a real delivery


class BadPayload(ValueError):
    pass


def hubspot_events(source: str, body: Any) -> list[tuple[str, ChangeEvent]]:
    """(delivery id, event) for each event of a HubSpot delivery."""
    if not isinstance(body, list) or not 0 < len(body) <= MAX_EVENTS:
        raise BadPayload(f"expected a JSON array of 1 to {MAX_EVENTS} events")
    found: list[tuple[str, ChangeEvent]] = []
    for n, item in enumerate(body):
        if not isinstance(item, dict):
            raise BadPayload(f"[{n}]: expected an object")
        kind_of = str(item.get("subscriptionType", ""))
        object_type, _, action = kind_of.partition(".")
        entity, kind = _HUBSPOT_ENTITIES.get(object_type), _HUBSPOT_KINDS.get(action)
        object_id, event_id, occurred = item.get("objectId"), item.get("eventId"), item.get("occurredAt")
        if entity is None or kind is None:
            raise BadPayload(f"[{n}].subscriptionType: {kind_of[:60]!r} is not one crmgraph reads")
        if not isinstance(object_id, int | str) or not isinstance(event_id, int | str):
            raise BadPayload(f"[{n}]: objectId and eventId are required")
        if not isinstance(occurred, int):
            raise BadPayload(f"[{n}].occurredAt: expected epoch milliseconds")
        name = item.get("propertyName")
        event = ChangeEvent(
            system=source, entity=entity, record_id=str(object_id), kind=kind,
            changed=(str(name),) if isinstance(name, str) else (),
            parents=(("party", str(object_id)),) if entity is Entity.PARTY else (),
            occurred_at=datetime.fromtimestamp(occurred / 1000, UTC),
            id=f"{source}:hubspot:{event_id}",
        )  # fmt: skip
        found.append((str(event_id), event))
    return found


def zendesk_events(source: str, body: Any) -> list[tuple[str, ChangeEvent]]:
    """(delivery id, event) for a Zendesk ticket event."""
    if not isinstance(body, dict):
        raise BadPayload("expected one JSON object")
    kind_of, event_id, detail = str(body.get("type", "")), body.get("id"), body.get("detail")
    prefix = "zen:event-type:ticket."
    if not kind_of.startswith(prefix):
        raise BadPayload(f"type: {kind_of[:60]!r} is not a ticket event")
    if not isinstance(event_id, str) or not event_id or not isinstance(detail, dict) or not detail.get("id"):
        raise BadPayload("id and detail.id are required")
    action = kind_of.removeprefix(prefix)
    try:
        occurred = datetime.fromisoformat(str(body.get("time", "")).replace("Z", "+00:00"))
    except ValueError:
        raise BadPayload("time: expected an ISO 8601 time") from None
    parents = tuple((by, str(detail[key])) for by, key in (("party", "organization_id"), ("person", "requester_id"))
                    if detail.get(key))  # fmt: skip
    event = ChangeEvent(
        system=source, entity=Entity.TICKET, record_id=str(detail["id"]),
        kind=ChangeKind.CREATED if action == "created" else ChangeKind.UPDATED,
        changed=(_ZENDESK_CHANGED[action],) if action in _ZENDESK_CHANGED else (),
        parents=parents, occurred_at=occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC),
        id=f"{source}:zendesk:{event_id}",
    )  # fmt: skip
    return [(event_id, event)]


# Mautic's contact events as change kinds (a Mautic contact is the graph's lead, a person).
_MAUTIC_KINDS = {"mautic.lead_post_save_new": ChangeKind.CREATED, "mautic.lead_post_save_update": ChangeKind.UPDATED,
                 "mautic.lead_post_delete": ChangeKind.DELETED}  # fmt: skip


def mautic_events(source: str, body: Any) -> list[tuple[str, ChangeEvent]]:
    """(delivery id, event) for each contact event of a Mautic delivery. Mautic sends no event id: a
    contact's id, the event type and the event's timestamp make one (a retry carries the same)."""
    if not isinstance(body, dict):
        raise BadPayload("expected one JSON object of event lists by type")
    found: list[tuple[str, ChangeEvent]] = []
    for kind_of, items in body.items():
        if kind_of == "timestamp" or kind_of not in _MAUTIC_KINDS:
            continue  # other Mautic events (page hits, form submissions) are not changes the graph reads
        if not isinstance(items, list) or len(items) > MAX_EVENTS:
            raise BadPayload(f"{kind_of[:60]}: expected a list of at most {MAX_EVENTS} events")
        for n, item in enumerate(items):
            contact = item.get("contact") if isinstance(item, dict) else None
            key = "id"
            if not isinstance(contact, dict) or not isinstance(contact.get(key), int | str) or not contact.get(key):
                raise BadPayload(f"{kind_of[:60]}[{n}].contact.id is required")
            stamp = str(item.get("timestamp") or contact.get("dateModified") or "")
            try:
                occurred = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else datetime.now(UTC)
            except ValueError:
                raise BadPayload(f"{kind_of[:60]}[{n}].timestamp: expected an ISO 8601 time") from None
            company = contact.get("primaryCompany")
            parents = (("party", str(company["id"])),) if isinstance(company, dict) and company.get("id") else ()
            delivery = f"{kind_of}:{contact[key]}:{stamp}"
            event = ChangeEvent(
                system=source, entity=Entity.PERSON, record_id=str(contact[key]), kind=_MAUTIC_KINDS[kind_of],
                parents=parents, occurred_at=occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC),
                id=f"{source}:mautic:{delivery}"[:200],
            )  # fmt: skip
            found.append((delivery[:200], event))
    return found
