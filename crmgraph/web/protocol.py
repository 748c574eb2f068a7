"""The HTTP/1.1 connection, guarded: the request head's size, its field count and the time to deliver it.

uvicorn's httptools protocol reads request heads of any size and waits forever for a connection that
sends nothing or sends its head a byte at a time (its keep-alive timeout only runs between requests).
This subclass counts while llhttp parses and refuses at the first byte past a limit, before the request
reaches the application:

- a request line past ``max_head_bytes``: 414; header fields past ``max_head_bytes`` (with the request
  line) or more than ``max_headers`` of them: 431;
- a head not complete ``head_timeout_s`` after the connection opened (or after the request's first byte,
  for a later request on a kept-alive connection): 408 if part of a request arrived, else the connection
  is closed without a word (an answer to a request never made would confuse a client reusing it).

Every refusal answers with the JSON body of :mod:`crmgraph.web.problems` and closes the connection, with
a *lingering* close (as nginx does): the answer is followed by a FIN, what the client still sends is read
and dropped for up to ``LINGER_S``, and only then is the socket closed. Closing a socket with unread data
makes the kernel send a reset, which can destroy the answer before the client reads it; a client sending
a 100 MB body would never learn why it was cut off. The same close ends every answer sent with
``Connection: close`` (a 413 from :mod:`crmgraph.web.body`).
"""

from __future__ import annotations

import asyncio
from asyncio import TimerHandle
from typing import Any, ClassVar, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from crmgraph.config import HttpLimitsConfig
from crmgraph.web.problems import HttpRefusal

# How long a refused client's remaining bytes are read and dropped before the socket is closed.
LINGER_S = 2.0


class _LingeringTransport:
    """The transport as a request's cycle sees it: closing it lingers (everything else is delegated)."""

    def __init__(self, transport: asyncio.Transport, linger: Any) -> None:
        self._transport = transport
        self._linger = linger

    def close(self) -> None:
        self._linger()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[HttpLimitsConfig] = HttpLimitsConfig()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: TimerHandle | None = None
        self._head_bytes = 0
        self._header_count = 0
        self._in_head = False
        self._awaiting_head = True
        self._head_received = 0  # bytes received since the head began, counted before llhttp buffers them
        self._refused = False
        self._lingering = False

    # Connection events
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused or self._lingering:  # the rest of a refused request is dropped unparsed
            return
        if self._awaiting_head:
            self._head_received += len(data)
        super().data_received(data)
        # httptools hands over a header only once its value is complete: a single header of 100 MB would be
        # buffered whole before on_header could refuse it. Counting what arrives keeps the buffer bounded.
        if not self._refused and self._awaiting_head and self._head_received > self.limits.max_head_bytes:
            self._refuse(self._head_too_large())

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._header_count = 0
        self._in_head = True
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        if self._refused:
            return
        self._head_bytes += len(url)
        if self._head_bytes > self.limits.max_head_bytes:
            limit = int(self.limits.max_head_bytes)
            self._refuse(
                HttpRefusal(
                    414,
                    "URL_TOO_LONG",
                    f"The request line is longer than {limit} bytes (server.http.max_head_bytes); "
                    "send a long query with POST.",
                    part="url",
                    expected=f"a request line and headers of at most {limit} bytes",
                    limit=limit,
                )
            )
            return
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        # llhttp may call back more than once for one long field; each call counts its bytes, and a field
        # is counted when its name arrives.
        self._head_bytes += len(name) + len(value) + 4
        if name:
            self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refuse(
                HttpRefusal(
                    431,
                    "TOO_MANY_HEADERS",
                    f"The request has more than {self.limits.max_headers} header fields (server.http.max_headers).",
                    part="headers",
                    expected=f"at most {self.limits.max_headers} header fields",
                    limit=self.limits.max_headers,
                )
            )
            return
        if self._head_bytes > self.limits.max_head_bytes:
            self._refuse(self._head_too_large())
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._disarm_head_timer()
        self._in_head = self._awaiting_head = False
        self._head_received = 0
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = cast(asyncio.Transport, _LingeringTransport(self.transport, self._linger))

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            self._awaiting_head = True
            super().on_message_complete()

    # The guard
    def _head_too_large(self) -> HttpRefusal:
        limit = int(self.limits.max_head_bytes)
        return HttpRefusal(
            431,
            "HEADERS_TOO_LARGE",
            f"The request line and headers exceed {limit} bytes (server.http.max_head_bytes).",
            part="headers",
            expected=f"a request line and headers of at most {limit} bytes",
            limit=limit,
        )

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.head_timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if not self._in_head:
            self.transport.close()  # a connection that never started a request
            return
        seconds = self.limits.head_timeout_s
        self._refuse(
            HttpRefusal(
                408,
                "HEAD_TIMEOUT",
                f"The request line and headers did not arrive within {seconds:g} s (server.http.head_timeout_s).",
                part="headers",
                expected=f"the request line and headers within {seconds:g} s",
                limit=seconds,
            )
        )

    def _refuse(self, refusal: HttpRefusal) -> None:
        self._refused = True
        self._disarm_head_timer()
        if self.cycle is None or self.cycle.response_complete:
            # Not in the middle of answering an earlier (pipelined) request: the refusal can be written.
            self.transport.write(refusal.raw())
        self.logger.info("request refused at the connection: %s %s", refusal.status, refusal.code)
        self._linger()

    def _linger(self) -> None:
        """Close after the client has read the answer: FIN now, the socket when the client closes its side
        (``eof_received``) or after ``LINGER_S``."""
        if self._lingering or self.transport.is_closing():
            return
        self._lingering = True
        self._disarm_head_timer()
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)


def guarded_protocol(limits: HttpLimitsConfig) -> type[GuardedHttpToolsProtocol]:
    """The protocol class uvicorn instantiates per connection, bound to ``limits``."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})
