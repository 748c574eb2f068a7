"""The checks of the adapter contract (see :mod:`crmgraph.adapters.sdk.testing`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from crmgraph.adapters.sdk.base import Adapter, FetchResult, RelatedResult
from crmgraph.adapters.sdk.calls import CallLog, current_call_log
from crmgraph.errors import SourceError
from crmgraph.records import PartyDayTotal, Record

T = TypeVar("T")
A = TypeVar("A", bound=Adapter)
MakeAdapter = Callable[[], Adapter]

# The record attribute that holds the key a related path is reached by.
RELATION_ATTRIBUTES = {
    "party": "party_id",
    "order": "order_id",
    "invoice": "invoice_id",
    "ticket": "ticket_id",
    "person": "requester_id",
}


@dataclass(frozen=True)
class ContractSamples:
    """What exists in the system the contract runs against."""

    known_ids: Mapping[str, Sequence[str]]  # entity -> ids that exist, for every entity reachable by id
    related_keys: Mapping[tuple[str, str], Sequence[str]] = field(default_factory=dict)  # (entity, by) -> keys
    unknown_key: str = "999999999"  # an id or key that exists nowhere
    scan_totals: Mapping[str, int] = field(default_factory=dict)  # entity -> how many records a scan finds


def run_with(make_adapter: Callable[[], A], scenario: Callable[[A], Awaitable[T]]) -> tuple[T, CallLog]:
    """Open a fresh adapter, run ``scenario`` against it with a call log, close it.

    The log holds every upstream call the scenario caused: what a plugin's own tests count.
    """

    async def main() -> tuple[T, CallLog]:
        log = CallLog()
        token = current_call_log.set(log)
        adapter = make_adapter()
        await adapter.open()
        try:
            return await scenario(adapter), log
        finally:
            await adapter.close()
            current_call_log.reset(token)

    return asyncio.run(main())


def _fetching(entity: str, ids: list[str]) -> Callable[[Adapter], Awaitable[list[FetchResult]]]:
    return lambda adapter: adapter.fetch(entity, ids)


def _fetching_related(entity: str, by: str, keys: list[str]) -> Callable[[Adapter], Awaitable[list[RelatedResult]]]:
    return lambda adapter: adapter.fetch_related(entity, by, keys)


class AdapterContract:
    """Subclass with the fixtures ``make_adapter``, ``make_unreachable_adapter`` and ``contract_samples``."""

    def test_every_declared_path_answers_an_unknown_key_without_breaking(
        self, make_adapter: MakeAdapter, contract_samples: ContractSamples
    ) -> None:
        unknown = contract_samples.unknown_key

        async def scenario(adapter: Adapter) -> list[object]:
            answers: list[object] = []
            for path in adapter.paths:
                if path.by == "id":
                    answers.append(await adapter.fetch(path.entity, [unknown]))
                else:
                    answers.append(await adapter.fetch_related(path.entity, path.by, [unknown]))
            return answers

        answers, _ = run_with(make_adapter, scenario)
        for answer in answers:
            assert answer in ([None], [[]]), f"an unknown key must give None or [], got {answer!r}"

    def test_fetch_returns_one_result_per_id_in_the_order_asked(
        self, make_adapter: MakeAdapter, contract_samples: ContractSamples
    ) -> None:
        for entity, known in contract_samples.known_ids.items():
            first = list(reversed(known[:5]))
            ids = [*first, contract_samples.unknown_key, known[0]]  # known[0] asked twice
            results, _ = run_with(make_adapter, _fetching(entity, ids))
            assert len(results) == len(ids)
            for asked, result in zip(ids, results, strict=True):
                if asked == contract_samples.unknown_key:
                    assert result is None
                else:
                    assert isinstance(result, Record), f"{entity} {asked}: {result!r}"
                    assert result.source_id == asked
            assert results[-1] == results[len(first) - 1], "the same id asked twice must give the same record"

    def test_records_name_the_source_they_came_from(
        self, make_adapter: MakeAdapter, contract_samples: ContractSamples
    ) -> None:
        for entity, known in contract_samples.known_ids.items():
            results, _ = run_with(make_adapter, _fetching(entity, list(known)))
            source = make_adapter().source
            assert all(isinstance(r, Record) and r.source == source for r in results)

    def test_no_upstream_call_carries_more_keys_than_the_declared_batch(
        self, make_adapter: MakeAdapter, contract_samples: ContractSamples
    ) -> None:
        adapter = make_adapter()
        for entity, known in contract_samples.known_ids.items():
            limit = adapter.path(entity).max_batch
            padding = [f"{contract_samples.unknown_key}{n}" for n in range(2 * limit + 1)]
            ids = [*known, *padding][: 2 * limit + 1]
            results, log = run_with(make_adapter, _fetching(entity, ids))
            assert len(results) == len(ids)
            if adapter.path(entity).kept_whole:  # read whole once, whatever the keys: no call per batch
                assert len(log.calls) <= 3, f"fetching {entity} kept whole: {len(log.calls)} calls"
                continue
            # 2 * limit + 1 distinct keys need at least three upstream calls of at most `limit` keys each.
            assert len(log.calls) >= 3, f"fetching {entity}: {len(log.calls)} calls for {len(ids)} keys"
            assert max(call.keys for call in log.calls) <= limit

    def test_related_records_come_as_one_list_per_key_in_order(
        self, make_adapter: MakeAdapter, contract_samples: ContractSamples
    ) -> None:
        for (entity, by), known in contract_samples.related_keys.items():
            keys = [*known[:5], contract_samples.unknown_key, known[0]]
            results, _ = run_with(make_adapter, _fetching_related(entity, by, keys))
            assert len(results) == len(keys)
            assert results[keys.index(contract_samples.unknown_key)] == []
            assert results[0] == results[-1]
            assert any(results[:-2]), f"{entity} by {by}: the sample keys have no related records"
            attribute = RELATION_ATTRIBUTES.get(by)
            for key, records in zip(keys, results, strict=True):
                assert isinstance(records, list), f"{entity} by {by} {key}: {records!r}"
                for record in records:
                    if attribute and hasattr(record, attribute):
                        assert getattr(record, attribute) == key

    def test_scanning_pages_through_every_record_exactly_once(
        self, make_adapter: MakeAdapter, contract_samples: ContractSamples
    ) -> None:
        async def scan_all(adapter: Adapter) -> dict[str, list[str]]:
            seen: dict[str, list[str]] = {}
            for entity in sorted(adapter.scannable):
                ids: list[str] = []
                cursor: str | None = None
                while True:
                    page = await adapter.scan(entity, cursor, size=37)
                    ids += [record.source_id for record in page.records]
                    if page.next_cursor is None:
                        break
                    assert page.next_cursor != cursor, "a cursor that does not move would loop forever"
                    cursor = page.next_cursor
                seen[entity] = ids
            return seen

        seen, _ = run_with(make_adapter, scan_all)
        for entity, ids in seen.items():
            assert len(ids) == len(set(ids)), f"scanning {entity} returned duplicates"
            if entity in contract_samples.scan_totals:
                assert len(ids) == contract_samples.scan_totals[entity]

    def test_daily_totals_are_one_row_per_party_day_and_currency_and_narrow_to_the_parties_asked(
        self, make_adapter: MakeAdapter
    ) -> None:
        async def totals(adapter: Adapter) -> dict[str, tuple[list[PartyDayTotal], list[PartyDayTotal]]]:
            found = {}
            for entity in sorted(adapter.aggregatable):
                every = await adapter.aggregate_daily(entity)
                some = await adapter.aggregate_daily(entity, [every[0].party_id]) if every else []
                found[entity] = (every, some)
            return found

        found, _ = run_with(make_adapter, totals)
        source = make_adapter().source
        for entity, (every, some) in found.items():
            keys = [(row.party_id, row.day, row.total.currency) for row in every]
            assert keys == sorted(keys) and len(keys) == len(set(keys)), f"{entity}: rows repeat or are not sorted"
            assert all(row.source == source and row.count > 0 for row in every), entity
            assert some == [row for row in every if every and row.party_id == every[0].party_id], entity

    def test_an_unreachable_system_fails_daily_totals_with_a_typed_error(
        self, make_unreachable_adapter: MakeAdapter
    ) -> None:
        async def totals(adapter: Adapter) -> list[object]:
            outcomes: list[object] = []
            for entity in sorted(adapter.aggregatable):
                try:
                    outcomes.append(await adapter.aggregate_daily(entity))
                except SourceError as error:
                    outcomes.append(error)
            return outcomes

        outcomes, _ = run_with(make_unreachable_adapter, totals)
        assert all(isinstance(outcome, SourceError) for outcome in outcomes), outcomes

    def test_an_unreachable_system_gives_typed_errors_per_key_not_exceptions(
        self, make_unreachable_adapter: MakeAdapter, contract_samples: ContractSamples
    ) -> None:
        entity, known = next(iter(contract_samples.known_ids.items()))
        results, _ = run_with(make_unreachable_adapter, _fetching(entity, list(known[:3])))
        assert len(results) == len(known[:3])
        for result in results:
            assert isinstance(result, SourceError), result
            assert result.code == "UPSTREAM_UNAVAILABLE"
            assert result.source == make_unreachable_adapter().source
