"""Resilience policies (timeouts, deadline, retries, breaker, rate limits) through a real adapter.

Every test drives the ``zendesk`` adapter against the running ticket system of the demo estate, with the
estate's fault plan set, and counts what the ticket system says it received. Timing assertions are upper
bounds only, far from what the implementation needs and far below what waiting for the upstream would take.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.breaker import BreakerState
from crmgraph.adapters.sdk.calls import CallLog
from crmgraph.adapters.sdk.resilience import (
    CircuitOpen,
    DeadlineExceeded,
    Resilience,
    ResiliencePolicy,
    SourcePaused,
    current_deadline,
    deadline_in,
)
from crmgraph.adapters.sdk.testing.contract import run_with
from crmgraph.adapters.zendesk import ZendeskAdapter
from crmgraph.errors import ConfigError, UpstreamRateLimited, UpstreamTimeout, UpstreamUnavailable

if TYPE_CHECKING:
    from tests.conftest import Estate

T = TypeVar("T")
SOURCE = "tickets"


@pytest.fixture(scope="module")
def tickets(running_estate: Estate) -> Iterator[list[str]]:
    conn = sqlite3.connect(f"file:{running_estate.layout.tickets_db}?mode=ro", uri=True)
    yield [str(row[0]) for row in conn.execute("SELECT id FROM tickets ORDER BY id LIMIT 20")]
    conn.close()


def adapter_settings(estate: Estate, **policy: Any) -> dict[str, Any]:
    credentials = estate.credentials
    return {
        "url": estate.tickets_url,
        "email": credentials.zendesk_email,
        "token": credentials.zendesk_token,
        "resilience": policy,
    }


def run(estate: Estate, scenario: Callable[[Adapter], Awaitable[T]], **policy: Any) -> tuple[T, CallLog]:
    return run_with(lambda: ZendeskAdapter(SOURCE, adapter_settings(estate, **policy)), scenario)


def received(estate: Estate) -> int:
    total: int = estate.stats(SOURCE)["total"]
    return total


def refused_with_429(estate: Estate) -> int:
    by_endpoint: dict[str, Any] = estate.stats(SOURCE)["by_endpoint"]
    return sum(counts["by_status"].get("429", 0) for counts in by_endpoint.values())


# --- configuration -------------------------------------------------------------------------------------


def test_the_defaults_are_the_documented_ones() -> None:
    policy = ResiliencePolicy()
    assert (policy.timeout_s, policy.retries, policy.retry_budget) == (5.0, 2, 0.2)
    assert (policy.failure_rate, policy.window, policy.min_calls, policy.open_s) == (0.5, 20, 10, 10.0)
    assert policy.rate_limit_per_s is None
    assert (policy.retry_timeouts, policy.pause_wait_s) == (False, 1.0)
    assert all(field.description for field in ResiliencePolicy.model_fields.values())


@pytest.mark.parametrize(
    ("policy", "path"),
    [
        ({"retries": -1}, "sources.tickets.resilience.retries"),
        ({"timeout_s": 0}, "sources.tickets.resilience.timeout_s"),
        ({"failure_rate": 2}, "sources.tickets.resilience.failure_rate"),
        ({"rate_limit_per_s": "fast"}, "sources.tickets.resilience.rate_limit_per_s"),
        ({"retries": True}, "sources.tickets.resilience.retries"),
        ({"open_sec": 3}, "sources.tickets.resilience.open_sec"),
        ({"min_calls": 30}, "sources.tickets.resilience"),
    ],
)
def test_a_wrong_policy_setting_is_a_config_error_naming_its_key(
    policy: dict[str, Any], path: str, estate: Estate
) -> None:
    with pytest.raises(ConfigError) as raised:
        ZendeskAdapter(SOURCE, adapter_settings(estate, **policy))
    assert raised.value.path == path


def test_a_resilience_setting_that_is_not_a_mapping_is_a_config_error(estate: Estate) -> None:
    settings = adapter_settings(estate) | {"resilience": "strict"}
    with pytest.raises(ConfigError, match=r"sources\.tickets\.resilience: must be a mapping"):
        ZendeskAdapter(SOURCE, settings)


# --- retries and the breaker ---------------------------------------------------------------------------

BREAKER = {"retries": 2, "retry_budget_min": 100, "window": 10, "min_calls": 10, "backoff_max_s": 0.05}


def test_a_failing_read_is_retried_the_configured_times_then_the_breaker_fails_fast(
    estate: Estate, tickets: list[str]
) -> None:
    estate.faults(SOURCE, error_rate=1, seed=1)

    async def scenario(adapter: Adapter) -> None:
        (first,) = await adapter.fetch("ticket", tickets[:1])
        assert isinstance(first, UpstreamUnavailable) and not isinstance(first, CircuitOpen)
        assert received(estate) == 1 + 2  # the first attempt and two retries
        for _ in range(5):
            if adapter.breaker.state is BreakerState.OPEN:
                break
            await adapter.fetch("ticket", tickets[:1])
        assert adapter.breaker.state is BreakerState.OPEN
        assert adapter.breaker.snapshot()["state"] == "open"
        before = received(estate)
        started = time.monotonic()
        results = await adapter.fetch("ticket", tickets[:3]) + await adapter.fetch_related(
            "comment", "ticket", tickets[:3]
        )
        assert time.monotonic() - started < 0.5
        assert all(isinstance(result, CircuitOpen) for result in results)
        assert all(isinstance(r, UpstreamUnavailable) and "circuit open" in r.message for r in results)
        assert received(estate) == before  # no upstream call while open

    run(estate, scenario, **BREAKER, open_s=60)


def test_after_open_s_one_probe_goes_through_and_its_success_closes_the_breaker(
    estate: Estate, tickets: list[str]
) -> None:
    estate.faults(SOURCE, error_rate=1, seed=2)

    async def scenario(adapter: Adapter) -> None:
        while adapter.breaker.state is not BreakerState.OPEN:
            await adapter.fetch("ticket", tickets[:1])
        estate.faults(SOURCE)  # the system recovers
        await asyncio.sleep(0.3)
        before = received(estate)
        # Two concurrent reads: one is the probe, the other fails fast while the probe is out.
        results = await asyncio.gather(
            adapter.fetch("ticket", tickets[:1]), adapter.fetch_related("comment", "ticket", tickets[1:2])
        )
        assert received(estate) == before + 1
        assert sum(isinstance(result[0], CircuitOpen) for result in results) == 1
        assert adapter.breaker.state is BreakerState.CLOSED
        (again,) = await adapter.fetch("ticket", tickets[2:3])
        assert again is not None and not isinstance(again, Exception)

    run(estate, scenario, **BREAKER, open_s=0.2)


def test_a_failed_probe_opens_the_breaker_again(estate: Estate, tickets: list[str]) -> None:
    estate.faults(SOURCE, error_rate=1, seed=3)

    async def scenario(adapter: Adapter) -> None:
        while adapter.breaker.state is not BreakerState.OPEN:
            await adapter.fetch("ticket", tickets[:1])
        await asyncio.sleep(0.3)
        before = received(estate)
        (probe,) = await adapter.fetch("ticket", tickets[:1])
        assert isinstance(probe, UpstreamUnavailable) and not isinstance(probe, CircuitOpen)
        assert received(estate) == before + 1  # the probe only: its failure is not retried past the breaker
        assert adapter.breaker.state is BreakerState.OPEN

    run(estate, scenario, **BREAKER, open_s=0.2)


def test_a_rejection_is_neither_retried_nor_counted_by_the_breaker(estate: Estate, tickets: list[str]) -> None:
    async def scenario(adapter: Adapter) -> None:
        for _ in range(12):
            await adapter.fetch("ticket", tickets[:1])
        assert received(estate) == 12
        assert adapter.breaker.state is BreakerState.CLOSED

    run_with(
        lambda: ZendeskAdapter(SOURCE, adapter_settings(estate, **BREAKER) | {"token": "wrong"}),
        scenario,
    )


# --- timeouts and the deadline -------------------------------------------------------------------------


def test_a_slow_system_gives_each_key_a_timeout_well_before_it_answers(estate: Estate, tickets: list[str]) -> None:
    estate.faults(SOURCE, latency_ms=2000)
    started = time.monotonic()
    results, _ = run(
        estate,
        lambda adapter: adapter.fetch_related("comment", "ticket", tickets[:3]),
        timeout_s=0.3,
        retries=0,
    )
    assert time.monotonic() - started < 1.5
    assert all(isinstance(result, UpstreamTimeout) for result in results)


@pytest.mark.parametrize(("retry_timeouts", "attempts"), [(False, 1), (True, 3)])
def test_a_timed_out_read_is_retried_only_when_the_policy_says_so(
    estate: Estate, tickets: list[str], retry_timeouts: bool, attempts: int
) -> None:
    estate.faults(SOURCE, latency_ms=2000)
    results, log = run(
        estate,
        lambda adapter: adapter.fetch("ticket", tickets[:1]),
        timeout_s=0.2,
        retries=2,
        retry_budget_min=10,
        backoff_max_s=0.05,
        retry_timeouts=retry_timeouts,
    )
    assert all(isinstance(result, UpstreamTimeout) for result in results)
    assert len(log.calls) == attempts  # every attempt is logged when it ends, here by its timeout


def test_retries_never_run_past_the_request_deadline(estate: Estate, tickets: list[str]) -> None:
    estate.faults(SOURCE, latency_ms=2000)

    async def scenario(adapter: Adapter) -> list[Any]:
        with deadline_in(0.4):
            return list(await adapter.fetch("ticket", tickets[:3]))

    started = time.monotonic()
    results, _ = run(estate, scenario, timeout_s=5, retries=5)
    assert time.monotonic() - started < 1.5
    assert all(isinstance(result, UpstreamTimeout) for result in results)


def test_a_passed_deadline_fails_every_key_without_calling(estate: Estate, tickets: list[str]) -> None:
    async def scenario(adapter: Adapter) -> list[Any]:
        token = current_deadline.set(time.monotonic() - 1)
        try:
            return [
                *await adapter.fetch("ticket", tickets[:2]),
                *await adapter.fetch_related("comment", "ticket", ["1"]),
            ]
        finally:
            current_deadline.reset(token)

    results, _ = run(estate, scenario)
    assert all(isinstance(result, DeadlineExceeded) for result in results)
    assert received(estate) == 0


# --- rate limits ---------------------------------------------------------------------------------------


def test_a_client_side_limit_below_the_quota_never_meets_a_429(estate: Estate, tickets: list[str]) -> None:
    estate.faults(SOURCE, rate_limit_per_s=5)
    results, _ = run(
        estate, lambda adapter: adapter.fetch_related("comment", "ticket", tickets[:12]), rate_limit_per_s=4
    )
    assert all(isinstance(result, list) for result in results)
    assert received(estate) == 12
    assert refused_with_429(estate) == 0


def test_a_429_pauses_the_source_and_the_refused_key_is_asked_again_after_it(
    estate: Estate, tickets: list[str]
) -> None:
    estate.faults(SOURCE, rate_limit_per_s=1)  # a burst of one, then Retry-After: 1

    async def scenario(adapter: Adapter) -> list[Any]:
        with deadline_in(4):
            return list(await adapter.fetch_related("comment", "ticket", tickets[:2]))

    results, _ = run(estate, scenario)
    assert all(isinstance(result, list) for result in results)
    assert refused_with_429(estate) == 1
    assert received(estate) == 3  # two calls and one retry once the pause was over: no storm


def test_a_pause_longer_than_the_deadline_fails_fast_without_calling(estate: Estate, tickets: list[str]) -> None:
    estate.faults(SOURCE, rate_limit_per_s=0.01)  # one call, then Retry-After: 100

    async def scenario(adapter: Adapter) -> list[Any]:
        with deadline_in(2):
            await adapter.fetch_related("comment", "ticket", tickets[:2])
            before = received(estate)
            started = time.monotonic()
            results = list(await adapter.fetch("ticket", tickets[:3]))
            assert time.monotonic() - started < 0.5
            assert received(estate) == before
            return results

    results, _ = run(estate, scenario)
    assert all(isinstance(result, SourcePaused) for result in results)
    assert all(isinstance(r, UpstreamRateLimited) and (r.retry_after or 0) > 50 for r in results)


def test_a_pause_longer_than_pause_wait_s_fails_fast_even_with_time_left(estate: Estate, tickets: list[str]) -> None:
    estate.faults(SOURCE, rate_limit_per_s=0.2)  # one call, then Retry-After: 5

    async def scenario(adapter: Adapter) -> list[Any]:
        with deadline_in(30):
            await adapter.fetch_related("comment", "ticket", tickets[:2])  # the second one meets the 429
            before = received(estate)
            started = time.monotonic()
            results = list(await adapter.fetch("ticket", tickets[:3]))
            assert time.monotonic() - started < 0.5, "it waited for the pause although pause_wait_s is 1"
            assert received(estate) == before
            return results

    results, _ = run(estate, scenario, pause_wait_s=1)
    assert all(isinstance(result, SourcePaused) for result in results)


def test_429s_under_load_cost_at_most_the_retry_budget_above_the_fault_free_count(
    estate: Estate, tickets: list[str]
) -> None:
    estate.faults(SOURCE, rate_limit_per_s=2, seed=5)

    async def scenario(adapter: Adapter) -> list[Any]:
        with deadline_in(4):
            return list(await adapter.fetch_related("comment", "ticket", tickets[:10]))

    results, _ = run(estate, scenario, retry_budget=0.2, retry_budget_min=0)
    assert received(estate) <= 10 + 2  # ten calls without faults, and at most 20% more
    assert all(isinstance(result, list | UpstreamRateLimited) for result in results)


def test_reads_on_a_guess_are_welcome_only_while_the_source_is_unhurried() -> None:
    """No 429 within the retry budget's window and a closed breaker: anything else and adapters read only
    what they must (docs/adapters.md, ``expected_related``)."""
    policy = ResiliencePolicy.from_settings(SOURCE, {"resilience": {"retry_budget_window_s": 0.05, "open_s": 60}})
    calm = Resilience(SOURCE, policy)
    assert calm.unhurried()
    calm._pause(0.01)  # as a 429 does
    assert not calm.unhurried()
    time.sleep(0.06)
    assert calm.unhurried()
    for state in (BreakerState.OPEN, BreakerState.HALF_OPEN):
        calm.breaker.state = state
        assert not calm.unhurried(), state
