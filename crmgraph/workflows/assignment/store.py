"""What assignment keeps in the facade's own store, shared by every instance.

- one row per lead (``(source, lead id)`` is the primary key): the instance whose insert wins distributes
  the lead, every other one leaves it alone, so no lead is assigned twice; the row then holds the owner,
  the explanation, the SLA's due time, and a ``version`` every change bumps (a change names the version
  it read: a manager's reassignment and the SLA job cannot both win);
- one row per team: the round-robin position, moved by one atomic ``UPDATE ... RETURNING`` (a row lock
  where the database has no ``RETURNING``), so two instances never take the same turn;
- one row per routed ticket, claimed the same way as a lead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from crmgraph.store_engine import store_engine

metadata = MetaData()
leads = Table(
    "crmgraph_lead_assignments",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("lead_id", String(128), primary_key=True),
    Column("state", String(16), nullable=False),  # claimed | assigned | failed
    Column("owner_id", String(64), index=True),
    Column("team", String(128)),
    Column("rule", String(64)),
    Column("crm_id", String(64)),
    Column("manual", Boolean, nullable=False, default=False),
    Column("touched", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False, default=1),
    Column("explanation", Text, nullable=False, default="{}"),
    Column("history", Text, nullable=False, default="[]"),  # earlier owners, oldest first
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("assigned_at", DateTime(timezone=True)),
    Column("due_at", DateTime(timezone=True), index=True),
)
rotations = Table(
    "crmgraph_assignment_rotations",
    metadata,
    Column("team", String(128), primary_key=True),
    Column("position", Integer, nullable=False),
)
tickets = Table(
    "crmgraph_ticket_routings",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("ticket_id", String(128), primary_key=True),
    Column("state", String(16), nullable=False),  # claimed | routed | failed
    Column("group_name", String(128)),
    Column("group_id", String(64)),
    Column("assignee_id", String(64), index=True),
    Column("priority", String(16)),
    Column("tags", Text, nullable=False, default="[]"),
    Column("explanation", Text, nullable=False, default="{}"),
    Column("alert_owner_id", String(64)),
    Column("alert_deal_id", String(64)),
    Column("routed_at", DateTime(timezone=True)),
)


@dataclass(frozen=True)
class LeadRow:
    source: str
    lead_id: str
    state: str
    owner_id: str | None
    team: str | None
    rule: str | None
    crm_id: str | None
    manual: bool
    touched: bool
    version: int
    explanation: dict[str, Any]
    history: list[str]
    claimed_at: datetime
    assigned_at: datetime | None
    due_at: datetime | None


@dataclass(frozen=True)
class TicketRow:
    source: str
    ticket_id: str
    state: str
    group_name: str | None
    group_id: str | None
    assignee_id: str | None
    priority: str | None
    tags: list[str]
    explanation: dict[str, Any]
    alert_owner_id: str | None
    alert_deal_id: str | None
    routed_at: datetime | None


def _aware(values: dict[str, Any]) -> dict[str, Any]:
    """SQLite hands back the UTC times it was given without their zone."""
    for name, value in values.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            values[name] = value.replace(tzinfo=UTC)
    return values


def _lead(row: Any) -> LeadRow:
    values = _aware(dict(row._mapping))
    values["explanation"] = orjson.loads(values["explanation"])
    values["history"] = orjson.loads(values["history"])
    values["manual"], values["touched"] = bool(values["manual"]), bool(values["touched"])
    return LeadRow(**values)


def _ticket(row: Any) -> TicketRow:
    values = _aware(dict(row._mapping))
    values["explanation"] = orjson.loads(values["explanation"])
    values["tags"] = orjson.loads(values["tags"])
    return TicketRow(**values)


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


class AssignmentStore:
    def __init__(self, url: str) -> None:
        self.engine = store_engine(url)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # --- leads -------------------------------------------------------------------------------------------

    async def claim_lead(self, source: str, lead_id: str, now: datetime) -> bool:
        """True for the one caller (of every instance) that inserts the lead's row first."""
        return await asyncio.to_thread(self._claim, leads, {"source": source, "lead_id": lead_id, "state": "claimed",
                                                            "claimed_at": now, "version": 1})  # fmt: skip

    def _claim(self, table: Table, row: dict[str, Any]) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(table), row)
        except IntegrityError:
            return False
        return True

    async def lead(self, source: str, lead_id: str) -> LeadRow | None:
        return await asyncio.to_thread(self._lead, source, lead_id)

    def _lead(self, source: str, lead_id: str) -> LeadRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(leads).where(leads.c.source == source, leads.c.lead_id == lead_id)).first()
        return _lead(row) if row is not None else None

    async def recent_leads(self, offset: int, limit: int, state: str | None = None) -> tuple[list[LeadRow], int]:
        """The lead queue, newest first (by when the rules took each up), a page of it, and how many in all."""
        return await asyncio.to_thread(self._recent_leads, offset, limit, state)

    def _recent_leads(self, offset: int, limit: int, state: str | None) -> tuple[list[LeadRow], int]:
        chosen = [leads.c.state == state] if state else []
        query = select(leads).where(*chosen).order_by(leads.c.claimed_at.desc(), leads.c.lead_id.desc())
        with self.engine.connect() as conn:
            rows = conn.execute(query.offset(offset).limit(limit)).all()
            total = conn.scalar(select(func.count()).select_from(leads).where(*chosen))
        return [_lead(row) for row in rows], int(total or 0)

    async def recent_tickets(self, offset: int, limit: int, state: str | None = None) -> tuple[list[TicketRow], int]:
        """The ticket queue: tickets under way first, then the routed ones, newest first; a page, and how many."""
        return await asyncio.to_thread(self._recent_tickets, offset, limit, state)

    def _recent_tickets(self, offset: int, limit: int, state: str | None) -> tuple[list[TicketRow], int]:
        chosen = [tickets.c.state == state] if state else []
        order = (tickets.c.routed_at.is_(None).desc(), tickets.c.routed_at.desc(), tickets.c.ticket_id.desc())
        query = select(tickets).where(*chosen).order_by(*order)
        with self.engine.connect() as conn:
            rows = conn.execute(query.offset(offset).limit(limit)).all()
            total = conn.scalar(select(func.count()).select_from(tickets).where(*chosen))
        return [_ticket(row) for row in rows], int(total or 0)

    async def lead_by_crm(self, crm_id: str) -> LeadRow | None:
        return await asyncio.to_thread(self._lead_by_crm, crm_id)

    def _lead_by_crm(self, crm_id: str) -> LeadRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(leads).where(leads.c.crm_id == crm_id).order_by(leads.c.claimed_at.desc())
            ).first()
        return _lead(row) if row is not None else None

    async def set_lead(self, source: str, lead_id: str, version: int, **values: Any) -> bool:
        """Change the lead's row if it is still at ``version`` (bumped by one); False when it moved on."""
        return await asyncio.to_thread(self._set_lead, source, lead_id, version, values)

    def _set_lead(self, source: str, lead_id: str, version: int, values: dict[str, Any]) -> bool:
        for name in ("explanation", "history"):
            if name in values:
                values[name] = _json(values[name])
        with self.engine.begin() as conn:
            done = conn.execute(
                update(leads)
                .where(leads.c.source == source, leads.c.lead_id == lead_id, leads.c.version == version)
                .values(version=version + 1, **values)
            )
        return done.rowcount == 1

    async def open_leads(self, owners: Sequence[str]) -> dict[str, int]:
        """Per owner: the leads assigned to them and not yet touched (what capacity counts)."""
        return await asyncio.to_thread(self._open_leads, list(owners))

    def _open_leads(self, owners: list[str]) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(leads.c.owner_id, func.count())
                .where(leads.c.owner_id.in_(owners), leads.c.state == "assigned", leads.c.touched.is_(False))
                .group_by(leads.c.owner_id)
            )
            return {str(owner): int(count) for owner, count in rows}

    async def overdue(self, now: datetime, stuck_before: datetime, limit: int = 100) -> list[LeadRow]:
        """Leads past their first-touch SLA (untouched, not placed by a manager), and leads an instance
        claimed and never finished (it stopped, or the CRM refused) before ``stuck_before``."""
        return await asyncio.to_thread(self._overdue, now, stuck_before, limit)

    def _overdue(self, now: datetime, stuck_before: datetime, limit: int) -> list[LeadRow]:
        late = (leads.c.state == "assigned") & leads.c.touched.is_(False) & leads.c.manual.is_(False) & (
            leads.c.due_at <= now)  # fmt: skip
        stuck = leads.c.state.in_(("claimed", "failed")) & (leads.c.claimed_at <= stuck_before)
        with self.engine.connect() as conn:
            rows = conn.execute(select(leads).where(late | stuck).order_by(leads.c.claimed_at).limit(limit))
            return [_lead(row) for row in rows]

    async def next_turn(self, team: str) -> int:
        """The team's next round-robin position (0, 1, 2, ...): each caller of every instance gets its own."""
        return await asyncio.to_thread(self._next_turn, team)

    def _next_turn(self, team: str) -> int:
        self._claim(rotations, {"team": team, "position": 0})
        step = update(rotations).where(rotations.c.team == team).values(position=rotations.c.position + 1)
        with self.engine.begin() as conn:
            if self.engine.dialect.update_returning:
                return int(conn.execute(step.returning(rotations.c.position)).scalar_one()) - 1
            # MariaDB, MySQL: no UPDATE ... RETURNING; the row lock makes read-and-move one step.
            position = conn.execute(select(rotations.c.position).where(rotations.c.team == team).with_for_update())
            found = int(position.scalar_one())
            conn.execute(step)
            return found

    # --- tickets -----------------------------------------------------------------------------------------

    async def claim_ticket(self, source: str, ticket_id: str) -> bool:
        return await asyncio.to_thread(self._claim, tickets, {"source": source, "ticket_id": ticket_id,
                                                              "state": "claimed"})  # fmt: skip

    async def ticket(self, source: str, ticket_id: str) -> TicketRow | None:
        return await asyncio.to_thread(self._ticket, source, ticket_id)

    def _ticket(self, source: str, ticket_id: str) -> TicketRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(tickets).where(tickets.c.source == source,
                                                     tickets.c.ticket_id == ticket_id)).first()  # fmt: skip
        return _ticket(row) if row is not None else None

    async def set_ticket(self, source: str, ticket_id: str, **values: Any) -> None:
        await asyncio.to_thread(self._set_ticket, source, ticket_id, values)

    def _set_ticket(self, source: str, ticket_id: str, values: dict[str, Any]) -> None:
        for name in ("explanation", "tags"):
            if name in values:
                values[name] = _json(values[name])
        with self.engine.begin() as conn:
            conn.execute(update(tickets).where(tickets.c.source == source, tickets.c.ticket_id == ticket_id)
                         .values(**values))  # fmt: skip

    async def ticket_loads(self, agents: Sequence[str]) -> dict[str, int]:
        """Per agent: the tickets routed to them (what capacity and least-load count)."""
        return await asyncio.to_thread(self._ticket_loads, list(agents))

    def _ticket_loads(self, agents: list[str]) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(tickets.c.assignee_id, func.count())
                                .where(tickets.c.assignee_id.in_(agents), tickets.c.state == "routed")
                                .group_by(tickets.c.assignee_id))  # fmt: skip
            return {str(agent): int(count) for agent, count in rows}
