"""Zendesk Support v2 JSON records mapped to canonical records.

Every guess about the shape of an upstream record goes through :func:`~crmgraph.adapters.sdk.http.expect`,
so that a record crmgraph cannot understand becomes an :class:`~crmgraph.errors.UpstreamBadResponse`
for the key that asked for it, never a crash of the whole batch and never a half-mapped record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn, TypeVar

from crmgraph.adapters.sdk.http import expect
from crmgraph.adapters.sdk.remembered import mapped_once
from crmgraph.errors import UpstreamBadResponse
from crmgraph.records import CommentRecord, PartyRecord, PersonRecord, TicketPriority, TicketRecord, TicketStatus

E = TypeVar("E")

# The record fields an organization fills (``Adapter.holds``): Zendesk keeps no owner, tax id or address fields.
PARTY_FIELDS = frozenset({"name", "domain", "address", "tags", "created_at", "updated_at", "xrefs"})
TICKET_STATUSES = {
    "new": TicketStatus.NEW,
    "open": TicketStatus.OPEN,
    "pending": TicketStatus.PENDING,
    "hold": TicketStatus.ON_HOLD,
    "solved": TicketStatus.SOLVED,
    "closed": TicketStatus.CLOSED,
}
TICKET_PRIORITIES = {
    "low": TicketPriority.LOW,
    "normal": TicketPriority.NORMAL,
    "high": TicketPriority.HIGH,
    "urgent": TicketPriority.URGENT,
}


class _Fields:
    """Typed reads of one upstream JSON object; each failed read names the record and the field."""

    def __init__(self, source: str, raw: object, kind: str) -> None:
        # A JSON object as decoded is a dict: a test against the Mapping ABC would cost a Python-level check
        # for each of a page's hundreds of records (and of their nested objects).
        expect(source, isinstance(raw, dict), f"a {kind} that is not a JSON object")
        self.source = source
        self.raw: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        self.what = kind
        record_id = self.ref("id")
        if record_id is None:
            self.fail("it has no id")
        self.id = record_id
        self.what = f"{kind} {record_id}"

    def fail(self, problem: str) -> NoReturn:
        # The same error expect() raises; a NoReturn lets the type checker follow the reads below.
        raise UpstreamBadResponse(self.source, f"unexpected answer: {self.what}: {problem}")

    def check(self, condition: bool, problem: str) -> None:
        if not condition:
            self.fail(problem)

    def ref(self, key: str) -> str | None:
        """A Zendesk id (a positive integer) as a source id, or None when the field is empty."""
        value = self.raw.get(key)
        if value is None:
            return None
        # bool is an int to isinstance, and never an id.
        if type(value) is not int or value <= 0:
            self.fail(f"{key} is {value!r}, not an id")
        return str(value)

    def text(self, key: str) -> str:
        value = self.raw.get(key)
        if not isinstance(value, str):
            self.fail(f"{key} is {value!r}, not text")
        return value

    def optional_text(self, key: str, within: Mapping[str, Any] | None = None) -> str | None:
        value = (self.raw if within is None else within).get(key)
        if value is not None and not isinstance(value, str):
            self.fail(f"{key} is {value!r}, not text")
        return value or None  # Zendesk writes "" and null alike for an unset field

    def flag(self, key: str) -> bool:
        value = self.raw.get(key)
        if not isinstance(value, bool):
            self.fail(f"{key} is {value!r}, not true or false")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.raw.get(key)
        if value is None:
            return ()
        self.check(isinstance(value, list) and all(isinstance(v, str) for v in value), f"{key} is {value!r}")
        return tuple(value)

    def time(self, key: str) -> datetime | None:
        value = self.raw.get(key)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        # A naive time would be read in the server's zone: wrong by hours, silently.
        if moment is None or moment.tzinfo is None:
            self.fail(f"{key} {value!r} is not an ISO 8601 instant with a zone")
        return moment

    def required_time(self, key: str) -> datetime:
        moment = self.time(key)
        if moment is None:
            self.fail(f"{key} is missing")
        return moment

    def choice(self, key: str, choices: Mapping[str, E]) -> E:
        value = self.raw.get(key)
        if not isinstance(value, str) or value not in choices:
            self.fail(f"{key} {value!r} is not one of {', '.join(choices)}")
        return choices[value]


@dataclass(frozen=True)
class ZendeskMapping:
    """Maps the records of one source; ``xref_source`` names the system ``external_id`` points into."""

    source: str
    xref_source: str | None

    def _xrefs(self, fields: _Fields) -> tuple[tuple[str, str], ...]:
        # The demo (and many real accounts) store the CRM's id in external_id: a declared link for identity.
        external_id = fields.optional_text("external_id")
        if external_id is None or not self.xref_source:
            return ()
        return ((self.xref_source, external_id),)

    @mapped_once
    def party(self, raw: object) -> PartyRecord:
        org = _Fields(self.source, raw, "organization")
        domains = org.strings("domain_names")
        return PartyRecord(
            self.source,
            org.id,
            name=org.text("name"),
            domain=domains[0] if domains else None,
            # Zendesk has no address fields; its documented place for one is the free-text `details`.
            address=org.optional_text("details"),
            tags=org.strings("tags"),
            created_at=org.time("created_at"),
            updated_at=org.time("updated_at"),
            xrefs=self._xrefs(org),
        )

    @mapped_once
    def person(self, raw: object) -> PersonRecord:
        user = _Fields(self.source, raw, "user")
        return PersonRecord(
            self.source,
            user.id,
            name=user.text("name"),
            email=user.optional_text("email"),
            phone=user.optional_text("phone"),
            party_id=user.ref("organization_id"),
            created_at=user.time("created_at"),
            updated_at=user.time("updated_at"),
            xrefs=self._xrefs(user),
        )

    @mapped_once
    def ticket(self, raw: object, metrics: object = None) -> TicketRecord:
        """A ticket; ``metrics`` is its metric set (side-loaded with ``include=metric_sets``), if read."""
        ticket = _Fields(self.source, raw, "ticket")
        created_at = ticket.time("created_at")
        first_reply_at, solved_at = self._service_times(metrics, created_at)
        via = ticket.raw.get("via")
        if via is not None and not isinstance(via, Mapping):
            ticket.fail(f"via is {via!r}")
        channel = ticket.optional_text("channel", within=via) if via is not None else None
        return TicketRecord(
            self.source,
            ticket.id,
            # A ticket opened through a channel without a subject line (voice, some APIs) has none.
            subject=ticket.optional_text("subject") or "",
            description=ticket.optional_text("description") or "",
            status=ticket.choice("status", TICKET_STATUSES),
            priority=ticket.choice("priority", TICKET_PRIORITIES) if ticket.raw.get("priority") is not None else None,
            party_id=ticket.ref("organization_id"),
            requester_id=ticket.ref("requester_id"),
            assignee_id=ticket.ref("assignee_id"),
            channel=channel,
            tags=ticket.strings("tags"),
            created_at=created_at,
            updated_at=ticket.time("updated_at"),
            group_id=ticket.ref("group_id"),
            kind=ticket.optional_text("type"),
            first_reply_at=first_reply_at,
            solved_at=solved_at,
        )

    def _service_times(self, raw: object, created_at: datetime | None) -> tuple[datetime | None, datetime | None]:
        """First reply (creation + ``reply_time_in_minutes.calendar``, Zendesk's measure: whole minutes to the
        first public agent comment) and ``solved_at`` of a metric set; (None, None) without one."""
        if raw is None:
            return None, None
        metrics = _Fields(self.source, raw, "ticket metric set")
        reply = metrics.raw.get("reply_time_in_minutes")
        minutes = reply.get("calendar") if isinstance(reply, Mapping) else reply
        metrics.check(minutes is None or (type(minutes) is int and minutes >= 0), f"reply_time_in_minutes {reply!r}")
        first_reply_at = None
        if minutes is not None and created_at is not None:
            first_reply_at = created_at + timedelta(minutes=minutes)
        return first_reply_at, metrics.time("solved_at")

    @mapped_once
    def comment(self, raw: object, ticket_id: str) -> CommentRecord:
        comment = _Fields(self.source, raw, "comment")
        # plain_body is the text without Zendesk's HTML rendering; body is the fallback older payloads carry.
        body = comment.optional_text("plain_body") or comment.optional_text("body") or ""
        return CommentRecord(
            self.source,
            comment.id,
            ticket_id=ticket_id,
            author_id=comment.ref("author_id"),
            body=body,
            public=comment.flag("public"),
            created_at=comment.required_time("created_at"),
        )
