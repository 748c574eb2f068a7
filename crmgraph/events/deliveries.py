"""Deliveries already heard: a webhook delivered twice (a retry after a lost 200, a replayed capture) or a
feed page read again after a restart is published once.

One row per (source, delivery id) in the facade's own store, shared by every instance: the primary key
decides which instance hears a delivery first. Rows older than ``keep`` are pruned as new ones come (a
sender stops retrying long before: HubSpot after a day at most, Zendesk sooner).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, select
from sqlalchemy.exc import IntegrityError

from crmgraph.store_engine import store_engine

metadata = MetaData()
deliveries = Table(
    "crmgraph_event_deliveries",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("delivery_id", String(200), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
)


class DeliveryLog:
    def __init__(self, url: str, keep: timedelta = timedelta(days=2)) -> None:
        self.engine = store_engine(url)
        metadata.create_all(self.engine)
        self.keep = keep
        self._pruned = datetime.min.replace(tzinfo=UTC)

    def close(self) -> None:
        self.engine.dispose()

    async def first_time(self, source: str, ids: Sequence[str]) -> set[str]:
        """Record ``ids`` as heard; the ones heard now for the first time."""
        return await asyncio.to_thread(self._first_time, source, list(dict.fromkeys(ids)))

    def _first_time(self, source: str, ids: list[str]) -> set[str]:
        now = datetime.now(UTC)
        self._prune(now)
        with self.engine.begin() as conn:
            known = set(conn.scalars(select(deliveries.c.delivery_id).where(
                deliveries.c.source == source, deliveries.c.delivery_id.in_(ids))))  # fmt: skip
        return self._record(source, [delivery_id for delivery_id in ids if delivery_id not in known], now)

    def _record(self, source: str, fresh: list[str], now: datetime) -> set[str]:
        """Record ``fresh`` (ids not known a moment ago); those this call recorded, not another instance."""
        if not fresh:
            return set()
        rows = [{"source": source, "delivery_id": delivery_id, "received_at": now} for delivery_id in fresh]
        try:  # the usual case: one transaction (one commit) for the whole delivery
            with self.engine.begin() as conn:
                conn.execute(deliveries.insert(), rows)
            return set(fresh)
        except IntegrityError:
            pass  # another instance recorded one of them at the same moment: one row a transaction finds which
        new: set[str] = set()
        for delivery_id, row in zip(fresh, rows, strict=True):
            try:
                with self.engine.begin() as conn:
                    conn.execute(deliveries.insert(), row)
                new.add(delivery_id)
            except IntegrityError:
                continue
        return new

    def _prune(self, now: datetime) -> None:
        if now - self._pruned < timedelta(minutes=10):
            return
        self._pruned = now
        with self.engine.begin() as conn:
            conn.execute(delete(deliveries).where(deliveries.c.received_at < now - self.keep))

    async def forget(self, source: str, ids: Sequence[str]) -> None:
        """Take ids back (their events could not be published: the sender's retry must be heard)."""
        await asyncio.to_thread(self._forget, source, list(ids))

    def _forget(self, source: str, ids: list[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(deliveries).where(deliveries.c.source == source, deliveries.c.delivery_id.in_(ids)))
