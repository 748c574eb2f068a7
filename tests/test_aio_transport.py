"""The aiohttp transport gives every upstream fault the same error code as httpx's own transport, and
HttpSource sends what an API expects: its own User-Agent, JSON accepted, credentials by header or flow."""

from __future__ import annotations

import asyncio
import base64
import gzip
import sqlite3
import zlib
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crmgraph import __version__
from crmgraph.adapters.sdk.aio_transport import AiohttpTransport
from crmgraph.adapters.sdk.http import HttpSource, _plain_url
from crmgraph.demo.wire import serving_in_thread
from crmgraph.errors import SourceError
from tests.conftest import Estate

PATH = "/crm/v3/objects/companies"
FAULTS: dict[str, dict[str, Any]] = {
    "none": {},
    "down": {"down": True},
    "server error": {"error_rate": 1.0},
    "rate limited": {"rate_limit_per_s": 0.001},
    "truncated json": {"malformed_rate": 1.0, "malformed_kinds": ["truncated_json"]},
    "invalid json": {"malformed_rate": 1.0, "malformed_kinds": ["invalid_json"]},
    "html page": {"malformed_rate": 1.0, "malformed_kinds": ["html_page"]},
    "cut transfer": {"malformed_rate": 1.0, "malformed_kinds": ["cut_transfer"]},
    "slow": {"latency_ms": 1500},
}


def _outcome(estate: Estate, transport: httpx.AsyncBaseTransport | None, base_url: str | None = None) -> str:
    async def main() -> str:
        source = HttpSource(
            "crm",
            base_url or estate.crm_url,
            headers={"Authorization": f"Bearer {estate.credentials.crm_token}"},
            timeout=httpx.Timeout(0.5, connect=0.5),
            transport=transport,
        )
        try:
            # Two calls: the first may be let through by a rate limiter's initial token.
            for _ in range(2):
                await source.get_json(PATH, params={"limit": "1"})
            return "ok"
        except SourceError as error:
            return error.code
        finally:
            await source.close()

    return asyncio.run(main())


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_gets_the_same_code_over_aiohttp_as_over_httpcore(estate: Estate, fault: str) -> None:
    estate.faults("crm", **FAULTS[fault])
    over_httpcore = _outcome(estate, httpx.AsyncHTTPTransport())
    over_aiohttp = _outcome(estate, None)  # the default
    assert over_aiohttp == over_httpcore
    expected = {
        "none": "ok", "down": "UPSTREAM_UNAVAILABLE", "server error": "UPSTREAM_UNAVAILABLE",
        "rate limited": "UPSTREAM_RATE_LIMITED", "truncated json": "UPSTREAM_BAD_RESPONSE",
        "invalid json": "UPSTREAM_BAD_RESPONSE", "html page": "UPSTREAM_UNAVAILABLE",
        "cut transfer": "UPSTREAM_BAD_RESPONSE", "slow": "UPSTREAM_TIMEOUT",
    }  # fmt: skip
    assert over_aiohttp == expected[fault]


def test_a_closed_port_is_unavailable_over_both_transports(estate: Estate) -> None:
    closed = "http://127.0.0.1:9"
    over_httpcore = _outcome(estate, httpx.AsyncHTTPTransport(), closed)
    assert over_httpcore == _outcome(estate, AiohttpTransport(), closed) == "UPSTREAM_UNAVAILABLE"


def test_requests_and_answers_cross_intact(estate: Estate) -> None:
    conn = sqlite3.connect(estate.layout.crm_db)
    query = "SELECT id FROM objects WHERE object_type = 'companies' ORDER BY id LIMIT 2"
    companies = [str(row[0]) for row in conn.execute(query)]
    conn.close()

    async def main() -> tuple[Any, Any]:
        plain = HttpSource(
            "crm", estate.crm_url, headers={"Authorization": f"Bearer {estate.credentials.crm_token}"},
            transport=httpx.AsyncHTTPTransport(),
        )  # fmt: skip
        fast = HttpSource(
            "crm", estate.crm_url, headers={"Authorization": f"Bearer {estate.credentials.crm_token}"},
            transport=AiohttpTransport(),
        )  # fmt: skip
        body = {"inputs": [{"id": known} for known in companies], "properties": ["name", "domain"]}
        try:
            return (
                await plain.post_json("/crm/v3/objects/companies/batch/read", body),
                await fast.post_json("/crm/v3/objects/companies/batch/read", body),
            )
        finally:
            await plain.close()
            await fast.close()

    plain, fast = asyncio.run(main())
    for answer in (plain, fast):
        answer.pop("startedAt"), answer.pop("completedAt")
    assert plain == fast and fast["results"]


def _echo_app() -> Starlette:
    """Answers with the request's headers; asks for a second round when no challenge answer is sent."""

    async def echo(request: Request) -> JSONResponse:
        if request.headers.get("x-challenge") is None and request.query_params.get("challenge"):
            return JSONResponse({}, status_code=401, headers={"WWW-Authenticate": "Challenge nonce=n-42"})
        return JSONResponse(dict(request.headers))

    return Starlette(routes=[Route("/echo", echo, methods=["GET"])])


class _ChallengeAuth(httpx.Auth):
    """A two-round scheme (like Digest): answer the server's challenge on a second request."""

    def auth_flow(self, request: httpx.Request) -> Any:
        response = yield request
        if response.status_code == 401:
            request.headers["X-Challenge"] = response.headers["WWW-Authenticate"].split("nonce=")[1]
            yield request


@pytest.mark.parametrize("transport", [None, "httpcore"])
def test_requests_carry_the_products_headers_and_basic_or_flow_credentials(transport: str | None) -> None:
    async def main(url: str) -> tuple[Any, Any]:
        chosen = httpx.AsyncHTTPTransport() if transport else None
        basic = HttpSource("s", url, auth=("api@example.test/token", "secret"), transport=chosen)
        chosen = httpx.AsyncHTTPTransport() if transport else None
        flow = HttpSource("s", url, auth=_ChallengeAuth(), transport=chosen)
        try:
            return await basic.get_json("/echo"), await flow.get_json("/echo", params={"challenge": "1"})
        finally:
            await basic.close()
            await flow.close()

    with serving_in_thread(_echo_app()) as url:
        basic, flow = asyncio.run(main(url))
    assert basic["user-agent"] == f"crmgraph/{__version__}" and basic["accept"] == "application/json"
    assert basic["authorization"] == "Basic " + base64.b64encode(b"api@example.test/token:secret").decode()
    assert flow["x-challenge"] == "n-42" and "authorization" not in flow


PARAMS: list[tuple[str, dict[str, Any] | None]] = [
    ("/api/v2/search/export", {"query": "type:ticket organization_id:1 organization_id:2", "page[size]": 1000}),
    ("/api/v2/users/show_many", {"ids": "1,2,3"}),
    ("/echo?kept=1", None),
    ("/echo?dropped=1", {"b": "ä ö/&=+"}),
    ("/echo", {"t": True, "f": False, "n": None, "l": ["a", "b"], "t2": ("c",)}),
    ("/echo", {}),
    ("/crm/v3/owners", {"limit": 100, "after": "abc"}),
    ("/echo", {"every ascii": "".join(map(chr, range(128))), "ids": ",".join(map(str, range(50))), "ü": "€ ß"}),
]


@pytest.mark.parametrize(("path", "params"), PARAMS)
def test_a_url_sent_straight_is_the_one_httpx_would_send(path: str, params: dict[str, Any] | None) -> None:
    url = "http://127.0.0.1:8080" + path
    assert _plain_url(url, params) == str(httpx.Request("GET", url, params=params).url)


@pytest.mark.parametrize("path", ["/a b", "/ä", "/50%25", "/x?q=a b", "/x?q=%zz", "/x#part"])
def test_a_url_that_needs_quoting_is_left_to_httpx(path: str) -> None:
    assert _plain_url("http://127.0.0.1:8080" + path, None) is None


def _coded_app() -> Starlette:
    """Answers JSON compressed as asked (``?coding=gzip|deflate|raw-deflate``), or a corrupt gzip body, and
    echoes the query string it got."""

    async def coded(request: Request) -> Response:
        body = orjson.dumps({"query": request.url.query, "items": list(range(50))})
        coding = request.query_params.get("coding", "")
        if coding == "gzip":
            body = gzip.compress(body)
        elif coding == "deflate":
            body = zlib.compress(body)
        elif coding == "raw-deflate":
            squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            body, coding = squeezer.compress(body) + squeezer.flush(), "deflate"
        elif coding == "corrupt":
            body, coding = b"\x1f\x8b not gzip at all", "gzip"
        headers = {"Content-Encoding": coding} if coding else {}
        return Response(body, media_type="application/json", headers=headers)

    return Starlette(routes=[Route("/coded", coded, methods=["GET"])])


@pytest.mark.parametrize("coding", ["", "gzip", "deflate", "raw-deflate", "corrupt"])
def test_answers_sent_straight_read_as_over_httpcore(coding: str) -> None:
    params = {"coding": coding, "query": "type:ticket organization_id:7", "page[size]": 5}

    async def outcome(url: str, transport: httpx.AsyncBaseTransport | None) -> Any:
        source = HttpSource("tickets", url, transport=transport)
        try:
            return await source.get_json("/coded", params=params)
        except SourceError as error:
            return error.code
        finally:
            await source.close()

    async def main(url: str) -> tuple[Any, Any]:
        return await outcome(url, None), await outcome(url, httpx.AsyncHTTPTransport())

    with serving_in_thread(_coded_app()) as url:
        straight, over_httpcore = asyncio.run(main(url))
    assert straight == over_httpcore
    if coding == "corrupt":
        assert straight == "UPSTREAM_BAD_RESPONSE"
    else:
        assert straight["items"] == list(range(50)) and "organization_id%3A7" in straight["query"]
