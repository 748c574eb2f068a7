"""The identity store: golden customer ids, their links to source records, and match keys.

SQLite by default, PostgreSQL (or any SQLAlchemy database) by URL. Request-time reads are batched: one
statement answers many customers (or many source records), and they run in worker threads so the event
loop never waits on the database.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    func,
    select,
)
from sqlalchemy.engine import make_url

from crmgraph.adapters.calls import upstream_call
from crmgraph.sqlite_memory import limit_page_cache

T = TypeVar("T")
metadata = MetaData()

customers = Table(
    "crmgraph_customers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
links = Table(
    "crmgraph_links",
    metadata,
    Column("customer_id", Integer, ForeignKey("crmgraph_customers.id"), nullable=False),
    Column("source", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("source_id", String(128), nullable=False),
    Column("rule", String(64), nullable=False),  # why these are linked: "self", "xref", later matching rules
    Column("confidence", Float, nullable=False),
    Column("linked_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("source", "entity", "source_id"),
    Index("crmgraph_links_customer", "customer_id"),
)
match_keys = Table(
    "crmgraph_match_keys",
    metadata,
    Column("customer_id", Integer, ForeignKey("crmgraph_customers.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # name | domain | tax_id | email
    Column("value", String(255), nullable=False),
    Index("crmgraph_match_keys_value", "kind", "value"),
    Index("crmgraph_match_keys_customer", "customer_id"),
)

SourceRecord = tuple[str, str]  # (source, source_id)

# Every GraphQL request starts with this read: built once, compiled once (the ids are an expanding parameter).
_LINKS_OF_CUSTOMERS = (
    select(links.c.customer_id, links.c.source, links.c.entity, links.c.source_id, links.c.rule, links.c.confidence)
    .where(links.c.customer_id.in_(bindparam("customer_ids", expanding=True)))
    .order_by(links.c.source, links.c.source_id)
)


@dataclass(frozen=True)
class Link:
    customer_id: int
    source: str
    entity: str
    source_id: str
    rule: str
    confidence: float


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    limit_page_cache(engine)
    return engine


class IdentityStore:
    SOURCE = "identity"  # how the store appears in the upstream call log

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)

    def create(self) -> None:
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # --- request-time reads (async, batched) ---------------------------------------------------------

    async def links_of(self, customer_ids: Sequence[int]) -> dict[int, list[Link]]:
        """The source records of many customers, in one statement."""
        return await asyncio.to_thread(self._links_of, list(customer_ids))

    def _links_of(self, customer_ids: list[int]) -> dict[int, list[Link]]:
        found: defaultdict[int, list[Link]] = defaultdict(list)
        with upstream_call(self.SOURCE, "SELECT links by customer"), self.engine.connect() as conn:
            for row in conn.execute(_LINKS_OF_CUSTOMERS, {"customer_ids": customer_ids}):
                found[row.customer_id].append(Link(**row._mapping))
        return dict(found)

    async def customers_of(self, entity: str, records: Sequence[SourceRecord]) -> dict[SourceRecord, int]:
        """The customer of each source record (``entity`` is ``party``), one statement per source."""
        return await asyncio.to_thread(self._customers_of, entity, list(records))

    def _customers_of(self, entity: str, records: list[SourceRecord]) -> dict[SourceRecord, int]:
        by_source: defaultdict[str, list[str]] = defaultdict(list)
        for source, source_id in records:
            by_source[source].append(source_id)
        found: dict[SourceRecord, int] = {}
        with self.engine.connect() as conn:
            for source, ids in by_source.items():
                query = select(links.c.source_id, links.c.customer_id).where(
                    links.c.source == source, links.c.entity == entity, links.c.source_id.in_(ids)
                )
                with upstream_call(self.SOURCE, "SELECT customer by link"):
                    found.update({(source, row.source_id): row.customer_id for row in conn.execute(query)})
        return found

    async def existing(self, customer_ids: Sequence[int]) -> set[int]:
        return await asyncio.to_thread(self._existing, list(customer_ids))

    def _existing(self, customer_ids: list[int]) -> set[int]:
        with upstream_call(self.SOURCE, "SELECT customers"), self.engine.connect() as conn:
            return set(conn.scalars(select(customers.c.id).where(customers.c.id.in_(customer_ids))))

    async def page(self, *, after: int | None, first: int, search: str | None) -> tuple[list[int], bool]:
        """Customer ids in id order after ``after``; ``search`` matches names, domains, tax ids, e-mails."""
        return await asyncio.to_thread(self._page, after, first, search)

    def _page(self, after: int | None, first: int, search: str | None) -> tuple[list[int], bool]:
        query = select(customers.c.id).order_by(customers.c.id).limit(first + 1)
        if after is not None:
            query = query.where(customers.c.id > after)
        if search:
            query = query.where(customers.c.id.in_(self._matching(search)))
        with upstream_call(self.SOURCE, "SELECT customer page"), self.engine.connect() as conn:
            ids = list(conn.scalars(query))
        return ids[:first], len(ids) > first

    async def count(self, search: str | None = None) -> int:
        return await asyncio.to_thread(self._count, search)

    def _count(self, search: str | None) -> int:
        query = select(func.count()).select_from(customers)
        if search:
            query = query.where(customers.c.id.in_(self._matching(search)))
        with upstream_call(self.SOURCE, "SELECT customer count"), self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    @staticmethod
    def _matching(search: str) -> Any:
        term = f"%{normalize(search)}%"
        return select(match_keys.c.customer_id).where(match_keys.c.value.like(term))

    # --- writes (the link command) -----------------------------------------------------------------

    def current_links(self, entity: str) -> dict[SourceRecord, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(links.c.source, links.c.source_id, links.c.customer_id).where(links.c.entity == entity)
            )
            return {(row.source, row.source_id): row.customer_id for row in rows}

    def next_customer_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.max(customers.c.id))) or 0) + 1

    def apply(
        self,
        entity: str,
        new_customers: Iterable[int],
        assignments: Sequence[Link],
        keys: dict[int, set[tuple[str, str]]],
        retired: Iterable[int] = (),
    ) -> None:
        """Write a linking run in one transaction: new customers, (re)assigned links, refreshed keys."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            fresh = [{"id": cid, "created_at": now} for cid in new_customers]
            if fresh:
                conn.execute(customers.insert(), fresh)
            by_source: defaultdict[str, list[str]] = defaultdict(list)
            for link in assignments:
                by_source[link.source].append(link.source_id)
            for source, source_ids in by_source.items():
                for chunk in _chunks(source_ids, 1000):
                    conn.execute(
                        delete(links).where(
                            links.c.source == source, links.c.entity == entity, links.c.source_id.in_(chunk)
                        )
                    )
            rows = [
                {"customer_id": link.customer_id, "source": link.source, "entity": entity,
                 "source_id": link.source_id, "rule": link.rule, "confidence": link.confidence, "linked_at": now}
                for link in assignments
            ]  # fmt: skip
            for chunk_rows in _chunks(rows, 5000):
                conn.execute(links.insert(), chunk_rows)
            touched = list(keys)
            for chunk_ids in _chunks(touched, 1000):
                conn.execute(delete(match_keys).where(match_keys.c.customer_id.in_(chunk_ids)))
            rows = [
                {"customer_id": cid, "kind": kind, "value": value}
                for cid, pairs in keys.items()
                for kind, value in pairs
            ]
            for chunk_rows in _chunks(rows, 5000):
                conn.execute(match_keys.insert(), chunk_rows)
            retired_ids = list(retired)
            if retired_ids:
                conn.execute(delete(match_keys).where(match_keys.c.customer_id.in_(retired_ids)))
                conn.execute(delete(customers).where(customers.c.id.in_(retired_ids)))


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def normalize(text: str) -> str:
    """Lower case, single spaces, no surrounding blanks: what search and match keys compare."""
    return " ".join(text.lower().split())
