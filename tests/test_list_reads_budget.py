"""The concurrency budget of a source: sized from its documented rate limit, shared fairly between requests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from crmgraph.adapters.hubspot.adapter import HubSpotAdapter
from crmgraph.adapters.sdk.budget import FairBudget, RateLimit
from crmgraph.adapters.sdk.calls import CallLog, current_call_log
from crmgraph.adapters.zendesk.adapter import ZendeskAdapter
from crmgraph.errors import ConfigError

HUBSPOT = {"url": "https://api.hubapi.example", "token": "t"}
ZENDESK = {"url": "https://acme.zendesk.example", "email": "api@acme.example", "token": "t"}


def test_the_budget_defaults_to_a_quarter_of_the_documented_quota() -> None:
    assert HubSpotAdapter("crm", HUBSPOT).max_concurrency == 25  # 100 requests per 10 s
    assert ZendeskAdapter("tickets", ZENDESK).max_concurrency == 50  # 200 a minute (Team)


def test_a_configured_rate_limit_resizes_the_budget_and_max_concurrency_overrides_it() -> None:
    professional = HubSpotAdapter("crm", HUBSPOT | {"rate_limit": {"requests": 190, "per_s": 10}})
    assert professional.max_concurrency == 48
    assert HubSpotAdapter("crm", HUBSPOT | {"rate_limit": {"requests": 2500, "per_s": 60}}).max_concurrency == 64
    assert HubSpotAdapter("crm", HUBSPOT | {"max_concurrency": 3}).max_concurrency == 3


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"requests": 0, "per_s": 10}, "rate_limit.requests"),
        ({"requests": 100, "per_s": "10s"}, "rate_limit.per_s"),
        ({"requests": 100}, "rate_limit"),
        ("100/10s", "rate_limit"),
    ],
)
def test_a_wrong_rate_limit_names_the_setting(value: Any, where: str) -> None:
    with pytest.raises(ConfigError) as raised:
        RateLimit.from_settings("crm", {"rate_limit": value}, None)
    assert f"sources.crm.{where}" in str(raised.value)


async def _hold(budget: FairBudget, log: CallLog, held: list[str], name: str, release: asyncio.Event) -> None:
    current_call_log.set(log)  # this task's request
    await budget.acquire()
    held.append(name)
    try:
        await release.wait()
    finally:
        budget.release()


def test_a_request_alone_takes_the_whole_budget() -> None:
    async def scenario() -> int:
        budget, held, release = FairBudget(6), list[str](), asyncio.Event()
        log = CallLog()
        tasks = [asyncio.create_task(_hold(budget, log, held, f"a{i}", release)) for i in range(10)]
        await asyncio.sleep(0.01)
        at_once = len(held)
        release.set()
        await asyncio.gather(*tasks)
        assert budget.in_flight == 0
        return at_once

    assert asyncio.run(scenario()) == 6


def test_a_second_request_gets_its_share_before_the_first_takes_more() -> None:
    async def scenario() -> list[str]:
        budget, held = FairBudget(6), list[str]()
        first, second = CallLog(), CallLog()
        release_first, release_second = asyncio.Event(), asyncio.Event()
        # The first request fans out twenty calls: six go, fourteen wait.
        fan_out = [asyncio.create_task(_hold(budget, first, held, "first", release_first)) for _ in range(20)]
        await asyncio.sleep(0.01)
        # A second request asks for three while the first still waits for fourteen more.
        late = [asyncio.create_task(_hold(budget, second, held, "second", release_second)) for _ in range(3)]
        await asyncio.sleep(0.01)
        held.clear()
        release_first.set()  # the first's six end: the freed slots go to the second first, up to its share
        await asyncio.sleep(0.01)
        order = list(held)
        release_second.set()
        await asyncio.gather(*fan_out, *late)
        assert budget.in_flight == 0
        return order

    order = asyncio.run(scenario())
    assert order[:3] == ["second"] * 3, order


def test_a_waiter_that_gives_up_leaves_no_slot_taken() -> None:
    async def scenario() -> int:
        budget = FairBudget(1)
        current_call_log.set(CallLog())
        await budget.acquire()
        waiter = asyncio.create_task(budget.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        budget.release()
        return budget.in_flight

    assert asyncio.run(scenario()) == 0
