"""Zendesk's ticket metric sets, computed from the ticket store.

Served as Zendesk documents them:

- ``GET /api/v2/ticket_metrics``: every ticket's metric set, cursor-paged like the other lists
  (``{"ticket_metrics": [...], "meta", "links"}``), in ticket id order;
- ``GET /api/v2/ticket_metrics/{id}`` and ``GET /api/v2/tickets/{ticket_id}/metrics``: one
  (``{"ticket_metric": {...}}``);
- ``include=metric_sets`` on the incremental ticket export and on ``tickets/show_many``: the page's metric
  sets beside its tickets (``"metric_sets": [...]``).

A metric set's ``id`` is its ticket's id (the demo keeps no metric set rows). How each field is derived:

- ``reply_time_in_minutes``: whole minutes (rounded down) from the ticket's creation to its first public
  comment by an agent or admin made after the creation (the ticket's own first comment is not a reply);
  ``null`` before any. ``replies``: how many such comments there are.
- ``solved_at``: the moment a write solved the ticket, which the demo persists (table ``ticket_solves``:
  a write that sets ``solved`` records its stamp; a write to a seeded solved ticket first records the solve
  the seed implies). A seeded ticket that is solved or closed was solved at its last update, as the seed
  writes it: its ``updated_at``. ``null`` for a ticket never solved.
- ``full_resolution_time_in_minutes`` and ``first_resolution_time_in_minutes``: whole minutes from creation
  to ``solved_at`` (the demo knows one solve, so both are the same).
- ``business`` values equal ``calendar`` ones: the demo account has no business-hours schedule.
- ``reopens`` 0; ``group_stations`` / ``assignee_stations`` 1 with a group / an assignee, else 0;
  ``assigned_at`` / ``initially_assigned_at`` the creation when there is an assignee; the wait and on-hold
  times ``null`` (the demo keeps no status history).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from crmgraph.demo.ticket_records import Record, record_url

SOLVED = ("solved", "closed")
SCHEMA = "CREATE TABLE IF NOT EXISTS ticket_solves (ticket_id INTEGER PRIMARY KEY, solved_at TEXT NOT NULL);"


def _moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _minutes(start: str, end: str | None) -> int | None:
    if end is None:
        return None
    return max(0, int((_moment(end) - _moment(start)).total_seconds() // 60))


def _both(minutes: int | None) -> dict[str, int | None]:
    return {"calendar": minutes, "business": minutes}


def _unknown() -> dict[str, None]:
    return {"calendar": None, "business": None}


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def record_solve(conn: sqlite3.Connection, before: sqlite3.Row, status: str | None, stamp: str) -> None:
    """Within an update of ``before``: keep the solve a seeded solved ticket implies, and record a new solve
    at ``stamp`` when the update sets ``solved`` on a ticket that was not."""
    if before["status"] in SOLVED:
        # The solve the seed implies (its last update), before this write moves updated_at.
        conn.execute("INSERT OR IGNORE INTO ticket_solves VALUES (?, ?)", (before["id"], before["updated_at"]))
    elif status == "solved":
        conn.execute("INSERT OR REPLACE INTO ticket_solves VALUES (?, ?)", (before["id"], stamp))


def record_created_solved(conn: sqlite3.Connection, ticket_id: int, status: str, stamp: str) -> None:
    if status in SOLVED:
        conn.execute("INSERT OR REPLACE INTO ticket_solves VALUES (?, ?)", (ticket_id, stamp))


def metric_sets(conn: sqlite3.Connection, tickets: Sequence[sqlite3.Row], base: str) -> list[Record]:
    """The metric sets of ``tickets`` (store rows), in their order: two statements whatever their number."""
    if not tickets:
        return []
    ids = [ticket["id"] for ticket in tickets]
    marks = ", ".join("?" * len(ids))
    replies: dict[int, list[str]] = {}
    latest: dict[int, str] = {}
    rows = conn.execute(
        "SELECT c.ticket_id, c.created_at, c.public, u.role FROM comments AS c LEFT JOIN users AS u"
        f" ON u.id = c.author_id WHERE c.ticket_id IN ({marks}) ORDER BY c.ticket_id, c.created_at, c.id",
        ids,
    )
    created = {ticket["id"]: ticket["created_at"] for ticket in tickets}
    for ticket_id, at, public, role in rows:
        latest[ticket_id] = at
        if public and role in ("agent", "admin") and _moment(at) > _moment(created[ticket_id]):
            replies.setdefault(ticket_id, []).append(at)
    solves = dict(conn.execute(f"SELECT ticket_id, solved_at FROM ticket_solves WHERE ticket_id IN ({marks})", ids))
    return [
        _metric_set(ticket, replies.get(ticket["id"], []), latest.get(ticket["id"]), solves, base) for ticket in tickets
    ]


def _metric_set(
    ticket: sqlite3.Row, replies: list[str], latest_comment: str | None, solves: dict[int, str], base: str
) -> Record:
    created = ticket["created_at"]
    solved_at = solves.get(ticket["id"]) or (ticket["updated_at"] if ticket["status"] in SOLVED else None)
    resolution = _minutes(created, solved_at)
    assigned = created if ticket["assignee_id"] is not None else None
    return {
        "id": ticket["id"],
        "url": record_url(base, "ticket_metrics", ticket["id"]),
        "ticket_id": ticket["id"],
        "created_at": created,
        "updated_at": ticket["updated_at"],
        "group_stations": 1 if ticket["group_id"] is not None else 0,
        "assignee_stations": 1 if ticket["assignee_id"] is not None else 0,
        "reopens": 0,
        "replies": len(replies),
        "assignee_updated_at": None,
        "requester_updated_at": None,
        "status_updated_at": ticket["updated_at"],
        "initially_assigned_at": assigned,
        "assigned_at": assigned,
        "solved_at": solved_at,
        "latest_comment_added_at": latest_comment,
        "reply_time_in_minutes": _both(_minutes(created, replies[0] if replies else None)),
        "first_resolution_time_in_minutes": _both(resolution),
        "full_resolution_time_in_minutes": _both(resolution),
        "agent_wait_time_in_minutes": _unknown(),
        "requester_wait_time_in_minutes": _unknown(),
        "on_hold_time_in_minutes": _unknown(),
    }
