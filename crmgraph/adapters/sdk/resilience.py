"""Resilience policies of a source, applied once by the SDK's public methods around every upstream call.

The order in which one upstream call is guarded (:meth:`Resilience.protect`)::

    deadline passed?          -> UpstreamTimeout, no call
    breaker open?             -> UpstreamUnavailable ("circuit open"), no call
    source paused by a 429?   -> wait it out, or UpstreamRateLimited at once if it ends later than
                                 ``pause_wait_s`` from now or past the deadline
    concurrency slot          (the adapter's ``max_concurrency``, shared fairly between requests: see
                              budget.py), waited for until the deadline at most
    client-side rate limit    -> wait for a token (or UpstreamRateLimited if it comes past the deadline)
    the call                  within min(timeout_s, what is left of the deadline) -> else UpstreamTimeout

Around that, :meth:`Resilience.batch` and :meth:`Resilience.once` retry the keys whose error is worth
retrying, with jittered exponential backoff and within a retry budget; every SDK read is idempotent, so
reads are the only calls that go through them. A request sets :data:`current_deadline` (an absolute
``time.monotonic()``); without one, each call still has ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from crmgraph.adapters.sdk.breaker import BreakerState, CircuitBreaker
from crmgraph.adapters.sdk.budget import Slots
from crmgraph.adapters.sdk.policy import ResiliencePolicy
from crmgraph.adapters.sdk.throttle import RetryBudget, TokenBucket
from crmgraph.errors import (
    SourceError,
    UpstreamBadResponse,
    UpstreamBudgetExceeded,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)

T = TypeVar("T")

current_deadline: ContextVar[float | None] = ContextVar("crmgraph_deadline", default=None)


@dataclass(frozen=True)
class PolicyEvent:
    """What a policy did to a call, for metrics: it waited, refused it, or retried its keys."""

    source: str
    kind: Literal["wait", "refused", "retry"]
    reason: str  # wait: rate_limit | pause | slot; refused: circuit_open | deadline | paused; retry: the error code
    seconds: float = 0.0


PolicyObserver = Callable[[PolicyEvent], None]
policy_observers: list[PolicyObserver] = []  # process-wide, like calls.call_observers
_log = logging.getLogger("crmgraph.resilience")


def _report(event: PolicyEvent) -> None:
    for observer in list(policy_observers):
        try:
            observer(event)
        except Exception:  # a broken observer must never fail the call it watches
            _log.exception("policy observer %r failed", observer)


# The policies of the source whose SDK call is running: each request on the wire asks them for a permit.
_current_guard: ContextVar[Resilience | None] = ContextVar("crmgraph_resilience", default=None)


async def round_trip_permit(source: str) -> None:
    """Call just before each request an SDK call sends to ``source`` (``HttpSource`` and the SQL adapter do).

    One SDK call may send several requests (HubSpot's associations, then a batch read per hundred
    records): the client-side rate limit and a 429 pause are kept per request, so that the system never
    receives more than its quota. Outside an SDK call of that source, there is nothing to wait for.
    """
    guard = _current_guard.get()
    if guard is not None and guard.source == source:
        await guard.permit()


def remaining() -> float | None:
    """Seconds left before the current request's deadline (negative once passed); None without one."""
    deadline = current_deadline.get()
    return None if deadline is None else deadline - time.monotonic()


@contextmanager
def deadline_in(seconds: float) -> Iterator[float]:
    """Run the block under a deadline ``seconds`` from now (never later than an enclosing one)."""
    at = time.monotonic() + seconds
    outer = current_deadline.get()
    token = current_deadline.set(at if outer is None else min(at, outer))
    try:
        yield at
    finally:
        current_deadline.reset(token)


# --- errors the guard raises without calling: same codes as their parents, never retried ----------------


class CircuitOpen(UpstreamUnavailable):
    """The source's breaker is open: the call failed fast, the system was not called."""


class SourcePaused(UpstreamRateLimited):
    """The source asked us to wait (429) or our own rate limit says so, longer than the deadline allows."""


class DeadlineExceeded(UpstreamTimeout):
    """No time was left before the request's deadline: the system was not called."""


class TransientBadResponse(UpstreamBadResponse):
    """A bad answer that was cut short in transfer: unlike an answer that is wrong, asking again may work."""


def counts_as_failure(error: BaseException) -> bool:
    """Whether an error says the system is unwell. A 4xx or a 429 is an answer: the system is up, and
    opening the breaker over a wrong token would hide the message that says how to fix it."""
    return isinstance(error, SourceError) and not isinstance(
        error, UpstreamRejected | UpstreamRateLimited | UpstreamBudgetExceeded
    )


def _never(_: Any) -> bool:
    return False


class Resilience:
    """The policies of one source (one adapter instance): breaker, 429 pause, rate limit, retry budget."""

    def __init__(self, source: str, policy: ResiliencePolicy) -> None:
        self.source = source
        self.policy = policy
        self.breaker = CircuitBreaker(
            failure_rate=policy.failure_rate, window=policy.window, min_calls=policy.min_calls, open_s=policy.open_s
        )
        self.bucket = TokenBucket(policy.rate_limit_per_s) if policy.rate_limit_per_s else None
        self.budget = RetryBudget(policy.retry_budget, policy.retry_budget_window_s, policy.retry_budget_min)
        self.paused_until = 0.0  # time.monotonic() before which no call goes to the source (after a 429)
        self.rate_limited_at = -math.inf  # time.monotonic() of the source's last 429
        self._random = random.Random()

    # --- retries ----------------------------------------------------------------------------------

    async def batch(self, keys: list[str], attempt: Callable[[list[str]], Awaitable[list[Any]]]) -> list[Any]:
        """Run ``attempt`` (aligned results, errors in their keys' slots), then again for the keys worth it."""
        results: dict[str, Any] = {}
        pending = keys
        self.budget.record_first()
        tries = 0
        while True:
            answer = await attempt(pending)
            results.update(zip(pending, answer, strict=True))
            self._pause_for_slots(answer)
            failed = {key: r for key, r in zip(pending, answer, strict=True) if self._retryable_result(r)}
            if not failed or not await self._backoff(tries, list(failed.values())):
                return [results[key] for key in keys]
            pending = list(failed)
            tries += 1

    async def once(self, call: Callable[[], Awaitable[T]], limit: Slots) -> T:
        """One guarded call that raises its error (a scan page), retried like :meth:`batch`."""
        self.budget.record_first()
        tries = 0
        while True:
            try:
                return await self.protect(call, limit)
            except SourceError as error:
                if not self.retryable(error) or not await self._backoff(tries, [error]):
                    raise
            tries += 1

    def _pause_for_slots(self, answer: list[Any]) -> None:
        """A 429 an adapter caught and put in a key's slot (a page of a paged list) pauses the source too."""
        for result in answer:
            if isinstance(result, UpstreamRateLimited) and not isinstance(result, SourcePaused):
                self._pause(result.retry_after)

    def _retryable_result(self, result: object) -> bool:
        return isinstance(result, SourceError) and self.retryable(result)

    def retryable(self, error: SourceError) -> bool:
        if isinstance(error, CircuitOpen | SourcePaused | DeadlineExceeded):
            return False  # decided here, not by the system: asking again now gives the same answer
        if isinstance(error, UpstreamRateLimited):
            return self.paused_until <= self._pause_limit()  # worth it only if the pause ends in time
        if isinstance(error, UpstreamTimeout):
            return self.policy.retry_timeouts
        return isinstance(error, UpstreamUnavailable | TransientBadResponse)

    async def _backoff(self, tries: int, errors: list[SourceError]) -> bool:
        """Sleep before retry ``tries + 1`` and return True, or return False when it must not happen."""
        if tries >= self.policy.retries or self.breaker.rejects():
            return False  # a retry into an open breaker would only swap the system's error for "circuit open"
        if all(isinstance(error, UpstreamRateLimited) for error in errors):
            delay = 0.0  # the source's own pause is the wait; protect() honours it
        else:
            ceiling = min(self.policy.backoff_max_s, self.policy.backoff_base_s * 2**tries)
            delay = self._random.uniform(0, ceiling)  # "full jitter": spreads the retries of many callers
        left = remaining()
        if left is not None and delay >= left:
            return False
        if not self.budget.try_retry():
            return False
        for error in errors:
            _report(PolicyEvent(self.source, "retry", error.code))
        await asyncio.sleep(delay)
        return True

    # --- one call ---------------------------------------------------------------------------------

    async def protect(self, call: Callable[[], Awaitable[T]], limit: Slots, failed: Callable[[T], bool] = _never) -> T:
        """Make one upstream call under every policy. ``failed`` judges an answer that did not raise."""
        self._check_deadline()
        if self.breaker.rejects():
            raise self._circuit_open()
        await self._wait_pause()
        async with self._slot(limit):
            await self._wait_pause()  # a 429 may have arrived while this call waited for its slot
            if not self.breaker.admit():
                raise self._circuit_open()
            # The client-side rate limit is taken per request on the wire (round_trip_permit), not here.
            token = _current_guard.set(self)
            try:
                return await self._call(call, failed)
            finally:
                _current_guard.reset(token)

    async def _call(self, call: Callable[[], Awaitable[T]], failed: Callable[[T], bool]) -> T:
        left = remaining()
        timeout = self.policy.timeout_s if left is None else min(self.policy.timeout_s, left)
        if timeout <= 0:
            self.breaker.abandon()
            raise DeadlineExceeded(self.source, "the request's deadline passed before the call")
        try:
            try:
                async with asyncio.timeout(timeout) as scope:
                    result = await call()
            except TimeoutError as exc:
                if not scope.expired():
                    raise
                raise UpstreamTimeout(self.source, f"no answer within {timeout:.2f} s") from exc
        except UpstreamRateLimited as error:
            self._pause(error.retry_after)
            self.breaker.record(failed=False)
            raise
        except Exception as error:
            # Not a SourceError: a bug or an unforeseen answer, which the SDK masks as a bad response.
            self.breaker.record(failed=counts_as_failure(error))
            raise
        except BaseException:  # cancelled from outside: says nothing about the system
            self.breaker.abandon()
            raise
        self.breaker.record(failed=failed(result))
        return result

    def _check_deadline(self) -> None:
        left = remaining()
        if left is not None and left <= 0:
            _report(PolicyEvent(self.source, "refused", "deadline"))
            raise DeadlineExceeded(self.source, "the request's deadline passed before the call")

    def _wait_limit(self) -> float:
        """The latest moment a wait may end: the deadline, or without one ``timeout_s`` from now."""
        deadline = current_deadline.get()
        return deadline if deadline is not None else time.monotonic() + self.policy.timeout_s

    def _pause_limit(self) -> float:
        """The latest moment a 429 pause may end and still be waited for (``pause_wait_s``, the deadline)."""
        return min(self._wait_limit(), time.monotonic() + self.policy.pause_wait_s)

    def _pause(self, retry_after: float | None) -> None:
        # A 429 without Retry-After still means "not now": wait a second rather than retry at once.
        self.rate_limited_at = time.monotonic()
        self.paused_until = max(self.paused_until, self.rate_limited_at + (retry_after if retry_after else 1.0))

    def unhurried(self) -> bool:
        """Whether calls beyond the necessary are welcome: no 429 within the retry budget's window and the
        breaker closed. Reads made ahead on a guess (foreseen records) are skipped otherwise: under a rate
        limit every extra call is one more refused, and one more to retry; a half-open breaker lets one
        call through, and the guess must not be the one it turns away."""
        recent = time.monotonic() - self.rate_limited_at < self.policy.retry_budget_window_s
        return not recent and self.breaker.state is BreakerState.CLOSED

    async def permit(self) -> None:
        """Wait for a 429 pause to end and for a rate-limit token (see :func:`round_trip_permit`)."""
        await self._wait_pause()
        await self._take_token()

    async def _wait_pause(self) -> None:
        wait = self.paused_until - time.monotonic()
        if wait <= 0:
            return
        if self.paused_until > self._pause_limit():
            _report(PolicyEvent(self.source, "refused", "paused"))
            raise SourcePaused(self.source, f"rate limited; calls paused for {wait:.1f} s more", round(wait, 3))
        _report(PolicyEvent(self.source, "wait", "pause", wait))
        await asyncio.sleep(wait)

    async def _take_token(self) -> None:
        if self.bucket is None:
            return
        wait = self.bucket.wait_for_next()
        deadline = current_deadline.get()
        # Without a deadline the wait is unbounded: the bucket refills at a steady rate, so it always ends.
        if deadline is not None and time.monotonic() + wait > deadline:
            _report(PolicyEvent(self.source, "refused", "rate_limit"))
            raise SourcePaused(self.source, f"client-side rate limit: next call in {wait:.2f} s", round(wait, 3))
        self.bucket.reserve()
        if wait > 0:
            _report(PolicyEvent(self.source, "wait", "rate_limit", wait))
            await asyncio.sleep(wait)

    @asynccontextmanager
    async def _slot(self, limit: Slots) -> AsyncIterator[None]:
        left = remaining()
        if not limit.locked():
            await limit.acquire()  # free: no wait
        elif left is None:
            await self._wait_for_slot(limit)
        else:
            try:
                async with asyncio.timeout(max(0.0, left)):
                    await self._wait_for_slot(limit)
            except TimeoutError:
                _report(PolicyEvent(self.source, "refused", "deadline"))
                raise DeadlineExceeded(self.source, "the deadline passed waiting for a free connection") from None
        try:
            yield
        finally:
            limit.release()

    async def _wait_for_slot(self, limit: Slots) -> None:
        started = time.monotonic()
        try:
            await limit.acquire()
        finally:
            _report(PolicyEvent(self.source, "wait", "slot", time.monotonic() - started))

    def _circuit_open(self) -> CircuitOpen:
        _report(PolicyEvent(self.source, "refused", "circuit_open"))
        snapshot = self.breaker.snapshot()
        return CircuitOpen(
            self.source,
            f"circuit open after {snapshot['failures']} failures in {snapshot['calls']} calls; "
            f"next probe in {snapshot['retry_in_s']} s",
        )


__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpen",
    "DeadlineExceeded",
    "PolicyEvent",
    "Resilience",
    "ResiliencePolicy",
    "SourcePaused",
    "TransientBadResponse",
    "counts_as_failure",
    "current_deadline",
    "deadline_in",
    "policy_observers",
    "remaining",
    "round_trip_permit",
]
