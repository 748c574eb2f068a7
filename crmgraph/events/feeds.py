"""Change feeds polled into change events, for systems that send no webhooks.

Each followed feed (``feeds.follow``: a source and an entity) is read from a position kept in the store,
so a restarted facade goes on where it stopped: nothing changed while it was down is missed. One instance
reads a feed at a time (a lease in the same row, taken over when its holder stops renewing it, as after a
crash), and every change becomes an event whose id is the record and the time it changed: a change read
twice (the feeds count in whole seconds and are read again from the last one; a page read again after a
crash) is published once, the delivery log (:mod:`crmgraph.events.deliveries`) keeping the ids heard.

The position moves only after a page's events are published: a crash between the two re-reads the page,
and the delivery log drops what was published already.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, MetaData, String, Table, select, update
from sqlalchemy.exc import IntegrityError

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.errors import ConfigError
from crmgraph.events.change import ChangeEvent, ChangeKind, Entity
from crmgraph.events.deliveries import DeliveryLog
from crmgraph.events.feed_settings import FeedsConfig, FeedSettings
from crmgraph.records import OrderRecord, Record, TicketRecord
from crmgraph.store_engine import store_engine

log = logging.getLogger("crmgraph.feeds")
PAGE = 100
BOOKED_WITHIN = timedelta(seconds=5)  # an order's stamp this close to its placing time: the booking itself
metadata = MetaData()
positions = Table(
    "crmgraph_feed_positions",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("entity", String(32), primary_key=True),
    Column("since", DateTime(timezone=True), nullable=False),  # changes at or after this are still to read
    Column("holder", String(64), nullable=False),
    Column("lease_until", DateTime(timezone=True), nullable=False),
)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class FeedPositions:
    def __init__(self, url: str) -> None:
        self.engine = store_engine(url)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def take(self, source: str, entity: str, holder: str, lease: timedelta) -> datetime | None:
        """The position to read from, if this holder has (or now takes) the feed's lease; None otherwise.
        A feed followed for the first time starts now: following it does not replay its history."""
        now = datetime.now(UTC)
        key = (positions.c.source == source) & (positions.c.entity == entity)
        with self.engine.begin() as conn:
            row = conn.execute(select(positions).where(key)).first()
            if row is None:
                try:
                    conn.execute(positions.insert(), {"source": source, "entity": entity, "since": now,
                                                      "holder": holder, "lease_until": now + lease})  # fmt: skip
                except IntegrityError:
                    return None  # another instance started following it this very moment
                return now
            if row.holder != holder and _aware(row.lease_until) > now:
                return None
            taken = conn.execute(
                update(positions)
                .where(key, positions.c.holder == row.holder, positions.c.lease_until == row.lease_until)
                .values(holder=holder, lease_until=now + lease)
            )
            return _aware(row.since) if taken.rowcount == 1 else None

    def advance(self, source: str, entity: str, holder: str, since: datetime) -> None:
        key = (positions.c.source == source) & (positions.c.entity == entity) & (positions.c.holder == holder)
        with self.engine.begin() as conn:
            conn.execute(update(positions).where(key).values(since=since))

    def release(self, source: str, entity: str, holder: str) -> None:
        """Give the lease up (a clean shutdown): another instance may take the feed over at once."""
        key = (positions.c.source == source) & (positions.c.entity == entity) & (positions.c.holder == holder)
        with self.engine.begin() as conn:
            conn.execute(update(positions).where(key).values(lease_until=datetime.now(UTC)))


def feed_event(source: str, entity: str, record: Record) -> tuple[str, ChangeEvent]:
    """(delivery id, event) of one record read from a feed: the id is the record and when it changed."""
    changed_at = getattr(record, "updated_at", None)
    stamp = changed_at.isoformat() if isinstance(changed_at, datetime) else "unknown"
    delivery = f"feed:{entity}:{record.source_id}:{stamp}"
    parents: tuple[tuple[str, str], ...] = ()
    kind = ChangeKind.UPDATED
    if isinstance(record, TicketRecord):
        parents = tuple((by, key) for by, key in (("party", record.party_id), ("person", record.requester_id)) if key)
        kind = ChangeKind.CREATED if record.created_at is not None and record.created_at == record.updated_at else kind
    elif isinstance(record, OrderRecord):
        parents = (("party", record.party_id),)
        # An order's change stamp is set as it is booked: one within moments of its placing is its booking.
        booked = isinstance(changed_at, datetime) and abs(changed_at - record.placed_at) <= BOOKED_WITHIN
        kind = ChangeKind.CREATED if booked else kind
    event = ChangeEvent(source, Entity(entity), record.source_id, kind, parents=parents,
                        occurred_at=changed_at if isinstance(changed_at, datetime) else datetime.now(UTC),
                        id=f"{source}:{delivery}")  # fmt: skip
    return delivery, event


class FeedPoller:
    """Reads the followed feeds, each every ``every_s``, and publishes what changed."""

    def __init__(
        self,
        config: FeedsConfig,
        adapters: Mapping[str, Adapter],
        positions_store: FeedPositions,
        deliveries: DeliveryLog,
        publish: Callable[[list[ChangeEvent]], Awaitable[object]],
    ) -> None:
        self.config = config
        self.adapters = adapters
        self.positions = positions_store
        self.deliveries = deliveries
        self.publish = publish
        self.holder = uuid.uuid4().hex  # this instance, in the lease
        self.published = 0
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for feed in self.config.follow:
            adapter = self.adapters.get(feed.source)
            if adapter is None or feed.entity not in adapter.change_feeds:
                can = sorted(adapter.change_feeds) if adapter is not None else []
                raise ConfigError("feeds.follow", f"{feed.source} has no change feed of {feed.entity!r}"
                                  + (f"; it has {', '.join(can)}" if can else ""))  # fmt: skip
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._follow(feed), name=f"feed {feed.source} {feed.entity}")
                       for feed in self.config.follow]  # fmt: skip

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for feed in self.config.follow:
            await asyncio.to_thread(self.positions.release, feed.source, feed.entity, self.holder)

    async def _follow(self, feed: FeedSettings) -> None:
        while True:
            try:
                await self.poll(feed)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading the %s feed of %s failed; trying again", feed.entity, feed.source)
            await asyncio.sleep(feed.every_s)

    async def poll(self, feed: FeedSettings) -> int:
        """Read the feed from its position once; the number of events published."""
        lease = timedelta(seconds=self.config.lease_s)
        since = await asyncio.to_thread(self.positions.take, feed.source, feed.entity, self.holder, lease)
        if since is None:
            return 0  # another instance follows it
        adapter = self.adapters[feed.source]
        cursor: str | None = None
        newest = since
        pairs: list[tuple[str, ChangeEvent]] = []
        while True:
            page = await adapter.changes(feed.entity, since, cursor, PAGE)
            for record in page.records:
                pairs.append(feed_event(feed.source, feed.entity, record))
                changed_at = getattr(record, "updated_at", None)
                if isinstance(changed_at, datetime) and changed_at > newest:
                    newest = changed_at
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        published = 0
        if pairs:
            new = await self.deliveries.first_time(feed.source, [delivery for delivery, _ in pairs])
            events = [event for delivery, event in pairs if delivery in new]
            if events:
                try:
                    await self.publish(events)
                except Exception:
                    await self.deliveries.forget(feed.source, sorted(new))
                    raise
                published = len(events)
        # The feeds count in whole seconds: the newest change's second is read again next time (and its
        # changes already published are dropped by the delivery log).
        await asyncio.to_thread(self.positions.advance, feed.source, feed.entity, self.holder, newest)
        self.published += published
        return published
