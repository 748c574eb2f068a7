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

import aiohttp
import httpx
import yarl


def _timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    # httpx puts the client's timeout on each request; honour the same connect and read limits.
    limits = request.extensions.get("timeout", {})
    return aiohttp.ClientTimeout(total=None, sock_connect=limits.get("connect"), sock_read=limits.get("read"))


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
        session = self._open()
        body = await request.aread()
        try:
            async with session.request(
                request.method,
                # httpx has already quoted the URL; telling yarl so spares a second parse and quoting pass.
                yarl.URL(str(request.url), encoded=True),
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
                data=body or None,
                allow_redirects=False,
                timeout=_timeout(request),
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
            ) as answer:
                content = await answer.read()
                return httpx.Response(
                    answer.status,
                    headers=answer.raw_headers,  # (bytes, bytes) pairs, which httpx takes as they are
                    content=content,
                    request=request,
                )
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
