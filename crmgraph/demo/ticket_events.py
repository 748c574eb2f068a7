"""Zendesk's ticket webhook events, as the simulated ticket system sends them after a change.

Each event is one JSON object (Zendesk sends one per request): ``type`` (``zen:event-type:ticket.created``),
``account_id``, ``id`` (unique, for de-duplication), ``time``, ``zendesk_event_version``, ``subject``
(``zen:ticket:{id}``), ``detail`` (the ticket after the change, ids as strings) and ``event`` (what changed:
``current`` and ``previous``, or the comment added).
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime

import orjson

from crmgraph.demo.webhooks import Event

ACCOUNT_ID = 88_000_042  # the demo's Zendesk account id
EVENT_VERSION = "2022-11-06"


def _id(value: object) -> str | None:
    return None if value is None else str(value)


def ticket_detail(row: sqlite3.Row) -> dict[str, object]:
    return {
        "actor_id": None,
        "assignee_id": _id(row["assignee_id"]),
        "created_at": row["created_at"],
        "description": row["description"],
        "external_id": _id(row["external_id"]),
        "group_id": _id(row["group_id"]),
        "id": str(row["id"]),
        "is_public": True,
        "organization_id": _id(row["organization_id"]),
        "priority": (row["priority"] or "").upper() or None,
        "requester_id": _id(row["requester_id"]),
        "status": row["status"].upper(),
        "subject": row["subject"],
        "submitter_id": _id(row["submitter_id"]),
        "tags": orjson.loads(row["tags"] or "[]"),
        "type": (row["type"] or "").upper() or None,
        "updated_at": row["updated_at"],
        "via": {"channel": row["channel"]},
    }


def ticket_event(kind: str, row: sqlite3.Row, event: dict[str, object], actor_id: int | None) -> Event:
    detail = ticket_detail(row) | {"actor_id": _id(actor_id)}
    payload: dict[str, object] = {
        "type": f"zen:event-type:ticket.{kind}",
        "account_id": ACCOUNT_ID,
        "id": str(uuid.uuid4()),
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "zendesk_event_version": EVENT_VERSION,
        "subject": f"zen:ticket:{row['id']}",
        "detail": detail,
        "event": event,
    }
    return Event(str(payload["type"]), payload)


def change_events(before: sqlite3.Row, after: sqlite3.Row, actor_id: int | None) -> list[Event]:
    """One event per kind of change between two versions of a ticket, in Zendesk's event types."""
    events: list[Event] = []

    def changed(column: str) -> bool:
        return bool(before[column] != after[column])

    for column, kind in (("status", "status_changed"), ("priority", "priority_changed"),
                         ("subject", "subject_changed"), ("type", "type_changed")):  # fmt: skip
        if changed(column):
            # Zendesk writes enumerations upper-case in events (SOLVED), lower-case in the REST API (solved).
            upper = column != "subject"
            event = {
                "current": after[column].upper() if upper and after[column] else after[column],
                "previous": before[column].upper() if upper and before[column] else before[column],
            }
            events.append(ticket_event(kind, after, event, actor_id))
    if changed("assignee_id"):
        event = {"current": {"id": _id(after["assignee_id"])}, "previous": {"id": _id(before["assignee_id"])}}
        events.append(ticket_event("agent_assignment_changed", after, event, actor_id))
    if changed("tags"):
        old, new = orjson.loads(before["tags"]), orjson.loads(after["tags"])
        event = {"tags_added": [t for t in new if t not in old], "tags_removed": [t for t in old if t not in new]}
        events.append(ticket_event("tags_changed", after, event, actor_id))
    return events


def comment_event(ticket: sqlite3.Row, comment: sqlite3.Row, author: sqlite3.Row | None) -> Event:
    event: dict[str, object] = {
        "comment": {
            "id": str(comment["id"]),
            "body": comment["body"],
            "is_public": bool(comment["public"]),
            "author": {
                "id": str(comment["author_id"]),
                "is_staff": author is not None and author["role"] in ("agent", "admin"),
                "name": author["name"] if author is not None else None,
            },
        }
    }
    return ticket_event("comment_added", ticket, event, comment["author_id"])
