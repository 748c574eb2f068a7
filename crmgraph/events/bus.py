"""The event bus: how a batch of change events published at one instance reaches every instance.

An implementation writes ``_send`` (put a batch on the wire) and calls ``self.received(batch)`` for every
batch that arrives, its own included: an instance learns of the events it publishes the same way as of
the others', so every event is handled once per instance and in one order. Delivery is at most once:
a subscriber that is not connected when an event passes does not get it later (a subscription shows what
happens while it is open; the graph answers what is true now).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from crmgraph.events.change import ChangeEvent

logger = logging.getLogger("crmgraph.events")
Receiver = Callable[[list[ChangeEvent]], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._receiver: Receiver | None = None

    async def start(self, receiver: Receiver) -> None:
        """Begin handing every batch that arrives to ``receiver``."""
        self._receiver = receiver
        await self._start()

    async def publish(self, events: Sequence[ChangeEvent]) -> None:
        if events:
            await self._send(list(events))

    async def received(self, events: list[ChangeEvent]) -> None:
        if self._receiver is not None and events:
            try:
                await self._receiver(events)
            except Exception:  # one bad batch must not stop the bus
                logger.exception("handling %d change events failed", len(events))

    async def close(self) -> None:
        self._receiver = None
        await self._close()

    async def _start(self) -> None:
        pass

    async def _send(self, events: list[ChangeEvent]) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        pass


class LocalBus(EventBus):
    """Events stay in this process (``events.url: memory://``)."""

    async def _send(self, events: list[ChangeEvent]) -> None:
        await self.received(events)
