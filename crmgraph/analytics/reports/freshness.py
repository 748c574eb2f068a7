"""How fresh a report is: the ``freshness`` rows of the parts of the store it read.

A part is named ``source.entity`` (``crm.deal``) or after a derived table (``model.customer_value``). A
report reads the parts whose entity (the name after its last dot) it depends on; its ``asOf`` is the oldest
moment among them that each is known current (the later of its last load and its last applied change),
and null when one of them was never loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from crmgraph.analytics.tables import freshness

# A report's parts by entity; several spellings of one entity so that a loader's naming does not hide a part.
PARTY = ("party", "company", "companies", "customer", "customers", "organization")
DEAL = ("deal", "deals", "deal_stages")
TICKET = ("ticket", "tickets")
REVENUE = ("invoice", "invoices", "order", "orders", "party_days")
MARKETING = ("campaign", "campaigns", "person", "lead", "leads", "campaign_members", "segment", "customer_segments")
MODEL = ("customer_value",)


@dataclass(frozen=True)
class Part:
    name: str
    loaded_at: datetime | None
    changed_at: datetime | None
    rows: int

    @property
    def current_at(self) -> datetime | None:
        moments = [moment for moment in (self.loaded_at, self.changed_at) if moment is not None]
        return max(moments) if moments else None


@dataclass(frozen=True)
class Freshness:
    as_of: datetime | None
    parts: tuple[Part, ...]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def all_parts(conn: Connection) -> tuple[Part, ...]:
    rows = conn.execute(select(freshness).order_by(freshness.c.name)).all()
    return tuple(Part(row.name, _utc(row.loaded_at), _utc(row.changed_at), int(row.rows or 0)) for row in rows)


def of_parts(parts: Iterable[Part], entities: Iterable[str]) -> Freshness:
    wanted = frozenset(entities)
    read = tuple(part for part in parts if part.name.rsplit(".", 1)[-1] in wanted)
    moments = [part.current_at for part in read]
    as_of = None if not moments or any(moment is None for moment in moments) else min(m for m in moments if m)
    return Freshness(as_of, read)
