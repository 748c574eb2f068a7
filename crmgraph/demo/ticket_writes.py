"""The simulated ticket system's writes, in Zendesk Support v2's shapes, and the webhooks they cause.

- ``POST /api/v2/tickets(.json)``       ``{"ticket": {...}}`` with a first ``comment``; 201 ``{"ticket", "audit"}``;
  the requester by ``requester_id`` or ``requester: {name, email}`` (found by e-mail, else created; neither:
  the API user, as in Zendesk);
- ``PUT  /api/v2/tickets/{id}(.json)``  ``{"ticket": {...}}``: status, priority, type, subject, assignee_id,
  group_id, tags, external_id, due_at, and a ``comment`` (``public: false`` for an internal note); with
  ``safe_update: true`` and ``updated_stamp`` (the ``updated_at`` the client read) a ticket changed since is
  refused with 409 ``UpdateConflict`` instead of overwritten.

Refused values are Zendesk's 422 ``RecordInvalid`` with ``details`` by field. Fields Zendesk does not know are
ignored, as Zendesk ignores them. Every change sets ``updated_at`` to a second after the last one at least, so
the change shows in the incremental export and a ``updated_stamp`` read before it never matches after it.
A write that solves a ticket records when (the metric set's ``solved_at``: :mod:`crmgraph.demo.ticket_metrics`).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from crmgraph.demo.instruments import json_response, note_write
from crmgraph.demo.ticket_errors import ApiError, not_found, record_invalid
from crmgraph.demo.ticket_events import change_events, comment_event, ticket_event
from crmgraph.demo.ticket_metrics import record_created_solved, record_solve
from crmgraph.demo.ticket_records import ticket_record
from crmgraph.demo.webhooks import Event, WebhookHub

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("urgent", "high", "normal", "low")
TYPES = ("problem", "incident", "question", "task")
STAMP = "%Y-%m-%dT%H:%M:%SZ"


class _Lenient(BaseModel):
    # Zendesk ignores what it does not know in a ticket body.
    model_config = ConfigDict(extra="ignore")


class CommentInput(_Lenient):
    body: str | None = None
    html_body: str | None = None
    public: bool = True
    author_id: int | None = None


class RequesterInput(_Lenient):
    name: str | None = None
    email: str


class TicketInput(_Lenient):
    subject: str | None = None
    comment: CommentInput | None = None
    requester_id: int | None = None
    requester: RequesterInput | None = None
    submitter_id: int | None = None
    assignee_id: int | None = None
    organization_id: int | None = None
    group_id: int | None = None
    status: str | None = None
    priority: str | None = None
    type: str | None = None
    tags: list[str] | None = None
    external_id: str | None = None
    due_at: str | None = None
    safe_update: bool = False
    updated_stamp: str | None = None


class TicketBody(_Lenient):
    ticket: TicketInput


def update_conflict() -> ApiError:
    return ApiError(
        409,
        "UpdateConflict",
        "Safe Update prevented the update due to outdated ticket data. "
        "Please fetch the latest ticket data and try again.",
    )


def next_stamp(previous: str | None) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    if previous is not None:
        now = max(now, datetime.strptime(previous, STAMP).replace(tzinfo=UTC) + timedelta(seconds=1))
    return now.strftime(STAMP)


async def _body(request: Request) -> TicketInput:
    try:
        return TicketBody.model_validate_json(await request.body()).ticket
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise ApiError(400, "InvalidValue", f'The request body must be {{"ticket": {{...}}}}: {problems}') from None


class TicketWrites:
    def __init__(self, conn: sqlite3.Connection, hub: WebhookHub, api_email: str) -> None:
        self.conn = conn
        self.hub = hub
        self.api_email = api_email

    def _user(self, user_id: int | None) -> sqlite3.Row | None:
        if user_id is None:
            return None
        row: sqlite3.Row | None = self.conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return row

    def _ticket(self, ticket_id: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return row

    def _api_user(self) -> int:
        """Who writes a comment that names no author: the API token's user, else the first agent."""
        row = self.conn.execute(
            "SELECT id FROM users WHERE email = ? COLLATE NOCASE OR role IN ('agent', 'admin')"
            " ORDER BY email = ? COLLATE NOCASE DESC, id LIMIT 1",
            (self.api_email, self.api_email),
        ).fetchone()
        return int(row[0])

    def _check(self, item: TicketInput, details: dict[str, list[str]]) -> None:
        """The checks creates and updates share; problems go to ``details`` by field."""
        enumerations = (
            ("status", item.status, STATUSES),
            ("priority", item.priority, PRIORITIES),
            ("type", item.type, TYPES),
        )
        for field, value, allowed in enumerations:
            if value is not None and value not in allowed:
                problem = f"{field.capitalize()}: {value!r} is not one of {', '.join(allowed)}"
                details.setdefault(field, []).append(problem)
        if item.assignee_id is not None:
            assignee = self._user(item.assignee_id)
            if assignee is None or assignee["role"] not in ("agent", "admin"):
                details.setdefault("assignee", []).append(f"Assignee: {item.assignee_id} is not an agent")
        if item.comment is not None:
            if not (item.comment.body or item.comment.html_body or "").strip():
                details.setdefault("comment", []).append("Comment: body cannot be blank")
            if item.comment.author_id is not None and self._user(item.comment.author_id) is None:
                details.setdefault("comment", []).append(f"Comment: author {item.comment.author_id} does not exist")
        if (
            item.organization_id is not None
            and self.conn.execute("SELECT 1 FROM organizations WHERE id = ?", (item.organization_id,)).fetchone()
            is None
        ):
            details.setdefault("organization", []).append(f"Organization: {item.organization_id} does not exist")

    def _add_comment(self, ticket_id: int, comment: CommentInput, author_id: int, stamp: str) -> int:
        (last,) = self.conn.execute("SELECT max(id) FROM comments").fetchone()
        comment_id = (last or 0) + 1
        body = (comment.body or comment.html_body or "").strip()
        row = (comment_id, ticket_id, author_id, body, comment.public, stamp)
        self.conn.execute("INSERT INTO comments VALUES (?, ?, ?, ?, ?, ?)", row)
        return comment_id

    def _comment_events(self, ticket_id: int, comment_id: int) -> list[Event]:
        ticket = self._ticket(ticket_id)
        comment = self.conn.execute("SELECT * FROM comments WHERE id = ?", (comment_id,)).fetchone()
        assert ticket is not None
        return [comment_event(ticket, comment, self._user(comment["author_id"]))]

    def _requester(self, item: TicketInput, stamp: str, details: dict[str, list[str]]) -> tuple[int | None, int]:
        """The requester's id (found or created) and the records written for it (0 or 1)."""
        if item.requester_id is not None:
            if self._user(item.requester_id) is None:
                details.setdefault("requester", []).append(f"Requester: {item.requester_id} does not exist")
            return item.requester_id, 0
        if item.requester is None:
            return self._api_user(), 0  # as Zendesk does: the ticket is the authenticated user's own
        found = self.conn.execute(
            "SELECT id FROM users WHERE email = ? COLLATE NOCASE ORDER BY id LIMIT 1", (item.requester.email,)
        ).fetchone()
        if found is not None:
            return int(found[0]), 0
        if details:
            return None, 0
        (last,) = self.conn.execute("SELECT max(id) FROM users").fetchone()
        user_id = (last or 0) + 1
        name = item.requester.name or item.requester.email.split("@")[0]
        self.conn.execute(
            "INSERT INTO users (id, name, email, organization_id, role, time_zone, locale, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, 'end-user', 'UTC', 'en-US', ?, ?)",
            (user_id, name, item.requester.email, item.organization_id, stamp, stamp),
        )
        return user_id, 1

    async def create(self, request: Request) -> Response:
        item = await _body(request)
        details: dict[str, list[str]] = {}
        if item.comment is None:
            details["description"] = ["Description: cannot be blank"]
        self._check(item, details)
        stamp = next_stamp(None)
        with self.conn:
            requester_id, users_written = self._requester(item, stamp, details)
            if details:
                raise record_invalid(details)
            assert item.comment is not None and requester_id is not None
            requester = self._user(requester_id)
            assert requester is not None
            (last,) = self.conn.execute("SELECT max(id) FROM tickets").fetchone()
            ticket_id = (last or 0) + 1
            body = (item.comment.body or item.comment.html_body or "").strip()
            status = item.status or ("open" if item.assignee_id is not None else "new")
            author_id = item.comment.author_id or requester_id
            self.conn.execute(
                "INSERT INTO tickets VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (ticket_id, item.external_id, item.type, item.subject or body[:80], body, item.priority, status,
                 requester_id, item.submitter_id or author_id, item.assignee_id,
                 item.organization_id or requester["organization_id"], item.group_id,
                 orjson.dumps(item.tags or []).decode(), "api", stamp, stamp, item.due_at),
            )  # fmt: skip
            comment_id = self._add_comment(ticket_id, item.comment, author_id, stamp)
            record_created_solved(self.conn, ticket_id, status, stamp)
        note_write(request.scope, 2 + users_written)  # the ticket, its first comment, maybe the requester
        ticket = self._ticket(ticket_id)
        assert ticket is not None
        self.hub.publish([ticket_event("created", ticket, {"current": {"status": status.upper()}}, author_id),
                          *self._comment_events(ticket_id, comment_id)])  # fmt: skip
        base = str(request.base_url).rstrip("/")
        record = ticket_record(ticket, base)
        comment = {"id": comment_id, "type": "Comment", "body": body, "public": item.comment.public}
        audit = {
            "id": comment_id,
            "ticket_id": ticket_id,
            "created_at": stamp,
            "author_id": author_id,
            "events": [comment],
        }
        return json_response({"ticket": record, "audit": audit}, 201, {"Location": str(record["url"])})

    async def update(self, request: Request) -> Response:
        ticket_id = request.path_params["id"]
        before = self._ticket(ticket_id) if ticket_id <= 2**63 - 1 else None
        if before is None:
            raise not_found()
        item = await _body(request)
        if item.safe_update:
            if item.updated_stamp is None:
                raise record_invalid({"updated_stamp": ["Updated stamp: is required with safe_update"]})
            if item.updated_stamp != before["updated_at"]:
                raise update_conflict()
        if before["status"] == "closed":
            raise record_invalid({"status": ["Status: closed prevents ticket update"]})
        details: dict[str, list[str]] = {}
        self._check(item, details)
        if details:
            raise record_invalid(details)
        columns: dict[str, object] = {
            "status": item.status, "priority": item.priority, "type": item.type, "subject": item.subject,
            "assignee_id": item.assignee_id, "group_id": item.group_id, "organization_id": item.organization_id,
            "external_id": item.external_id, "due_at": item.due_at,
        }  # fmt: skip
        changes = {column: value for column, value in columns.items() if value is not None}
        if item.tags is not None:
            changes["tags"] = orjson.dumps(item.tags).decode()
        if item.status is None and item.assignee_id is not None and before["status"] == "new":
            changes["status"] = "open"  # as Zendesk does when a new ticket gets an assignee
        stamp = next_stamp(before["updated_at"])
        comment_id = None
        author_id = item.comment.author_id if item.comment and item.comment.author_id else self._api_user()
        with self.conn:
            new_status = changes.get("status")
            record_solve(self.conn, before, new_status if isinstance(new_status, str) else None, stamp)
            assignments = ", ".join(f"{column} = ?" for column in changes)
            self.conn.execute(
                f"UPDATE tickets SET {assignments}{', ' if changes else ''}updated_at = ? WHERE id = ?",
                (*changes.values(), stamp, ticket_id),
            )
            if item.comment is not None:
                comment_id = self._add_comment(ticket_id, item.comment, author_id, stamp)
        note_write(request.scope, 1 + (comment_id is not None))
        after = self._ticket(ticket_id)
        assert after is not None
        events = change_events(before, after, author_id)
        if comment_id is not None:
            events += self._comment_events(ticket_id, comment_id)
        self.hub.publish(events)
        record = ticket_record(after, str(request.base_url).rstrip("/"))
        audit = {"ticket_id": ticket_id, "created_at": stamp, "author_id": author_id}
        return json_response({"ticket": record, "audit": audit})
