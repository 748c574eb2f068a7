"""The bus shared by instances through Redis pub/sub (``events.url: redis://...``).

Every instance subscribes to one channel; a batch is one PUBLISH of a JSON array. Redis pub/sub keeps
nothing: an instance that is disconnected misses what is published meanwhile, which is what a live
subscription needs (and what the cache can bear: entries still expire by TTL). The listener reconnects
with a growing pause when Redis goes away, and re-subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio as redis
from redis.exceptions import RedisError

from crmgraph.events.bus import EventBus, logger
from crmgraph.events.change import BadEvent, ChangeEvent, decode_batch, encode_batch

MAX_PAUSE_S = 5.0


class RedisBus(EventBus):
    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        self.url = url
        self.channel = channel
        self._client: redis.Redis = redis.Redis.from_url(url)
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def _start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="crmgraph-events-redis")
        # Subscribed before the app serves: an event published right after start-up is not missed here.
        waiting = asyncio.ensure_future(self._subscribed.wait())
        await asyncio.wait({waiting, self._listener}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if self._listener.done():
            self._listener.result()  # raise what stopped it

    async def _send(self, events: list[ChangeEvent]) -> None:
        await self._client.publish(self.channel, encode_batch(events))

    async def _listen(self) -> None:
        pause = 0.1
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                pause = 0.1
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        batch = decode_batch(message["data"])
                    except BadEvent as exc:
                        logger.warning("dropped a message on %s: %s", self.channel, exc)
                        continue
                    await self.received(batch)
            except (RedisError, OSError) as exc:
                logger.warning("event bus %s: %s; reconnecting in %.1f s", self.channel, exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE_S)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    async def _close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._client.aclose()
