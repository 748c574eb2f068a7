"""/metrics and /readyz's details for operators only: the addresses of server.operators (loopback by
default) or a principal with one of its roles; others get /readyz's status alone and a 403 from /metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from crmgraph.config import Config, OperatorsConfig
from tests.conftest import Estate
from tests.perimeter import asgi_client, error_of, perimeter_config, token

OUTSIDE = "203.0.113.7"


def _run(config: Config, address: str, scenario: Any) -> None:
    async def run() -> None:
        async with asgi_client(config, address) as client:
            await scenario(client)

    asyncio.run(run())


def test_loopback_reads_the_details_by_default(running_estate: Estate, linked_identity: str) -> None:
    async def scenario(client: Any) -> None:
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200 and "crmgraph_http_requests_total" in metrics.text
        ready = (await client.get("/readyz")).json()
        assert set(ready) == {"status", "unusable", "sources"}

    _run(perimeter_config(running_estate, linked_identity), "127.0.0.1", scenario)


def test_another_address_gets_the_status_alone_and_no_metrics(running_estate: Estate, linked_identity: str) -> None:
    async def scenario(client: Any) -> None:
        metrics = await client.get("/metrics")
        assert metrics.status_code == 403 and error_of(metrics)["extensions"]["code"] == "OPERATOR_ONLY"
        ready = await client.get("/readyz")
        assert ready.status_code in (200, 503) and set(ready.json()) == {"status"}
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        # Credentials without an operator role change nothing; the anonymous role never makes an operator.
        assert (await client.get("/metrics", headers=token("rex", "admin"))).status_code == 403

    _run(perimeter_config(running_estate, linked_identity), OUTSIDE, scenario)


def test_a_listed_block_or_an_operator_role_reads_the_details(running_estate: Estate, linked_identity: str) -> None:
    config = perimeter_config(
        running_estate, linked_identity, server={"operators": {"addresses": ["203.0.113.0/24"], "roles": ["ops"]}}
    )

    async def from_block(client: Any) -> None:
        assert (await client.get("/metrics")).status_code == 200

    async def by_role(client: Any) -> None:
        assert (await client.get("/metrics")).status_code == 403, "loopback is no longer listed"
        assert (await client.get("/metrics", headers=token("olga", "ops"))).status_code == 200
        assert "sources" in (await client.get("/readyz", headers=token("olga", "ops"))).json()
        assert (await client.get("/metrics", headers={"authorization": "Bearer forged"})).status_code == 403

    _run(config, OUTSIDE, from_block)
    _run(config, "127.0.0.1", by_role)


def test_an_address_that_is_no_cidr_block_is_a_configuration_error() -> None:
    try:
        OperatorsConfig.model_validate({"addresses": ["10.0.0.0/33"]})
    except ValueError as exc:
        assert "not an address or CIDR block" in str(exc)
    else:
        raise AssertionError("accepted")
