"""The read-through cache: hits, shared misses, not-found, stale-on-error; on memory and on Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from crmgraph.adapters import AccessPath, Adapter, FetchResult, UpstreamUnavailable
from crmgraph.adapters.sdk.calls import CallLog, current_call_log
from crmgraph.cache.backend import close_backend, open_backend
from crmgraph.cache.read_through import (
    NOT_KEPT,
    CacheOutcome,
    ReadThrough,
    StaleLog,
    cache_observers,
    report_peeked_hits,
)
from crmgraph.config import CacheConfig
from crmgraph.records import PartyRecord


class Counting(Adapter):
    """A system of record held in memory, that counts what it is asked and can be switched off."""

    kind = "counting"
    paths = (AccessPath("party"),)

    def __init__(self, source: str, settings: dict[str, Any]) -> None:
        super().__init__(source, settings)
        self.asked: list[list[str]] = []
        self.down = False
        self.gate: asyncio.Event | None = None

    async def _fetch(self, entity: str, ids: Sequence[str]) -> Sequence[FetchResult]:
        self.asked.append(list(ids))
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise UpstreamUnavailable(self.source, "switched off")
        return [PartyRecord(self.source, i, name=f"party {i}") if i != "404" else None for i in ids]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def cache_config(request: pytest.FixtureRequest) -> Iterator[CacheConfig]:
    url = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    yield CacheConfig(url=url, ttl_s={"default": 30}, stale_s={"default": 600}, namespace=f"t{uuid.uuid4().hex}")


def run(config: CacheConfig, scenario: Any) -> Any:
    async def main() -> Any:
        backend = open_backend(config)
        clock = Clock()
        cache = ReadThrough(backend, config.ttl_for, config.stale_for, clock)
        adapter = Counting("crm", {"resilience": {"retries": 0}})  # counts calls: one per miss, no retries
        try:
            return await scenario(cache, adapter, clock)
        finally:
            await close_backend(backend)

    return asyncio.run(main())


def test_a_hit_within_the_ttl_asks_nothing_upstream(cache_config: CacheConfig) -> None:
    async def scenario(cache: ReadThrough, adapter: Counting, clock: Clock) -> None:
        first = await cache.fetch(adapter, "party", ["1", "2"])
        clock.now += 29
        again = await cache.fetch(adapter, "party", ["2", "1", "2"])
        assert adapter.asked == [["1", "2"]]
        assert [r.source_id for r in again if r] == ["2", "1", "2"] and first[0] == again[1]

    run(cache_config, scenario)


def test_a_record_that_does_not_exist_is_remembered_and_an_error_is_not(cache_config: CacheConfig) -> None:
    async def scenario(cache: ReadThrough, adapter: Counting, clock: Clock) -> None:
        assert await cache.fetch(adapter, "party", ["404"]) == [None]
        assert await cache.fetch(adapter, "party", ["404"]) == [None]
        adapter.down = True
        assert isinstance((await cache.fetch(adapter, "party", ["7"]))[0], UpstreamUnavailable)
        adapter.down = False
        assert (await cache.fetch(adapter, "party", ["7"]))[0] is not None
        assert adapter.asked == [["404"], ["7"], ["7"]]

    run(cache_config, scenario)


def test_concurrent_misses_for_the_same_key_share_one_upstream_call(cache_config: CacheConfig) -> None:
    async def scenario(cache: ReadThrough, adapter: Counting, clock: Clock) -> None:
        adapter.gate = asyncio.Event()
        first = asyncio.create_task(cache.fetch(adapter, "party", ["1", "2"]))
        await asyncio.sleep(0.05)  # the first request is now waiting on the upstream
        second = asyncio.create_task(cache.fetch(adapter, "party", ["2", "3"]))
        await asyncio.sleep(0.05)
        adapter.gate.set()
        a, b = await asyncio.gather(first, second)
        assert sorted(map(sorted, adapter.asked)) == [["1", "2"], ["3"]], "key 2 must not be asked twice"
        assert a[1] == b[0]

    run(cache_config, scenario)


def test_a_failing_source_is_answered_from_stale_cache_and_the_answer_says_so(cache_config: CacheConfig) -> None:
    async def scenario(cache: ReadThrough, adapter: Counting, clock: Clock) -> None:
        warm = await cache.fetch(adapter, "party", ["1"])
        clock.now += 45  # past the 30 s TTL, inside the 600 s stale window
        adapter.down = True
        stale = StaleLog()
        answer = await cache.fetch(adapter, "party", ["1", "9"], stale)
        assert answer[0] == warm[0], "the stale record is served instead of the error"
        assert isinstance(answer[1], UpstreamUnavailable), "nothing stale to serve for a key never seen"
        (served,) = stale.served
        assert (served.source, served.entity, served.key, served.age_s, served.error_code) == (
            "crm", "party", "1", 45.0, "UPSTREAM_UNAVAILABLE"
        )  # fmt: skip

    run(cache_config, scenario)


def test_a_stale_entry_is_not_served_while_the_source_answers(cache_config: CacheConfig) -> None:
    async def scenario(cache: ReadThrough, adapter: Counting, clock: Clock) -> None:
        await cache.fetch(adapter, "party", ["1"])
        clock.now += 45
        stale = StaleLog()
        await cache.fetch(adapter, "party", ["1"], stale)
        assert adapter.asked == [["1"], ["1"]] and stale.served == []

    run(cache_config, scenario)


class CountedLookups:
    """Wraps a backend and counts its ``multi_get`` calls."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.lookups = 0

    async def multi_get(self, keys: list[str]) -> list[Any]:
        self.lookups += 1
        return list(await self.backend.multi_get(keys))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


def test_an_entity_kept_for_no_time_is_not_looked_up_and_concurrent_reads_still_share(
    cache_config: CacheConfig,
) -> None:
    config = cache_config.model_copy(update={"ttl_s": {"default": 30, "party": 0}})

    async def main() -> None:
        backend = open_backend(config)
        counted = CountedLookups(backend)
        cache = ReadThrough(counted, config.ttl_for, config.stale_for)  # type: ignore[arg-type]
        adapter = Counting("crm", {"resilience": {"retries": 0}})
        try:
            adapter.gate = asyncio.Event()
            first = asyncio.create_task(cache.fetch(adapter, "party", ["1", "2"]))
            await asyncio.sleep(0.05)
            second = asyncio.create_task(cache.fetch(adapter, "party", ["2"]))
            await asyncio.sleep(0.05)
            adapter.gate.set()
            a, b = await asyncio.gather(first, second)
            assert a[1] == b[0] and adapter.asked == [["1", "2"]], "key 2 read once for both"
            await cache.fetch(adapter, "party", ["1"])
            assert adapter.asked == [["1", "2"], ["1"]] and counted.lookups == 0
        finally:
            await close_backend(backend)

    asyncio.run(main())


def test_a_key_forgotten_while_its_read_is_under_way_is_answered_but_not_kept(cache_config: CacheConfig) -> None:
    async def scenario(cache: ReadThrough, adapter: Counting, clock: Clock) -> None:
        adapter.gate = asyncio.Event()
        first = asyncio.create_task(cache.fetch(adapter, "party", ["1", "2"]))
        await asyncio.sleep(0.05)
        await cache.forget([("crm", "party", "id", "2")])  # changed upstream after the first read began
        second = asyncio.create_task(cache.fetch(adapter, "party", ["2"]))  # not joined to the first read
        await asyncio.sleep(0.05)
        adapter.gate.set()
        a, b = await asyncio.gather(first, second)
        assert a[1] == b[0] and adapter.asked == [["1", "2"], ["2"]]
        await cache.fetch(adapter, "party", ["1", "2"])
        assert adapter.asked == [["1", "2"], ["2"]], "1 kept from the first read, 2 from the second"
        assert cache._in_flight == {}

    run(cache_config, scenario)


def test_a_read_cancelled_under_way_fails_those_sharing_it_and_leaves_nothing_behind(
    cache_config: CacheConfig,
) -> None:
    async def scenario(cache: ReadThrough, adapter: Counting, clock: Clock) -> None:
        adapter.gate = asyncio.Event()
        first = asyncio.create_task(cache.fetch(adapter, "party", ["1", "2"]))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(cache.fetch(adapter, "party", ["2"]))
        await asyncio.sleep(0.05)
        first.cancel()
        results = await asyncio.gather(first, second, return_exceptions=True)
        assert all(isinstance(result, asyncio.CancelledError) for result in results)
        assert cache._in_flight == {}
        adapter.gate.set()
        assert [r.name for r in await cache.fetch(adapter, "party", ["2"])] == ["party 2"]  # type: ignore[union-attr]
        assert adapter.asked == [["1", "2"], ["2"]]

    run(cache_config, scenario)


def test_a_read_of_some_cached_and_some_new_keys_answers_every_key_in_order(cache_config: CacheConfig) -> None:
    async def scenario(cache: ReadThrough, adapter: Counting, clock: Clock) -> None:
        await cache.fetch(adapter, "party", ["2"])
        found = await cache.fetch(adapter, "party", ["3", "2", "404", "3"])
        assert [getattr(record, "name", None) for record in found] == ["party 3", "party 2", None, "party 3"]
        assert adapter.asked == [["2"], ["3", "404"]]

    run(cache_config, scenario)


def test_a_peeked_hit_is_found_under_the_namespace_and_reported_once_per_request(cache_config: CacheConfig) -> None:
    async def scenario(cache: ReadThrough, adapter: Counting, clock: Clock) -> None:
        await cache.fetch(adapter, "party", ["1", "2"])
        if not cache.peeks("party"):  # Redis: peek() answers nothing, the loaders batch as usual
            assert cache.peek("crm", "party", "id", "1") is NOT_KEPT
            return
        seen: list[CacheOutcome] = []
        cache_observers.append(seen.append)
        log = CallLog()
        token = current_call_log.set(log)
        try:
            names = [cache.peek("crm", "party", "id", key).name for key in ("1", "2", "1")]
            assert names == ["party 1", "party 2", "party 1"]
            assert cache.peek("crm", "party", "id", "3") is NOT_KEPT
            clock.now += 31  # past the TTL: not fresh, not answered at once
            assert cache.peek("crm", "party", "id", "1") is NOT_KEPT
        finally:
            current_call_log.reset(token)
            cache_observers.remove(seen.append)
        assert seen == [] and log.cache_hits == {"crm:party": 3}
        cache_observers.append(seen.append)
        try:
            report_peeked_hits(log)
            report_peeked_hits(log)  # reported once
        finally:
            cache_observers.remove(seen.append)
        assert seen == [CacheOutcome("crm", "party", 3, 0, 0)]

    run(cache_config, scenario)
