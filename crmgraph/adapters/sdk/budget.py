"""How many calls a source may have in flight, and how they are shared between concurrent requests.

**The size** comes from the upstream's documented rate limit (``sources.<name>.rate_limit``, by default the
one the adapter kind declares: HubSpot allows a private app 100 requests per 10 s, Zendesk's smallest plan
200 a minute). A burst of calls sent at once may use a quarter of one window's quota, so that four requests
fanning out together still stay under it; the client-side ``resilience.rate_limit_per_s`` and the 429 pause
police the sustained rate. A source whose kind documents no limit (a SQL database) keeps 8, and
``max_concurrency`` set on the source overrides either.

**The sharing** (:class:`FairBudget`): a request may hold at most its share of the budget, the budget
divided by the requests that currently hold or wait for a slot. A request alone takes the whole budget (its
fan-out leaves in one wave); when a second arrives, the first's further calls wait for the second's to get
their half, so a page that fans out a hundred calls cannot make a customer-360 behind it wait for all of
them. Within a request, calls are served in the order they asked.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from crmgraph.adapters.sdk.calls import current_call_log
from crmgraph.errors import ConfigError

BURST_SHARE = 0.25  # of one window's quota that one burst of calls may use
MIN_BUDGET, MAX_BUDGET = 4, 64
NO_LIMIT_BUDGET = 8  # a source whose kind documents no rate limit


class Slots(Protocol):
    """What the SDK needs of a concurrency limit (``asyncio.Semaphore`` is one)."""

    def locked(self) -> bool: ...

    async def acquire(self) -> Any: ...

    def release(self) -> None: ...


@dataclass(frozen=True)
class RateLimit:
    """``requests`` per ``per_s`` seconds, as the upstream documents its quota."""

    requests: int
    per_s: float

    def budget(self) -> int:
        """Calls in flight at once: a quarter of one window's quota, within 4..64."""
        return max(MIN_BUDGET, min(MAX_BUDGET, math.ceil(self.requests * BURST_SHARE)))

    @classmethod
    def from_settings(cls, source: str, settings: Mapping[str, Any], default: RateLimit | None) -> RateLimit | None:
        """``settings["rate_limit"]`` (``{requests: 190, per_s: 10}``), else ``default``."""
        raw = settings.get("rate_limit")
        if raw is None:
            return default
        where = f"sources.{source}.rate_limit"
        if not isinstance(raw, Mapping) or set(raw) != {"requests", "per_s"}:
            raise ConfigError(where, f"must be {{requests: <whole number>, per_s: <seconds>}}, got {raw!r}")
        requests, per_s = raw["requests"], raw["per_s"]
        if isinstance(requests, bool) or not isinstance(requests, int) or requests < 1:
            raise ConfigError(f"{where}.requests", f"must be a whole number >= 1, got {requests!r}")
        if isinstance(per_s, bool) or not isinstance(per_s, int | float) or per_s <= 0:
            raise ConfigError(f"{where}.per_s", f"must be a positive number of seconds, got {per_s!r}")
        return cls(requests, float(per_s))


def _requester() -> int:
    """Who is asking: the request (its call log), or 0 for work outside any request (linking, feeds)."""
    log = current_call_log.get()
    return 0 if log is None else id(log)


class FairBudget:
    """``total`` slots, each request holding at most its share (see the module). Semaphore-shaped: a slot
    is released in the same request (the same context) that acquired it."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.in_flight = 0
        self._held: dict[int, int] = {}
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    def share(self, requester: int) -> int:
        """The most slots ``requester`` may hold now."""
        active = {who for who, held in self._held.items() if held} | {who for who, _ in self._waiting}
        active.add(requester)
        return max(1, math.ceil(self.total / len(active)))

    def locked(self) -> bool:
        """Whether the current request would wait for a slot."""
        return bool(self._waiting) or not self._may_take(_requester())

    async def acquire(self) -> bool:
        requester = _requester()
        if not self._waiting and self._may_take(requester):
            self._take(requester)
            return True
        granted = asyncio.get_running_loop().create_future()
        entry = (requester, granted)
        self._waiting.append(entry)
        try:
            await granted
        except BaseException:
            if granted.done() and not granted.cancelled():
                self._give_back(requester)  # granted just as the wait was given up: pass the slot on
            else:
                self._waiting.remove(entry)
                self._grant()  # its absence may raise the others' shares
            raise
        return True

    def release(self) -> None:
        self._give_back(_requester())

    def _may_take(self, requester: int) -> bool:
        return self.in_flight < self.total and self._held.get(requester, 0) < self.share(requester)

    def _take(self, requester: int) -> None:
        self.in_flight += 1
        self._held[requester] = self._held.get(requester, 0) + 1

    def _give_back(self, requester: int) -> None:
        self.in_flight -= 1
        left = self._held.get(requester, 1) - 1
        if left > 0:
            self._held[requester] = left
        else:
            self._held.pop(requester, None)
        self._grant()

    def _grant(self) -> None:
        """Hand free slots to the waiters that may take one, oldest first, skipping a request at its share."""
        for entry in list(self._waiting):
            if self.in_flight >= self.total:
                return
            requester, granted = entry
            if self._may_take(requester):
                self._waiting.remove(entry)
                self._take(requester)
                granted.set_result(None)
