"""An httpx transport over aiohttp: the same httpx client API, a third of the CPU per upstream call.

A customer-360 query makes a dozen or more upstream calls, and with httpx's default transport (httpcore)
each costs about 1 ms of CPU (measured in docs/benchmarks.md); aiohttp's C-accelerated HTTP costs about
0.36 ms. Adapters and tests keep using ``httpx.AsyncClient`` (and may still pass their own transport).

Faults are translated to the httpx exceptions httpcore raises for the same event, because
:mod:`crmgraph.adapters.sdk.http` decides the error code from them:

=====================================  =================================================================
what happened                          raised as
=====================================  =================================================================
refused / unreachable                  ``httpx.ConnectError``
peer hung up before answering          ``httpx.RemoteProtocolError("... without sending a response")``
body cut before its length             ``httpx.RemoteProtocolError("... without sending complete ...")``
connection reset while reading         ``httpx.ReadError``
no answer in time                      ``httpx.ConnectTimeout`` / ``httpx.ReadTimeout``
=====================================  =================================================================
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import yarl


def _timeout(limits: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
    # httpx puts the client's timeout on each request; honour the same connect and read limits.
    return aiohttp.ClientTimeout(total=None, sock_connect=limits.get("connect"), sock_read=limits.get("read"))


@dataclass(frozen=True, slots=True)
class Answer:
    """An upstream's answer read whole, as :meth:`AiohttpTransport.exchange` gives it: what an adapter reads of
    an ``httpx.Response`` (``headers.get`` ignores case)."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    reason_phrase: str


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, max_connections: int = 10) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.max_connections, ttl_dns_cache=300)
            # httpx decodes bodies itself (from the headers we hand back), so aiohttp must not.
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        status, headers, content, _ = await self._read(
            request.method,
            str(request.url),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            body,
            request.extensions.get("timeout", {}),
            request,
            decompress=False,
        )
        # (bytes, bytes) pairs, which httpx takes as they are, and decodes the body by them.
        return httpx.Response(status, headers=headers, content=content, request=request)

    async def exchange(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, limits: Mapping[str, float | None]
    ) -> Answer:
        """One request without httpx's request and response objects (``HttpSource``'s path for a plain URL):
        ``url`` is already quoted. Faults raise the httpx exceptions the table above names."""
        status, headers_read, content, reason = await self._read(
            method, url, headers, body, limits, None, decompress=True
        )
        return Answer(status, headers_read, content, reason)

    async def _read(
        self,
        method: str,
        url: str,
        headers: Any,
        body: bytes | None,
        limits: Mapping[str, float | None],
        request: httpx.Request | None,
        *,
        decompress: bool,
    ) -> tuple[int, Any, bytes, str]:
        session = self._open()
        try:
            async with session.request(
                method,
                # The URL is already quoted; telling yarl so spares a second parse and quoting pass.
                yarl.URL(url, encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=_timeout(limits),
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
            ) as answer:
                content = await answer.read()
                if decompress:
                    content = _decoded(content, answer.headers.get("Content-Encoding", ""))
                    return answer.status, answer.headers, content, answer.reason or ""
                return answer.status, answer.raw_headers, content, answer.reason or ""
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request) from exc
        except aiohttp.ClientPayloadError as exc:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from exc
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
        except (TimeoutError, aiohttp.SocketTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (aiohttp.ClientOSError, aiohttp.ClientConnectionError) as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _decoded(content: bytes, encoding: str) -> bytes:
    """The body as sent before its ``Content-Encoding``, as httpx's decoders give it on the httpx path: gzip
    and deflate undone (last applied first), any other coding left as it is."""
    for coding in reversed([part.strip().lower() for part in encoding.split(",") if part.strip()]):
        try:
            if coding == "gzip":
                content = zlib.decompress(content, zlib.MAX_WBITS | 16)
            elif coding == "deflate":
                try:
                    content = zlib.decompress(content)
                except zlib.error:  # raw deflate, without the zlib wrapper, as some servers send it
                    content = zlib.decompress(content, -zlib.MAX_WBITS)
        except zlib.error as exc:
            raise httpx.DecodingError(f"the {coding} body could not be decoded: {exc}") from exc
    return content
