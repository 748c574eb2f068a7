"""Handing each event to the subscribers of this instance, each through a bounded queue.

A subscriber's ``accepts`` predicate runs as the event arrives, synchronously and for every subscriber:
it must be cheap (set membership, a scope test on values computed once per event). Only accepted events
are queued. A subscriber whose queue is full when one more arrives has fallen behind: its queue is
emptied, it is marked overflowed (its next ``get`` raises :class:`SlowSubscriber`) and ``on_overflow`` is
called, so that its connection is closed. Memory per subscriber is thus at most ``queue_size`` events,
whatever the publishers do and however slowly the client reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from crmgraph.events.change import ChangeEvent


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event as this instance delivers it: with the scope values of its customers, read once for all
    subscribers (customer id -> the values a row scope tests, as :func:`~crmgraph.policy.roles.Access.admits`
    takes them)."""

    event: ChangeEvent
    scope_keys: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Answers computed for it, by share key (crmgraph.schema.shared_answers): one execution per key.
    answers: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


class SlowSubscriber(Exception):
    """The subscriber fell more than its queue size behind and was dropped."""


_OVERFLOW = object()


class Subscriber:
    def __init__(
        self,
        accepts: Callable[[Delivery], bool],
        queue_size: int,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self.accepts = accepts
        self.queue_size = queue_size
        self.on_overflow = on_overflow
        # One slot more than the bound, for the overflow marker.
        self._queue: asyncio.Queue[Any] = asyncio.Queue(queue_size + 1)
        self.overflowed = False
        self.high_water = 0  # the most events it ever had waiting (tests and metrics: the bound held)

    def offer(self, delivery: Delivery) -> None:
        if self.overflowed:
            return
        if self._queue.qsize() >= self.queue_size:
            self._overflow()
            return
        self._queue.put_nowait(delivery)
        self.high_water = max(self.high_water, self._queue.qsize())

    async def get(self) -> Delivery:
        item = await self._queue.get()
        if item is _OVERFLOW:
            raise SlowSubscriber(f"more than {self.queue_size} events were waiting")
        delivery: Delivery = item
        return delivery

    def _overflow(self) -> None:
        self.overflowed = True
        while not self._queue.empty():  # what it will never read is freed at once
            self._queue.get_nowait()
        self._queue.put_nowait(_OVERFLOW)
        if self.on_overflow is not None:
            self.on_overflow()


class Fanout:
    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.dropped = 0  # subscribers dropped for falling behind, since start

    def add(self, subscriber: Subscriber) -> None:
        self.subscribers.add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def dispatch(self, deliveries: Iterable[Delivery]) -> None:
        batch = list(deliveries)
        for subscriber in list(self.subscribers):
            for delivery in batch:
                if subscriber.accepts(delivery):
                    subscriber.offer(delivery)
                if subscriber.overflowed:
                    self.dropped += 1
                    self.subscribers.discard(subscriber)
                    break
