"""Per-principal rate limits: the bucket's arithmetic, the 429 a client gets, and one budget shared by two
app instances over a real Redis."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from crmgraph.policy.rate_limit import LocalBuckets, RateLimitConfig, RateLimiter
from tests.conftest import Estate
from tests.perimeter import asgi_client, error_of, perimeter_config, token

TYPENAME = {"query": "{ __typename }"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_one_request_per_refill() -> None:
    clock = Clock()
    buckets = LocalBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("alice").allowed for _ in range(4)] == [True, True, True, False]
    assert buckets.take("alice").retry_after_s == pytest.approx(0.5)  # one token at 2 per second
    assert buckets.take("bob").allowed, "another principal has a bucket of its own"
    clock.now += 0.5
    assert buckets.take("alice").allowed
    assert not buckets.take("alice").allowed


def test_a_quiet_bucket_refills_to_its_burst_and_no_further() -> None:
    clock = Clock()
    buckets = LocalBuckets(rate=10.0, burst=2, clock=clock)
    buckets.take("alice")
    buckets.take("alice")
    clock.now += 3600
    assert [buckets.take("alice").allowed for _ in range(3)] == [True, True, False]


def test_the_section_has_defaults_in_the_usual_range_and_refuses_nonsense() -> None:
    config = RateLimitConfig()
    assert config.enabled and config.rate_per_s == 50 and config.burst == 100 and config.url == "memory://"
    for bad in ({"rate_per_s": 0}, {"burst": 0}, {"url": "memcached://x"}):
        with pytest.raises(ValueError):
            RateLimitConfig.model_validate(bad)


def test_past_the_burst_a_principal_gets_429_with_retry_after_and_the_limit(
    running_estate: Estate, linked_identity: str
) -> None:
    config = perimeter_config(running_estate, linked_identity, rate_limit={"rate_per_s": 0.5, "burst": 2})

    async def scenario() -> None:
        async with asgi_client(config) as client:
            alice = token("alice", "admin")
            statuses = [(await client.post("/graphql", json=TYPENAME, headers=alice)).status_code for _ in range(2)]
            assert statuses == [200, 200]
            refused = await client.post("/graphql", json=TYPENAME, headers=alice)
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "2"  # one token at 0.5 per second
            error = error_of(refused)
            assert error["extensions"]["code"] == "RATE_LIMITED"
            assert error["extensions"]["limit"] == 0.5
            assert "0.5 requests per second" in error["message"]
            bob = await client.post("/graphql", json=TYPENAME, headers=token("bob", "admin"))
            assert bob.status_code == 200, "each subject has its own bucket"

    asyncio.run(scenario())


def test_anonymous_clients_are_limited_per_address(running_estate: Estate, linked_identity: str) -> None:
    config = perimeter_config(running_estate, linked_identity, rate_limit={"rate_per_s": 0.01, "burst": 1})

    async def scenario() -> None:
        async with asgi_client(config, address="10.0.0.1") as first, asgi_client(config, address="10.0.0.2") as other:
            assert (await first.post("/graphql", json=TYPENAME)).status_code == 200
            assert (await first.post("/graphql", json=TYPENAME)).status_code == 429
            assert (await other.post("/graphql", json=TYPENAME)).status_code == 200

    asyncio.run(scenario())


def test_a_disabled_limit_refuses_nothing(running_estate: Estate, linked_identity: str) -> None:
    config = perimeter_config(
        running_estate, linked_identity, rate_limit={"enabled": False, "rate_per_s": 0.01, "burst": 1}
    )

    async def scenario() -> None:
        async with asgi_client(config) as client:
            for _ in range(5):
                assert (await client.post("/graphql", json=TYPENAME)).status_code == 200

    asyncio.run(scenario())


@pytest.mark.services
def test_two_instances_draw_from_one_budget_in_redis(
    running_estate: Estate, linked_identity: str, redis_url: str
) -> None:
    shared = {"rate_per_s": 0.001, "burst": 6, "url": redis_url, "namespace": f"t-{uuid.uuid4().hex}"}
    config = perimeter_config(running_estate, linked_identity, rate_limit=shared)

    async def scenario() -> None:
        async with asgi_client(config) as one, asgi_client(config) as two:
            carol = token("carol", "admin")
            statuses = []
            for turn in range(8):  # alternately: each instance alone would allow all 6 of its own
                client = one if turn % 2 == 0 else two
                statuses.append((await client.post("/graphql", json=TYPENAME, headers=carol)).status_code)
            assert statuses == [200] * 6 + [429, 429]
            # Concurrent requests at both instances: the script is atomic, so none is allowed twice.
            dave = token("dave", "admin")
            answers = await asyncio.gather(
                *(client.post("/graphql", json=TYPENAME, headers=dave) for client in (one, two) * 5)
            )
            assert sorted(answer.status_code for answer in answers) == [200] * 6 + [429] * 4

    asyncio.run(scenario())


def test_with_redis_unreachable_each_instance_limits_on_its_own_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RateLimiter(RateLimitConfig(rate_per_s=0.01, burst=2, url="redis://127.0.0.1:1/0"))

    async def scenario() -> list[bool]:
        try:
            return [(await limiter.take("erin")).allowed for _ in range(3)]
        finally:
            await limiter.close()

    with caplog.at_level(logging.WARNING, logger="crmgraph.rate_limit"):
        assert asyncio.run(scenario()) == [True, True, False]
    (warning,) = [record for record in caplog.records if record.name == "crmgraph.rate_limit"]
    assert "this instance limits on its own" in warning.getMessage()
