"""The SDK's :class:`HttpSource` with what a described API needs beside the decoded body: the answer's headers
(RFC 8288 ``Link`` paging), any method, extra query parameters on every call (an API key in the query), and
a ``Link`` URL followed only on the configured host, so the credentials never leave it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from crmgraph.adapters.sdk.calls import upstream_call
from crmgraph.adapters.sdk.http import HttpSource
from crmgraph.adapters.sdk.resilience import round_trip_permit
from crmgraph.errors import UpstreamBadResponse


class RestHttp(HttpSource):
    def __init__(self, source: str, base_url: str, *, query: Mapping[str, Any], **options: Any) -> None:
        super().__init__(source, base_url, **options)
        self.query = dict(query)
        self._origin = urlsplit(self.base_url)[:2]

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        allow_missing: bool = False,
    ) -> tuple[Any, Mapping[str, str]]:
        """The decoded JSON answer (None for a 404 when ``allow_missing``) and the answer's headers."""
        if "://" in path and urlsplit(path)[:2] != self._origin:
            raise UpstreamBadResponse(self.source, f"a next page on another host ({urlsplit(path).netloc})")
        await round_trip_permit(self.source)
        with upstream_call(self.source, f"{method} {urlsplit(path).path or path}") as log:
            merged = (self.query | dict(params or {})) or None
            response = await self._send(method, path, merged, body, headers)
            log.outcome = str(response.status_code)
            return self._decode(response, allow_missing), response.headers

    async def send(
        self, method: str, path: str, body: Any, *, params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:  # fmt: skip
        """A write: the status and decoded body of a 2xx or of a 4xx other than 429 (a refusal to read);
        a 429 or a 5xx raises as for a read."""
        await round_trip_permit(self.source)
        with upstream_call(self.source, f"{method} {path}") as log:
            response = await self._send(method, path, (self.query | dict(params or {})) or None, body, headers)
            status = response.status_code
            log.outcome = str(status)
            if status == 429 or status >= 500 or status < 400:
                return status, self._decode(response, allow_missing=False)
            try:
                return status, orjson.loads(response.content)
            except orjson.JSONDecodeError:
                return status, {}

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """As the SDK's, but the auth flow is always closed: a flow that holds a lock (OAuth2's token renewal)
        releases it even when the token request fails."""
        if self._auth_flow is None:
            return await self._transmit(request)
        flow = self._auth_flow.async_auth_flow(request)
        try:
            request = await flow.__anext__()
            while True:
                response = await self._transmit(request)
                try:
                    request = await flow.asend(response)
                except StopAsyncIteration:
                    return response
        finally:
            await flow.aclose()
