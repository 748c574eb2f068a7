"""Running a report against the analytic store: off the event loop, once per store version, with its freshness.

Answers are kept in a small LRU cache keyed by (report, filter, teams, scope, configuration, store version),
where the store version is the ``freshness`` table's rows (any load or applied change moves a part's
``changed_at`` or ``loaded_at``) and the store's count of committed writes where it keeps one, so a cached
answer is never served across a change. Reports that depend on the current
time (backlog ages, churn's trailing year) are cached for at most :data:`NOW_TTL_S`.

A DuckDB connection is not safe to use from two threads at once, so queries on a store whose engine shares
one connection take turns (a lock per store); a pool of connections runs them side by side.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import replace
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.pool import StaticPool

from crmgraph.analytics.reports.drilldown import decode
from crmgraph.analytics.reports.filters import ReportRequest
from crmgraph.analytics.reports.freshness import all_parts, of_parts
from crmgraph.analytics.reports.indexes import ensure_indexes
from crmgraph.analytics.reports.registry import REPORTS
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.store import AnalyticStore
from crmgraph.errors import ClientError

CACHE_SIZE = 256
NOW_TTL_S = 30.0  # a cached answer that read the clock is this old at most


class _StoreState:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # the store's one shared connection, where it has only one
        self.cache_lock = threading.Lock()
        self.answers: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self.indexed = False


_states: weakref.WeakKeyDictionary[AnalyticStore, _StoreState] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def _state(store: AnalyticStore) -> _StoreState:
    with _states_lock:
        state = _states.get(store)
        if state is None:
            state = _states[store] = _StoreState()
        return state


def _run(store: AnalyticStore, work: Any) -> Any:
    state = _state(store)
    if not state.indexed:
        with _states_lock:  # two first requests at once would race to create the same index
            if not state.indexed:
                ensure_indexes(store.engine)
                state.indexed = True
    if isinstance(store.engine.pool, StaticPool):  # one DuckDB connection for the process: take turns
        with state.lock, store.engine.connect() as conn:
            return work(conn)
    with store.engine.connect() as conn:
        return work(conn)


def report_now(
    store: AnalyticStore, name: str, request: ReportRequest, config: ReportsConfig, *, cached: bool = True
) -> Any:
    """The report's answer (blocking: call it off the event loop, or from a script); ``cached=False`` computes it
    again whatever the cache holds (benchmarks)."""
    report = REPORTS[name]
    request.owners()  # a team not configured is the client's mistake before anything runs
    state = _state(store)
    version = getattr(store, "version", None)  # the store's count of committed writes, where it keeps one
    written = version() if callable(version) else None

    def work(conn: Any) -> Any:
        parts = all_parts(conn)
        settings = config.model_dump_json()
        key = (name, request.filter, _teams_key(request), request.scope, settings, written, parts, request.now)
        with state.cache_lock:
            found = state.answers.get(key)
            if cached and found is not None and (request.now is not None or time.monotonic() - found[0] < NOW_TTL_S):
                state.answers.move_to_end(key)
                return found[1]
        moment = request if request.now is not None else replace(request, now=request.moment())
        answer = report.compute(conn, moment, config)
        answer = replace(answer, freshness=of_parts(parts, report.parts))
        with state.cache_lock:
            state.answers[key] = (time.monotonic(), answer)
            while len(state.answers) > CACHE_SIZE:
                state.answers.popitem(last=False)
        return answer

    return _run(store, work)


async def report(store: AnalyticStore, name: str, request: ReportRequest, config: ReportsConfig) -> Any:
    return await asyncio.to_thread(report_now, store, name, request, config)


def _teams_key(request: ReportRequest) -> Hashable:
    # Only the team asked for matters to the answer; its members are part of the key.
    owners = request.owners()
    return None if owners is None else tuple(sorted(owners))


def customers_query(token: str, request: ReportRequest, config: ReportsConfig) -> Select[Any]:
    """The customers behind the figure a drill-down token names, under the scope of ``request`` (its filter
    is replaced by the token's)."""
    drill = decode(token, frozenset(REPORTS))
    asked = replace(request, filter=drill.filter)
    query = REPORTS[drill.report].customers_behind(drill.key, asked, config)
    if query is None:
        raise ClientError(f"drillDown: {drill.report} has no figure {drill.key!r} (take a token from the report)")
    return query


def customer_page(
    store: AnalyticStore, query: Select[Any], first: int, after: str | None
) -> tuple[list[str], bool, int]:
    """One page of the distinct customer ids ``query`` selects, after ``after``: (ids, has next, total). Golden
    ids are decimal numbers kept as text: ordered by length, then as text, they come in numeric order."""
    ids = query.subquery("behind")
    column = ids.c[0]
    distinct = select(column.label("customer_id")).where(column.is_not(None)).distinct().subquery("distinct_ids")
    customer_id, length = distinct.c.customer_id, func.length(distinct.c.customer_id)

    def work(conn: Any) -> tuple[list[str], bool, int]:
        total = int(conn.execute(select(func.count()).select_from(distinct)).scalar_one())
        page = select(customer_id)
        if after is not None:
            page = page.where(or_(length > len(after), and_(length == len(after), customer_id > after)))
        found = [str(row[0]) for row in conn.execute(page.order_by(length, customer_id).limit(first + 1))]
        return found[:first], len(found) > first, total

    return _run(store, work)  # type: ignore[no-any-return]
