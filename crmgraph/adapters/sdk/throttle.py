"""Two counters that keep the facade polite to a source: a client-side rate limit and a retry budget."""

from __future__ import annotations

import time
from collections import deque


class TokenBucket:
    """At most ``rate`` calls a second, with a burst of at most ``max(1, rate)``.

    A call *reserves* its slot: the bucket may go below zero, and each caller waits for its own turn, so
    calls leave in the order they asked, evenly spaced, and never faster than the rate.
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def wait_for_next(self) -> float:
        """Seconds a call asking now would wait for its token; reserves nothing."""
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def reserve(self) -> float:
        """Take the next token; return how long to wait before using it."""
        wait = self.wait_for_next()
        self.tokens -= 1
        return wait

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now


class RetryBudget:
    """Retries may add at most ``share`` of the first attempts made in the last ``window_s`` seconds.

    ``minimum`` retries are allowed in any window on top of the share, so that a quiet source (one call a
    minute) can still retry a lone failure, while a failing source under load is not hammered: with the
    default share of 0.2, a dead system sees at most 20% more calls than without retries.
    """

    def __init__(self, share: float, window_s: float, minimum: int) -> None:
        self.share = share
        self.window_s = window_s
        self.minimum = minimum
        self._firsts: deque[float] = deque()
        self._retries: deque[float] = deque()

    def record_first(self) -> None:
        self._firsts.append(time.monotonic())

    def try_retry(self) -> bool:
        """Spend one retry if the budget allows it."""
        self._expire()
        if len(self._retries) + 1 > self.minimum + self.share * len(self._firsts):
            return False
        self._retries.append(time.monotonic())
        return True

    def _expire(self) -> None:
        horizon = time.monotonic() - self.window_s
        for stamps in (self._firsts, self._retries):
            while stamps and stamps[0] < horizon:
                stamps.popleft()
