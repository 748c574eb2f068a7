"""Readiness: is every source usable right now?

A source is *usable* when it is reachable and its circuit breaker (when the adapter has one) is not open.
Reachability is a real but cheap probe: a scan of one record of the first entity the adapter can scan
(``GET ...?limit=1`` for HTTP sources, ``SELECT ... LIMIT 1`` for SQL), with a short timeout. Probes run
only when ``/readyz`` is asked, never on other requests, and one probe round is reused for
:data:`PROBE_REUSE_S` seconds, however many load balancers ask. An adapter that can scan nothing is
judged by its last call instead (usable unless its last call failed).

The last error of each source comes from every upstream call the process makes (requests and probes),
through :data:`~crmgraph.adapters.sdk.calls.call_observers`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crmgraph.adapters.sdk.calls import UpstreamCall
from crmgraph.observability.metrics import breaker_state

PROBE_TIMEOUT_S = 2.0
PROBE_REUSE_S = 2.0


@dataclass
class SourceHistory:
    last_ok_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None

    @property
    def failing(self) -> bool:
        """Its most recent call failed."""
        return self.last_error_at is not None and (self.last_ok_at is None or self.last_error_at > self.last_ok_at)


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


class Readiness:
    def __init__(self, adapters: Callable[[], Mapping[str, Any]], clock: Callable[[], float] = time.time) -> None:
        self.adapters = adapters
        self.clock = clock
        self.history: dict[str, SourceHistory] = {}
        self._lock = asyncio.Lock()
        self._last: tuple[float, dict[str, Any]] | None = None

    def observe_call(self, call: UpstreamCall) -> None:
        """A :data:`~crmgraph.adapters.sdk.calls.call_observers` hook."""
        history = self.history.setdefault(call.source, SourceHistory())
        if call.outcome == "error":
            history.last_error = call.error or "error"
            history.last_error_at = self.clock()
        else:
            history.last_ok_at = self.clock()

    async def report(self) -> dict[str, Any]:
        """``{"status": "ready" | "unavailable", "unusable": [...], "sources": {...}}``."""
        async with self._lock:  # concurrent asks share one probe round
            if self._last is not None and time.monotonic() - self._last[0] < PROBE_REUSE_S:
                return self._last[1]
            report = await self._probe_all()
            self._last = (time.monotonic(), report)
            return report

    async def _probe_all(self) -> dict[str, Any]:
        adapters = dict(self.adapters())
        probes = await asyncio.gather(*(self._probe(adapter) for adapter in adapters.values()))
        sources = {
            name: self._source(name, adapter, probe)
            for (name, adapter), probe in zip(adapters.items(), probes, strict=True)
        }
        unusable = [name for name, source in sources.items() if not source["usable"]]
        return {"status": "unavailable" if unusable else "ready", "unusable": unusable, "sources": sources}

    async def _probe(self, adapter: Any) -> tuple[str | None, str | None]:
        """(what was probed, why it is unreachable) — the reason is ``None`` when it answered."""
        # A party scan where the source has one: the cheapest page, and the same probe whatever else it lists.
        entities = sorted(getattr(adapter, "scannable", ()), key=lambda entity: (entity != "party", entity))
        if not entities:
            return None, None
        probe = f"scan {entities[0]}"
        try:
            await asyncio.wait_for(adapter.scan(entities[0], None, 1), PROBE_TIMEOUT_S)
        except TimeoutError:
            return probe, f"{adapter.source}: no answer to {probe} within {PROBE_TIMEOUT_S:g} s"
        except Exception as exc:  # any failure to answer is "unreachable"; the message says which
            return probe, f"{exc.__class__.__name__}: {exc}"
        return probe, None

    def _source(self, name: str, adapter: Any, probe: tuple[str | None, str | None]) -> dict[str, Any]:
        probed, failure = probe
        history = self.history.get(name, SourceHistory())
        reachable = failure is None if probed is not None else not history.failing
        breaker = breaker_state(adapter)
        last_error = {"message": history.last_error, "at": _iso(history.last_error_at)} if history.last_error else None
        if failure is not None and (last_error is None or last_error["message"] != failure):
            last_error = {"message": failure, "at": _iso(self.clock())}
        return {
            "usable": reachable and breaker != "open",
            "reachable": reachable,
            "probe": probed or "last call",
            "breaker": breaker,
            "lastError": last_error,
            "lastSuccessAt": _iso(history.last_ok_at),
        }
