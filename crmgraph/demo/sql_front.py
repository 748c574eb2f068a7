"""A fault-injecting TCP front for a SQL server, so the ERP can be slowed down or taken down too.

The HTTP systems of the estate take faults through ``/_control``; a database server shared with other
users cannot be stopped for a test. The front listens on its own port and pipes every connection to the
real server (PostgreSQL, MariaDB), applying the same :class:`~crmgraph.demo.faults.FaultPlan`:

- ``down``: new connections are reset at once and open ones are reset, as a crashed server would;
- ``latency_ms`` / ``jitter_ms``: every message from the client waits that long before it goes on,
  which is one delay per statement for the request/response protocols of SQL servers.

Its control API (``GET/POST /_control/faults``, ``GET /_control/stats``, ``POST /_control/reset``) is served
on a second port by the same server as the HTTP systems' control.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crmgraph.demo.faults import FaultInjector, FaultPlan
from crmgraph.demo.instruments import json_response, parse_fault_plan
from crmgraph.demo.wire import Server


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class FrontStats:
    connections: int = 0
    refused: int = 0
    messages: int = 0

    def snapshot(self) -> dict[str, int]:
        return {"connections": self.connections, "refused": self.refused, "messages": self.messages}


@dataclass
class SqlFront:
    """Pipe ``listen_port`` to ``target_host:target_port`` under a fault plan."""

    target_host: str
    target_port: int
    host: str = "127.0.0.1"
    port: int = 0
    faults: FaultInjector = field(default_factory=FaultInjector)
    stats: FrontStats = field(default_factory=FrontStats)

    def __post_init__(self) -> None:
        self._server: asyncio.base_events.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()  # one per connection, awaited when closing

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in list(self._open):
            _reset(writer)
        # The reset connections' handlers end on their next step: let them, rather than leave them pending.
        await asyncio.wait_for(asyncio.gather(*self._handlers, return_exceptions=True), timeout=5)

    def set_faults(self, plan: FaultPlan) -> None:
        self.faults.set(plan)
        if plan.down:  # a crashed server drops the connections it had, not only new ones
            for writer in list(self._open):
                _reset(writer)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        if self.faults.plan.down:
            self.stats.refused += 1
            _reset(writer)
            return
        self.stats.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            _reset(writer)
            return
        self._open.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer, delay=True), self._pipe(up_reader, writer, delay=False))
        finally:
            for end in (writer, up_writer):
                self._open.discard(end)
                if not end.transport.is_closing():
                    end.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, delay: bool) -> None:
        try:
            while data := await source.read(65536):
                if delay:
                    self.stats.messages += 1
                    if wait := self.faults.delay_s():
                        await asyncio.sleep(wait)
                sink.write(data)
                await sink.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if not sink.transport.is_closing():
                with contextlib.suppress(Exception):
                    sink.write_eof()


def control_app(front: SqlFront) -> Starlette:
    async def get_faults(request: Request) -> Response:
        return json_response(front.faults.plan.model_dump(mode="json"))

    async def set_faults(request: Request) -> Response:
        plan = parse_fault_plan(await request.body())
        if isinstance(plan, Response):
            return plan
        front.set_faults(plan)
        return json_response(plan.model_dump(mode="json"))

    async def stats(request: Request) -> Response:
        return json_response({"system": "erp", **front.stats.snapshot()})

    async def reset(request: Request) -> Response:
        front.stats = FrontStats()
        return json_response({"reset": True})

    return Starlette(
        routes=[
            Route("/_control/faults", get_faults, methods=["GET"]),
            Route("/_control/faults", set_faults, methods=["POST"]),
            Route("/_control/stats", stats, methods=["GET"]),
            Route("/_control/reset", reset, methods=["POST"]),
        ]
    )


@contextmanager
def serving_front(database_url: str) -> Iterator[tuple[str, str]]:
    """Run a front for ``database_url`` in a background thread; yield (URL through the front, control URL)."""
    direct = make_url(database_url)
    loop = asyncio.new_event_loop()
    front = SqlFront(direct.host or "127.0.0.1", direct.port or 5432)
    control = Server(control_app(front))
    ready = threading.Event()
    stop = asyncio.Event()

    async def main() -> None:
        await front.start()
        await control.start()
        ready.set()
        await stop.wait()
        await front.close()
        await control.close()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the SQL front did not start")
    try:
        yield direct.set(port=front.port).render_as_string(hide_password=False), control.url
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()
