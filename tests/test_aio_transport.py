"""The aiohttp transport gives every upstream fault the same error code as httpx's own transport, and
HttpSource sends what an API expects: its own User-Agent, JSON accepted, credentials by header or flow."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from crmgraph import __version__
from crmgraph.adapters.sdk.aio_transport import AiohttpTransport
from crmgraph.adapters.sdk.http import HttpSource
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
