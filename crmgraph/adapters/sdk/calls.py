"""Observing upstream calls: every call an adapter makes is reported to the request's call log.

The request layer installs a :class:`CallLog` in a context variable; the SDK's HTTP and SQL helpers
report each upstream round trip to it. This is what ``extensions.explain`` shows and what tests count.

Process-wide observers (metrics, readiness) subscribe by appending a callable to :data:`call_observers`;
each is handed every finished :class:`UpstreamCall`, inside a request or not (readiness probes, linking).
Adapters know nothing of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from crmgraph.errors import UpstreamBudgetExceeded

T = TypeVar("T")


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
    # (source, entity) -> keys a loader found in the process's cache at once: reported to the cache's
    # observers (metrics) once per request, not once per key (see ReadThrough.peek).
    peeked_hits: dict[tuple[str, str], int] = field(default_factory=dict)
    shared: dict[Hashable, SharedCall] = field(default_factory=dict)  # see shared_in_request()
    # Reads started ahead for the request that no resolver may end up awaiting: finished before it answers.
    started_ahead: set[asyncio.Future[Any]] = field(default_factory=set)
    # Round trips the request may make at most (None: no limit), and those begun so far.
    budget: int | None = None
    begun: int = 0
    # (source, entity, by, key) -> ids of the records likely related to that key: see expect_related().
    expected: dict[tuple[str, str, str, str], set[str]] = field(default_factory=dict)

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
    """Time one round trip and add it to the current request's log (if any); with tracing, in a span."""
    name, keys = current_operation.get()
    log = current_call_log.get()
    if log is not None and log.budget is not None:
        if log.begun >= log.budget:
            # One request must not amplify into unbounded upstream work, however it was written.
            raise UpstreamBudgetExceeded(source, f"{request}: the request's {log.budget} upstream calls are spent")
        log.begun += 1
    call = UpstreamCall(source, name, request, keys)
    span = _start_span(call)
    started = time.perf_counter()
    if log is not None:
        call.at_ms = round((started - log.started) * 1000, 2)
    try:
        yield call
    except BaseException as exc:
        # A typed upstream fault is labelled by its code (UPSTREAM_RATE_LIMITED, ...), anything else "error".
        call.outcome = str(getattr(exc, "code", "error"))
        call.error = f"{exc.__class__.__name__}: {exc}"
        if span is not None:
            span.span.record_exception(exc)
        raise
    finally:
        call.milliseconds = round((time.perf_counter() - started) * 1000, 2)
        if log is not None:
            log.calls.append(call)
        if span is not None:
            _end_span(span, call)
        _notify(call)


# --- tracing: set by crmgraph.observability.tracing when configured; None costs nothing ----------------

_tracer: trace.Tracer | None = None
_propagator = TraceContextTextMapPropagator()


def use_tracer(tracer: trace.Tracer | None) -> None:
    """Trace every upstream call with ``tracer`` from now on (``None``: stop)."""
    global _tracer
    _tracer = tracer


def current_tracer() -> trace.Tracer | None:
    """The tracer in use, or None when tracing is off."""
    return _tracer


def trace_headers() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) for the current span, to send with an upstream request."""
    if _tracer is None:
        return {}
    headers: dict[str, str] = {}
    _propagator.inject(headers)
    return headers


def trace_context_of(headers: Mapping[str, str]) -> Context | None:
    """The caller's trace context from a request's headers (None when tracing is off or none came)."""
    if _tracer is None or "traceparent" not in headers:
        return None
    return _propagator.extract({"traceparent": headers["traceparent"], "tracestate": headers.get("tracestate", "")})


@dataclass
class _Span:
    span: trace.Span
    token: Token[Context]  # the context token that made it current


def _start_span(call: UpstreamCall) -> _Span | None:
    if _tracer is None:
        return None
    span = _tracer.start_span(
        f"{call.source} {call.operation or call.request}",
        kind=trace.SpanKind.CLIENT,
        attributes={
            "crmgraph.source": call.source,
            "crmgraph.operation": call.operation,
            "crmgraph.request": call.request,
            "crmgraph.keys": call.keys,
        },
    )
    # Current while the call runs, so that the request it sends carries this span as its parent.
    return _Span(span, otel_context.attach(trace.set_span_in_context(span)))


def _end_span(handle: _Span, call: UpstreamCall) -> None:
    span = handle.span
    span.set_attribute("crmgraph.outcome", call.outcome)
    if call.outcome.isdigit():
        span.set_attribute("http.response.status_code", int(call.outcome))
    if call.error:
        span.set_attribute("error.type", call.outcome)
        span.set_status(trace.StatusCode.ERROR, call.error)
    otel_context.detach(handle.token)
    span.end()


@dataclass
class SharedCall:
    """One call made for several callers in a request (see :func:`shared_in_request`)."""

    waiting: list[asyncio.Future[Any]] = field(default_factory=list)  # one future per waiting caller
    answered: bool = False
    answer: Any = None


_MAKER_GAVE_UP = object()  # handed to the waiters when the caller making the call was cancelled


def expect_related(source: str, entity: str, by: str, key: str, ids: Iterable[str]) -> None:
    """Note, for this request, that the ``entity`` records of ``source`` related ``by`` ``key`` are likely
    ``ids`` (crmgraph's identity links name them: the contacts of a company, say).

    A hint for an adapter whose system lists related records in two dependent round trips (the ids, then the
    records): it may read the foreseen records beside the listing, and afterwards only those the listing adds,
    so that one level of upstream calls does for two. The listing alone decides what is related; a foreseen
    record it does not list is left out. Outside a request nothing is noted.
    """
    log = current_call_log.get()
    if log is not None:
        log.expected.setdefault((source, entity, by, key), set()).update(ids)


def expected_related(source: str, entity: str, by: str, keys: Iterable[str]) -> list[str]:
    """The ids :func:`expect_related` noted for any of ``keys`` in this request, each once, sorted."""
    log = current_call_log.get()
    if log is None or not log.expected:
        return []
    return sorted({found for key in keys for found in log.expected.get((source, entity, by, key), ())})


async def shared_in_request(key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
    """Run ``call`` once per request for ``key``; every other caller in the request awaits that answer.

    For an adapter whose system answers several access paths in one round trip (HubSpot gives a company
    with the ids associated with it): the paths ask for it under the same key and make one call between
    them. The first caller makes the call itself, and hands the answer to each waiting caller's own
    future: a task of its own, or a shielded future, would each cost a turn of the event loop, behind
    everything else that turn runs. If the caller making the call is cancelled, the next one waiting makes
    it; a waiter that gives up leaves the call to the others. A failure is handed to the callers waiting
    for it and then forgotten, so that a retry calls again. Outside a request (no call log), every caller
    makes its own call.
    """
    log = current_call_log.get()
    if log is None:
        return await call()
    loop = asyncio.get_running_loop()
    while (shared := log.shared.get(key)) is not None:
        if shared.answered:
            answer: T = shared.answer
            return answer
        mine = loop.create_future()
        shared.waiting.append(mine)
        outcome = await mine
        if outcome is not _MAKER_GAVE_UP:
            return cast(T, outcome)
    shared = log.shared[key] = SharedCall()
    try:
        result = await call()
    except BaseException as exc:
        if log.shared.get(key) is shared:
            del log.shared[key]
        for waiter in shared.waiting:
            if waiter.done():
                continue
            if isinstance(exc, asyncio.CancelledError):
                waiter.set_result(_MAKER_GAVE_UP)
            else:
                waiter.set_exception(exc)
                waiter.exception()  # a waiter cancelled before it resumes never retrieves it
        raise
    shared.answered, shared.answer = True, result
    for waiter in shared.waiting:
        if not waiter.done():
            waiter.set_result(result)
    shared.waiting.clear()
    return result


def _notify(call: UpstreamCall) -> None:
    # A broken observer must never fail the upstream call it watches.
    for observer in list(call_observers):
        try:
            observer(call)
        except Exception:
            _log.exception("call observer %r failed", observer)
