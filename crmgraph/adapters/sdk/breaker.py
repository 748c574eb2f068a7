"""The circuit breaker of one source: stop calling a system that keeps failing, and probe it now and then.

::

    closed ──(failure rate >= failure_rate over the last `window` calls, at least `min_calls` of them)──> open
    open ──(open_s passed; the next call is let through as the one probe)──> half_open
    half_open ──(the probe succeeds)──> closed      half_open ──(the probe fails)──> open

While open, and while the probe is in flight, calls fail fast without reaching the system. What counts as
a failure is decided by the caller (:mod:`crmgraph.adapters.sdk.resilience`): the system did not answer, or
answered something unusable. A refusal (4xx) or a 429 is an answer: the system is up.
"""

from __future__ import annotations

import time
from collections import deque
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """One source's breaker. Single event loop: no locks needed, every transition is synchronous."""

    def __init__(self, *, failure_rate: float, window: int, min_calls: int, open_s: float) -> None:
        self.failure_rate = failure_rate
        self.min_calls = min_calls
        self.open_s = open_s
        self.state = BreakerState.CLOSED
        self.opened_at: float | None = None  # time.monotonic() of the last opening
        self._outcomes: deque[bool] = deque(maxlen=window)  # True = failed; recorded while closed
        self._probing = False

    @property
    def failures(self) -> int:
        return sum(self._outcomes)

    def retry_in(self) -> float:
        """Seconds until the next probe may go out (0 when closed)."""
        if self.state is BreakerState.CLOSED or self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.open_s - time.monotonic())

    def rejects(self) -> bool:
        """Whether a call now would fail fast; takes nothing (see :meth:`admit`)."""
        if self.state is BreakerState.CLOSED:
            return False
        if self.state is BreakerState.HALF_OPEN:
            return self._probing
        return self.retry_in() > 0

    def admit(self) -> bool:
        """Let a call through, or not. Past ``open_s``, the first call admitted becomes the probe."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN and self.retry_in() <= 0:
            self.state = BreakerState.HALF_OPEN
        if self.state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def record(self, failed: bool) -> None:
        """The outcome of an admitted call."""
        if self.state is BreakerState.HALF_OPEN:
            if not self._probing:
                return  # a call admitted before the breaker opened, finishing late: the probe decides
            self._probing = False
            if failed:
                self._open()
            else:
                self.state = BreakerState.CLOSED
                self.opened_at = None
                self._outcomes.clear()
            return
        if self.state is BreakerState.OPEN:
            return  # a late call from before the opening; it changes nothing
        self._outcomes.append(failed)
        calls = len(self._outcomes)
        if calls >= self.min_calls and self.failures / calls >= self.failure_rate:
            self._open()

    def abandon(self) -> None:
        """An admitted call that never reached the system (cancelled, out of time): it proves nothing."""
        self._probing = False  # if it was the probe, the next call probes instead

    def _open(self) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = time.monotonic()  # the window keeps the failures that opened it, for the snapshot

    def snapshot(self) -> dict[str, object]:
        """For readiness and metrics: the state, the window's failures and calls, when it opened."""
        return {
            "state": str(self.state),
            "failures": self.failures,
            "calls": len(self._outcomes),
            "opened_at": self.opened_at,
            "retry_in_s": round(self.retry_in(), 3),
        }
