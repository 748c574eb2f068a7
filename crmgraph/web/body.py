"""The request body's limits, as ASGI middleware: its size and the time to deliver it.

The body is read whole here, before any route runs (GraphQL needs all of it anyway), and handed on as one
message. A declared ``Content-Length`` past the limit is refused before a byte of the body is read (and
before uvicorn answers ``Expect: 100-continue``); a chunked body is counted as it streams and refused at
the first chunk past the limit. Either way the connection is closed after the answer, so the rest of the
body is never read.
"""

from __future__ import annotations

import asyncio
import time

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crmgraph.web.media import JSON, negotiate
from crmgraph.web.problems import HttpRefusal


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            body = await self._read(headers, receive)
        except HttpRefusal as refusal:
            media_type = negotiate(headers.get("accept")) or JSON
            await refusal.response(media_type, close=True)(scope, receive, send)
            return
        if body is None:  # the client went away before sending all of it: nobody to answer
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # http.disconnect, when the client goes away

        await self.app(scope, replay, send)

    def _too_large(self, what: str) -> HttpRefusal:
        return HttpRefusal(
            413,
            "BODY_TOO_LARGE",
            f"The request body {what} exceeds the limit of {self.max_bytes} bytes (server.http.max_body_bytes).",
            part="body",
            expected=f"at most {self.max_bytes} bytes",
            limit=self.max_bytes,
        )

    async def _read(self, headers: Headers, receive: Receive) -> bytes | None:
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise HttpRefusal(
                    400,
                    "BAD_CONTENT_LENGTH",
                    f"Content-Length {declared[:40]!r} is not a number of bytes.",
                    part="headers.content-length",
                    expected="a non-negative integer",
                )
            if int(declared) > self.max_bytes:
                raise self._too_large(f"declared by Content-Length ({int(declared)} bytes)")
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    message = await receive()
            except TimeoutError:
                raise HttpRefusal(
                    408,
                    "BODY_TIMEOUT",
                    f"The request body did not arrive within {self.timeout_s:g} s "
                    f"(server.http.body_timeout_s); {size} bytes were received.",
                    part="body",
                    expected=f"the whole body within {self.timeout_s:g} s",
                    limit=self.timeout_s,
                ) from None
            if message["type"] != "http.request":  # http.disconnect
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large(f"({size} bytes received so far)")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
