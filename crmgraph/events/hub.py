"""The events runtime of one instance: publish, forget what changed, hand events to subscribers.

``publish`` is the one way in, for webhooks, change feeds, mutations and ``crmgraph events publish`` alike:

1. events without customers get them from the identity store (by the record's party);
2. the cache entries they affect are forgotten here, before ``publish`` returns (read your writes);
3. they go on the bus; every instance (this one too) then forgets the same entries (its memory cache, and
   a read that raced the change) and offers each event to its subscribers, with the row-scope values of
   its customers read once for all of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.cache.read_through import ReadThrough
from crmgraph.events.bus import EventBus, LocalBus
from crmgraph.events.change import ChangeEvent, Entity
from crmgraph.events.fanout import Delivery, Fanout, Subscriber
from crmgraph.events.invalidation import affected_by_all
from crmgraph.events.redis_bus import RedisBus
from crmgraph.events.settings import EventsConfig
from crmgraph.identity.store import IdentityStore, SourceRecord


def open_bus(config: EventsConfig) -> EventBus:
    return LocalBus() if config.url == "memory://" else RedisBus(config.url, config.channel)


class EventHub:
    def __init__(
        self,
        config: EventsConfig,
        cache: ReadThrough,
        identity: IdentityStore,
        adapters: Mapping[str, Adapter],
        bus: EventBus | None = None,
    ) -> None:
        self.config = config
        self.cache = cache
        self.identity = identity
        self.adapters = adapters
        self.bus = bus if bus is not None else open_bus(config)
        self.fanout = Fanout()
        self.received = 0  # events received from the bus since start
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop it runs on (to publish from other threads)

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.bus.start(self._received)

    async def close(self) -> None:
        await self.bus.close()

    async def publish(self, events: Sequence[ChangeEvent]) -> list[ChangeEvent]:
        """Publish ``events`` (as they were sent, with the customers found for them)."""
        found = await self.with_customers(events)
        await self.forget(found)
        await self.bus.publish(found)
        return found

    async def forget(self, events: Sequence[ChangeEvent]) -> None:
        await self.cache.forget(affected_by_all(events, self.adapters))

    async def with_customers(self, events: Sequence[ChangeEvent]) -> list[ChangeEvent]:
        parties = [None if event.customer_ids else _party_of(event) for event in events]
        wanted = sorted({party for party in parties if party is not None})
        if not wanted:
            return list(events)
        customers = await self.identity.customers_of("party", wanted)
        found: list[ChangeEvent] = []
        for event, party in zip(events, parties, strict=True):
            customer = customers.get(party) if party is not None else None
            found.append(event.with_customers([customer]) if customer is not None else event)
        return found

    def subscribe(
        self, accepts: Callable[[Delivery], bool], on_overflow: Callable[[], None] | None = None
    ) -> Subscriber:
        subscriber = Subscriber(accepts, self.config.queue_size, on_overflow)
        self.fanout.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.fanout.remove(subscriber)

    async def _received(self, events: list[ChangeEvent]) -> None:
        self.received += len(events)
        await self.forget(events)
        if not self.fanout.subscribers:
            return
        customers = sorted({customer for event in events for customer in event.customer_ids})
        keys = await self.identity.scope_keys(customers) if customers else {}
        self.fanout.dispatch(
            Delivery(event, {customer: keys.get(customer, {}) for customer in event.customer_ids}) for event in events
        )


def _party_of(event: ChangeEvent) -> SourceRecord | None:
    """The party record whose customer the event's record belongs to."""
    if event.entity is Entity.PARTY:
        return (event.system, event.record_id)
    party = event.parent("party")
    return (event.system, party) if party is not None else None
