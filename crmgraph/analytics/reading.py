"""Reading what the reports need from the systems, through the adapters only (never a system's files).

Whole entities are paged through with ``scan``; orders and invoices come as the source aggregated them
(``aggregate_daily``: a ``GROUP BY`` run by the SQL ERP, one row per party, day and currency); campaign and
segment members through ``fetch_related``. A source that fails while being read fails the read with a
:class:`~crmgraph.errors.SourceError` naming it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from crmgraph.adapters.sdk.base import Adapter, RelatedResult
from crmgraph.errors import SourceError
from crmgraph.records import PartyDayTotal, Record

# (stage, done, total or None): "read crm deal", "write", ...
Progress = Callable[[str, int, int | None], None]
PAGE_SIZE = 1000  # the most a page holds where an API allows it; others cap it themselves
AGGREGATED = ("order", "invoice")  # what party_days holds, where a source can aggregate it


def scanning(adapters: Mapping[str, Adapter], entity: str) -> dict[str, Adapter]:
    """The sources that can list every ``entity`` record, in configured order."""
    return {name: adapter for name, adapter in adapters.items() if entity in adapter.scannable}


def aggregating(adapters: Mapping[str, Adapter], entity: str) -> dict[str, Adapter]:
    """The sources that can total ``entity`` records by party and day themselves."""
    return {name: adapter for name, adapter in adapters.items() if entity in adapter.aggregatable}


async def read_all(name: str, adapter: Adapter, entity: str, progress: Progress | None = None) -> list[Record]:
    """Every ``entity`` record of one source, page after page."""
    found: list[Record] = []
    cursor: str | None = None
    while True:
        page = await adapter.scan(entity, cursor, PAGE_SIZE)
        found.extend(page.records)
        if progress is not None:
            progress(f"read {name} {entity}", len(found), None)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


async def read_pages(
    name: str, adapter: Adapter, entity: str, handle: Callable[[Sequence[Record]], Awaitable[None] | None],
    progress: Progress | None = None,
) -> int:  # fmt: skip
    """Every ``entity`` record of one source, handed to ``handle`` a page at a time (not kept); how many."""
    count = 0
    cursor: str | None = None
    while True:
        page = await adapter.scan(entity, cursor, PAGE_SIZE)
        handled = handle(page.records)
        if handled is not None:  # a handler that classifies or fetches more per page
            await handled
        count += len(page.records)
        if progress is not None:
            progress(f"read {name} {entity}", count, None)
        if page.next_cursor is None:
            return count
        cursor = page.next_cursor


async def daily_totals(
    name: str, adapter: Adapter, entity: str, parties: Sequence[str] | None = None, progress: Progress | None = None
) -> list[PartyDayTotal]:
    """The source's own totals of ``entity`` per party and day (of ``parties`` only, when given)."""
    totals = await adapter.aggregate_daily(entity, parties)
    if progress is not None:
        progress(f"aggregate {name} {entity}", len(totals), len(totals))
    return totals


def related_lists(name: str, keys: Sequence[str], answers: Sequence[RelatedResult]) -> dict[str, list[Record]]:
    """``fetch_related`` answers by key; the first failed key fails the whole read (a report needs all)."""
    found: dict[str, list[Record]] = {}
    for key, answer in zip(keys, answers, strict=True):
        if isinstance(answer, SourceError):
            raise answer
        found[key] = answer
    return found


async def run_all(reads: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run ``reads`` together; the first that fails cancels the others and is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            for read in reads:
                group.create_task(read)
    except BaseExceptionGroup as failed:
        raise _first(failed) from None


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first
