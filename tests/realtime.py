"""Helpers for tests of change events and subscriptions: instances served with their app at hand, a
graphql-transport-ws client, and publishing into a running instance from the test's thread."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from crmgraph.app import build_app
from crmgraph.config import Config
from crmgraph.events import ChangeEvent, EventHub
from crmgraph.runner import serving
from tests.facade import Facade

PROTOCOL = Subprotocol("graphql-transport-ws")
WAIT_S = 20.0  # how long a test waits for something that must happen (a bound, never an assertion on speed)


@dataclass
class Instance(Facade):
    app: Starlette

    @property
    def hub(self) -> EventHub:
        hub: EventHub = self.app.state.events
        return hub

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    def publish(self, *events: ChangeEvent) -> list[ChangeEvent]:
        """``hub.publish`` run on the instance's own loop, as a webhook handler there would."""
        assert self.hub.loop is not None
        return asyncio.run_coroutine_threadsafe(self.hub.publish(events), self.hub.loop).result(WAIT_S)

    def wait_for_subscribers(self, count: int) -> None:
        """Until ``count`` subscriptions are registered here (an event published before would pass them by)."""
        deadline = time.monotonic() + WAIT_S
        while len(self.hub.fanout.subscribers) != count:
            assert time.monotonic() < deadline, f"{len(self.hub.fanout.subscribers)} subscribers, not {count}"
            time.sleep(0.01)

    def wait_for_received(self, count: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while self.hub.received < count:
            assert time.monotonic() < deadline, f"{self.hub.received} events received, not {count}"
            time.sleep(0.01)


@contextmanager
def instance(config: Config) -> Iterator[Instance]:
    app = build_app(config)
    with serving(app) as url:
        yield Instance(url, app)


async def open_connection(
    instance: Instance, init: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> ClientConnection:
    """A graphql-transport-ws connection after connection_init (acknowledged or not: the caller reads)."""
    ws = await connect(instance.ws_url, subprotocols=[PROTOCOL], additional_headers=headers)
    await ws.send(json.dumps({"type": "connection_init", "payload": init or {}}))
    return ws


class Client:
    """One acknowledged connection; results kept per operation id, in the order they came."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._waiting: dict[str, list[dict[str, Any]]] = {}

    async def subscribe(self, operation_id: str, query: str, **variables: Any) -> None:
        message = {"id": operation_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        await self.ws.send(json.dumps(message))

    async def next(self, operation_id: str) -> dict[str, Any]:
        """The next result of ``operation_id`` (``{"errors": ...}`` for an error message); pings answered."""
        while not self._waiting.get(operation_id):
            message = await receive(self.ws)
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            assert message["type"] in ("next", "error", "complete"), message
            if message["type"] != "complete":
                payload = message["payload"] if message["type"] == "next" else {"errors": message["payload"]}
                self._waiting.setdefault(message["id"], []).append(payload)
        return self._waiting[operation_id].pop(0)


@asynccontextmanager
async def connected(
    instance: Instance, init: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[Client]:
    """An acknowledged connection, closed on the way out whatever happened."""
    ws = await open_connection(instance, init, headers)
    try:
        reply = await receive(ws)
        assert reply["type"] == "connection_ack", reply
        yield Client(ws)
    finally:
        await ws.close()


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
    return message


def events_section(redis_url: str | None, channel: str, queue_size: int = 256) -> str:
    url = redis_url or "memory://"
    return f'events: {{url: "{url}", channel: "{channel}", queue_size: {queue_size}}}'
