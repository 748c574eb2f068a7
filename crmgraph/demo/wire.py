"""A small HTTP/1.1 server (h11) that runs an ASGI app and lets it break the connection on purpose.

The simulated legacy systems need faults no production server offers: resetting a connection, or
closing it halfway through a body. An app asks for those by raising :class:`AbortConnection` (nothing
more is sent; the peer sees a TCP reset) or :class:`TruncateBody` (what was sent so far stays on the
wire, then the connection closes before the promised ``Content-Length``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

import h11

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(__name__)
MAX_REQUEST_BODY = 16 * 1024 * 1024
_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}


class AbortConnection(Exception):
    """Raised by an app to reset the connection without answering."""


class TruncateBody(Exception):
    """Raised by an app after sending part of a body: close the connection mid-message."""


class _Connection:
    def __init__(self, app: ASGIApp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.app = app
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.SERVER)
        sock = writer.get_extra_info("sockname")
        peer = writer.get_extra_info("peername")
        self.server = (sock[0], sock[1]) if sock else None
        self.client = (peer[0], peer[1]) if peer else None

    async def _next_event(self) -> Any:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.reader.read(65536)
            self.conn.receive_data(data)

    def _write(self, event: Any) -> None:
        data = self.conn.send(event)
        if data:
            self.writer.write(data)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def serve(self) -> None:
        try:
            while True:
                event = await self._next_event()
                if isinstance(event, h11.ConnectionClosed | h11.PAUSED):
                    break
                if not isinstance(event, h11.Request):
                    break
                keep_going = await self._handle(event)
                if not keep_going or self.conn.our_state is not h11.DONE:
                    break
                self.conn.start_next_cycle()
        except (h11.RemoteProtocolError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if not self.writer.transport.is_closing():
                self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    async def _read_body(self) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > MAX_REQUEST_BODY:
                    raise h11.RemoteProtocolError("request body too large")
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:
                raise h11.RemoteProtocolError("unexpected event while reading the body")

    async def _handle(self, request: h11.Request) -> bool:
        body = await self._read_body()
        target = bytes(request.target)
        path, _, query = target.partition(b"?")
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": request.http_version.decode(),
            "method": request.method.decode(),
            "scheme": "http",
            "path": path.decode("latin-1"),
            "raw_path": path,
            "query_string": query,
            "root_path": "",
            "headers": [(bytes(k).lower(), bytes(v)) for k, v in request.headers],
            "client": self.client,
            "server": self.server,
        }
        delivered = False

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client sends nothing more; block like a real server
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                status = message["status"]
                reason = _REASONS.get(status, b"")
                self._write(h11.Response(status_code=status, headers=headers, reason=reason))
            elif message["type"] == "http.response.body":
                data = message.get("body", b"")
                if data:
                    self._write(h11.Data(data=data))
                if not message.get("more_body", False):
                    self._write(h11.EndOfMessage())
                await self.writer.drain()

        try:
            await self.app(scope, receive, send)
        except AbortConnection:
            self._reset()
            return False
        except TruncateBody:
            await self.writer.drain()
            self.writer.close()
            return False
        except ConnectionError:  # the client went away mid-answer: its business, not a fault of ours
            return False
        except Exception:
            log.exception("unhandled error in the simulated system")
            if self.conn.our_state is h11.SEND_RESPONSE:
                self._write(h11.Response(status_code=500, headers=[("content-length", "0")]))
                self._write(h11.EndOfMessage())
            return False
        return True


class Server:
    """Serve one ASGI app on one address until :meth:`close`."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connection, self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await _Connection(self.app, reader, writer).serve()
        finally:
            self._tasks.discard(task)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            await self._server.wait_closed()


@contextmanager
def serving_in_thread(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` on a free loopback port from a background thread (tests, notebooks); yield its URL."""
    server = Server(app)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=10)
    try:
        yield server.url
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
