"""Observing upstream calls: every call an adapter makes is reported to the request's call log.

The request layer installs a :class:`CallLog` in a context variable; the SDK's HTTP and SQL helpers
report each upstream round trip to it. This is what ``extensions.explain`` shows and what tests count.

Process-wide observers (metrics, readiness) subscribe by appending a callable to :data:`call_observers`;
each is handed every finished :class:`UpstreamCall`, inside a request or not (readiness probes, linking).
Adapters know nothing of them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class UpstreamCall:
    source: str
    operation: str  # the SDK operation, e.g. "fetch order" or "fetch_related ticket by party"
    request: str  # what went over the wire: "POST /crm/v3/objects/companies/batch/read" or "SELECT VBAK"
    keys: int
    milliseconds: float = 0.0
    outcome: str = "ok"
    at_ms: float = 0.0  # when it started, counted from the start of the request: shows what ran in parallel
    error: str = ""  # for a failed call: the exception that ended it, as "Kind: message"


@dataclass
class CallLog:
    calls: list[UpstreamCall] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    cache_hits: dict[str, int] = field(default_factory=dict)  # "source:entity" -> keys answered from cache

    def count(self, source: str | None = None) -> int:
        return sum(1 for call in self.calls if source is None or call.source == source)


CallObserver = Callable[[UpstreamCall], None]
call_observers: list[CallObserver] = []
_log = logging.getLogger("crmgraph.calls")

current_call_log: ContextVar[CallLog | None] = ContextVar("crmgraph_call_log", default=None)
current_operation: ContextVar[tuple[str, int]] = ContextVar("crmgraph_operation", default=("", 0))


@contextmanager
def operation(name: str, keys: int) -> Iterator[None]:
    """Label the upstream calls made inside with the SDK operation that caused them."""
    token = current_operation.set((name, keys))
    try:
        yield
    finally:
        current_operation.reset(token)


@contextmanager
def upstream_call(source: str, request: str) -> Iterator[UpstreamCall]:
    """Time one round trip and add it to the current request's log (if any)."""
    name, keys = current_operation.get()
    call = UpstreamCall(source, name, request, keys)
    started = time.perf_counter()
    log = current_call_log.get()
    if log is not None:
        call.at_ms = round((started - log.started) * 1000, 2)
    try:
        yield call
    except BaseException as exc:
        # A typed upstream fault is labelled by its code (UPSTREAM_RATE_LIMITED, ...), anything else "error".
        call.outcome = str(getattr(exc, "code", "error"))
        call.error = f"{exc.__class__.__name__}: {exc}"
        raise
    finally:
        call.milliseconds = round((time.perf_counter() - started) * 1000, 2)
        if log is not None:
            log.calls.append(call)
        _notify(call)


def _notify(call: UpstreamCall) -> None:
    # A broken observer must never fail the upstream call it watches.
    for observer in list(call_observers):
        try:
            observer(call)
        except Exception:
            _log.exception("call observer %r failed", observer)
