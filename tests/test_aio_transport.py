"""The aiohttp transport gives every upstream fault the same error code as httpx's own transport."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from crmgraph.adapters.aio_transport import AiohttpTransport
from crmgraph.adapters.http import HttpSource
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
    over_httpcore = _outcome(estate, None)
    over_aiohttp = _outcome(estate, AiohttpTransport())
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
    assert _outcome(estate, None, closed) == _outcome(estate, AiohttpTransport(), closed) == "UPSTREAM_UNAVAILABLE"


def test_requests_and_answers_cross_intact(estate: Estate) -> None:
    async def main() -> tuple[Any, Any]:
        plain = HttpSource("crm", estate.crm_url, headers={"Authorization": f"Bearer {estate.credentials.crm_token}"})
        fast = HttpSource(
            "crm", estate.crm_url, headers={"Authorization": f"Bearer {estate.credentials.crm_token}"},
            transport=AiohttpTransport(),
        )  # fmt: skip
        body = {"inputs": [{"id": "4100000000"}, {"id": "4100000002"}], "properties": ["name", "domain"]}
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
