"""HTTP for adapters: one httpx transport per source, every fault mapped to a typed error, every call logged.

An adapter calls :meth:`HttpSource.get_json` / :meth:`HttpSource.post_json` and gets decoded JSON, or
``None`` for a 404 when it asked for ``allow_missing``. Everything else that can go wrong (refused or
reset connections, timeouts, 429, 5xx, HTML error pages, truncated or invalid JSON) arrives as a
:class:`~crmgraph.errors.SourceError` subclass naming the source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

import httpx
import orjson

from crmgraph import __version__
from crmgraph.adapters.sdk.aio_transport import AiohttpTransport, Answer
from crmgraph.adapters.sdk.calls import trace_headers, upstream_call
from crmgraph.adapters.sdk.resilience import TransientBadResponse, remaining, round_trip_permit
from crmgraph.errors import (
    SourceError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
DEFAULT_HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": f"crmgraph/{__version__}",
}


def _prepare_auth(auth: httpx.Auth | tuple[str, str] | None) -> tuple[httpx.Auth | None, dict[str, str]]:
    """Basic auth as a ready header (the common case, no per-call flow); any other ``httpx.Auth`` as a flow."""
    if auth is None:
        return None, {}
    if isinstance(auth, tuple):
        auth = httpx.BasicAuth(*auth)
    if isinstance(auth, httpx.BasicAuth):
        probe = next(auth.auth_flow(httpx.Request("GET", "http://127.0.0.1/")))
        return None, {"Authorization": probe.headers["Authorization"]}
    return auth, {}


# A URL (before its query) of characters that need no quoting: sent as it is. Anything else (a space, a
# non-ASCII letter, a "%") goes through httpx, which quotes it.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9/._~!$&'()*+,;=:@-]*)?")
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9/._~!$&'()*+,;=:@?-]*")


def _plain_url(url: str, params: Mapping[str, Any] | None) -> str | None:
    """``url`` with ``params`` as its query, spelled as httpx spells it (``params`` replace a query the URL
    had, as with httpx); None when the URL needs quoting, which httpx then does."""
    if params is not None:
        url = url.partition("?")[0]
    head, _, query = url.partition("?")
    if _PLAIN_URL.fullmatch(head) is None or (query and _PLAIN_QUERY.fullmatch(query) is None):
        return None
    if not params:
        return url
    query = "&".join(f"{_quoted(str(key))}={_quoted(_query_value(item))}" for key, value in params.items()
                     for item in (value if isinstance(value, list | tuple) else (value,)))  # fmt: skip
    return f"{url}?{query}"


# What ``urlencode`` (``quote_plus``) makes of each ASCII character: itself when unreserved, "+" for a space,
# else its percent code. A table for ``str.translate``: quote_plus walks a long value (a search over fifty
# organizations, ``show_many`` of fifty ids) character by character in Python.
_QUOTED_ASCII = {
    code: character if character.isalnum() or character in "_.-~" else f"%{code:02X}"
    for code, character in ((code, chr(code)) for code in range(128))
}
_QUOTED_ASCII[ord(" ")] = "+"


def _quoted(text: str) -> str:
    """``text`` as ``urlencode`` quotes a key or value."""
    return text.translate(_QUOTED_ASCII) if text.isascii() else quote_plus(text)


def _query_value(value: Any) -> str:
    # httpx's spelling of a query value: JSON-like booleans, an empty string for None.
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def _retry_after(response: httpx.Response | Answer) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP-date; rare for APIs, and waiting "a bit" is the safe reading


def _upstream_message(response: httpx.Response | Answer) -> str:
    """The upstream's own words when it gave some (HubSpot ``message``, Zendesk ``description``)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        # A proxy's HTML error page, a plain-text 429: the status decides the code; say what came instead.
        kind = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
        return f"{response.reason_phrase or response.status_code} ({kind} body, not JSON)"
    if isinstance(body, dict):
        for key in ("message", "description", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return str(response.status_code)


class HttpSource:
    """The HTTP side of an adapter for one source.

    Requests go straight to an httpx transport (aiohttp underneath by default, see ``aio_transport``)
    rather than through ``httpx.AsyncClient``: an API client needs none of the client's cookie jar,
    redirect loop or URL merging, and those cost about as much CPU per call as the transport itself.
    With the default transport and no auth flow, a request whose URL needs no quoting skips httpx's
    request and response objects too (:meth:`AiohttpTransport.exchange`); the answer and the faults read
    the same either way.
    """

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_connections: int = 10,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # aiohttp underneath unless a test or plugin brings its own (see aio_transport for why).
        self.transport = transport if transport is not None else AiohttpTransport(max_connections)
        self._auth_flow, auth_headers = _prepare_auth(auth)
        self._headers = {**DEFAULT_HEADERS, **(headers or {}), **auth_headers}
        # Requests go to aiohttp directly when nothing needs httpx's request object (no auth flow, a plain
        # URL): building one checks every character of the URL, 130-180 µs for a search with 50 ids.
        self._direct: AiohttpTransport | None = None
        if isinstance(self.transport, AiohttpTransport) and self._auth_flow is None:
            self._direct = self.transport

    async def close(self) -> None:
        await self.transport.aclose()

    async def get_json(self, path: str, *, params: Mapping[str, Any] | None = None, allow_missing: bool = False) -> Any:
        return await self._request("GET", path, params=params, body=None, allow_missing=allow_missing)

    async def post_json(self, path: str, body: Any, *, allow_missing: bool = False) -> Any:
        return await self._request("POST", path, params=None, body=body, allow_missing=allow_missing)

    async def send_json(
        self, method: str, path: str, body: Any, *, headers: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        """A write: the status and the decoded JSON body of a 2xx or a 4xx other than 429 (a refusal the adapter
        reads, such as a 422 naming the fields); a 429 or a 5xx raises as for a read. ``headers`` are sent
        beside the source's own (a precondition, say)."""
        await round_trip_permit(self.source)
        with upstream_call(self.source, f"{method} {path}") as call:
            response = await self._send(method, path, None, body, headers)
            call.outcome = str(response.status_code)
            if response.status_code == 429 or response.status_code >= 500 or response.status_code < 400:
                return response.status_code, self._decode(response, allow_missing=False)
            try:
                return response.status_code, orjson.loads(response.content)
            except orjson.JSONDecodeError:
                return response.status_code, {"message": _upstream_message(response)}

    async def _request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None, body: Any, allow_missing: bool
    ) -> Any:
        await round_trip_permit(self.source)  # the source's rate limit and 429 pause, per request
        with upstream_call(self.source, f"{method} {path}") as call:
            response = await self._send(method, path, params, body)
            call.outcome = str(response.status_code)
            return self._decode(response, allow_missing)

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        extra: Mapping[str, str] | None = None,
    ) -> httpx.Response | Answer:
        headers = self._headers | dict(extra or {})
        content = None
        if body is not None:
            content = orjson.dumps(body)
            headers = headers | {"Content-Type": "application/json"}
        if traced := trace_headers():
            headers = headers | traced  # W3C trace context: the system's own traces join the request's
        url = path if "://" in path else self.base_url + path
        try:
            if self._direct is not None and (plain := _plain_url(url, params)) is not None:
                return await self._direct.exchange(method, plain, headers, content, self._timeout().as_dict())
            request = httpx.Request(
                method, url, params=params, headers=headers, content=content,
                extensions={"timeout": self._timeout().as_dict()},
            )  # fmt: skip
            return await self._exchange(request)
        except httpx.DecodingError as exc:
            raise UpstreamBadResponse(self.source, f"answered a body that could not be decoded ({exc})") from exc
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(self.source, f"no answer in time to {method} {path}") from exc
        except httpx.RemoteProtocolError as exc:
            # httpx words a hang-up before any answer "... without sending a response"; a body cut short is
            # "... without sending complete message body", which is a bad answer, not an absent one.
            if "without sending a response" in str(exc):
                raise UpstreamUnavailable(self.source, f"connection closed: {method} {path}") from exc
            raise TransientBadResponse(self.source, f"incomplete answer to {method} {path}") from exc
        except httpx.ConnectError as exc:  # not connected: nothing was sent
            raise UpstreamUnreachable(self.source, f"cannot reach it ({exc.__class__.__name__})") from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(self.source, f"cannot reach it ({exc.__class__.__name__})") from exc

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read the whole answer, through the auth flow when there is one."""
        if self._auth_flow is None:
            return await self._transmit(request)
        flow = self._auth_flow.async_auth_flow(request)
        request = await flow.__anext__()
        while True:
            response = await self._transmit(request)
            try:
                request = await flow.asend(response)
            except StopAsyncIteration:
                return response

    async def _transmit(self, request: httpx.Request) -> httpx.Response:
        response = await self.transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    def _timeout(self) -> httpx.Timeout:
        """The configured timeouts, each cut to what is left of the request's deadline.

        The SDK already bounds every call with the source's ``timeout_s`` and the deadline; this is the outer
        guard that also holds for a call made outside the SDK's public methods.
        """
        configured = self.timeout
        left = remaining()
        if left is None:
            return configured
        left = max(left, 0.001)

        def cut(value: float | None) -> float:
            return left if value is None else min(value, left)

        return httpx.Timeout(
            connect=cut(configured.connect),
            read=cut(configured.read),
            write=cut(configured.write),
            pool=cut(configured.pool),
        )

    def _decode(self, response: httpx.Response | Answer, allow_missing: bool) -> Any:
        status = response.status_code
        if status == 404 and allow_missing:
            return None
        if status == 429:
            after = _retry_after(response)
            raise UpstreamRateLimited(self.source, f"rate limited; retry after {after or '?'} s", after)
        if status >= 500:
            raise UpstreamUnavailable(self.source, f"answered {status}: {_upstream_message(response)}")
        if status >= 400:
            raise UpstreamRejected(self.source, f"refused the request ({status}): {_upstream_message(response)}")
        content_type = response.headers.get("content-type", "")
        if "json" not in content_type:
            raise UpstreamBadResponse(self.source, f"answered {content_type or 'no content type'}, not JSON")
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamBadResponse(self.source, "answered with invalid JSON") from exc


def expect(source: str, condition: bool, what: str) -> None:
    """Guard an assumption about an upstream answer's shape; a broken one is a bad response, not a crash."""
    if not condition:
        raise UpstreamBadResponse(source, f"unexpected answer: {what}")


__all__ = ["HttpSource", "SourceError", "expect"]
