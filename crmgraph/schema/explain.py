"""``extensions.upstream``: what a query cost, for users and tests.

A request whose body has ``"extensions": {"explain": true}`` gets every upstream call made for it (source,
operation, request, keys, milliseconds, outcome) and how many keys each source answered from cache.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

from crmgraph.adapters.sdk.calls import current_call_log
from crmgraph.adapters.sdk.resilience import remaining
from crmgraph.cache.read_through import report_peeked_hits


class UpstreamExplain(SchemaExtension):
    """The request's upstream calls: its call log, explain, and no call that outlives the request."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        token = current_call_log.set(context.call_log)
        try:
            yield
        finally:
            current_call_log.reset(token)
            report_peeked_hits(context.call_log)

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        # Reads started ahead (prefetch) that no resolver awaited, because the field that wanted them failed
        # first: they finish before the answer, so that explain, the stale marks and the cache see them.
        # A read that ends may start the next level's (reads started on arrival): wait until none is left.
        started = self.execution_context.context.call_log.started_ahead
        while left := [load for load in started if not load.done()]:
            time_left = remaining()
            if time_left is not None and time_left <= 0:
                break
            await asyncio.wait(left, timeout=time_left)
        # A read started ahead as a task runs in the request's context, which holds this log: kept here after
        # it ended, it would make the request's objects a cycle for the garbage collector to find.
        started.clear()

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        if not getattr(context, "explain", False):
            return {}
        calls = context.call_log.calls
        return {
            "upstream": {
                "calls": [
                    {
                        "source": c.source,
                        "operation": c.operation,
                        "request": c.request,
                        "keys": c.keys,
                        "atMs": c.at_ms,
                        "ms": c.milliseconds,
                        "outcome": c.outcome,
                    }
                    for c in calls
                ],
                "callsBySource": dict(Counter(c.source for c in calls)),
                "cacheHits": dict(context.call_log.cache_hits),
            }
        }
