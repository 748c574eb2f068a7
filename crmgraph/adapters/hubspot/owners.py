"""HubSpot's owners, read whole and kept: a page of companies asks for a dozen owners, an account has few.

HubSpot has no batch read of owners (``GET /crm/v3/owners/{id}`` is one owner a call), but its list,
``GET /crm/v3/owners``, gives up to 500 a page, and owners change rarely (a hire, a departure). So the
adapter reads the list once per ``owners_ttl_s`` for the whole process and answers every owner from it: a
page of fifty companies costs at most one owners call, whatever the number of distinct owners on it.

HubSpot sends no webhook for owners, so nothing invalidates the list early. An id the list lacks may be an
owner created since it was read: the list is then read again, at most once per ``MIN_REFRESH_S``, before the
id is answered as unknown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

Raw = Mapping[str, Any]
ReadAll = Callable[[], Awaitable[dict[str, Raw]]]

DEFAULT_TTL_S = 300.0
MIN_REFRESH_S = 10.0  # the soonest an unknown id reads the list again


class OwnerDirectory:
    """Every owner of the account by id, read by ``read_all`` and kept ``ttl_s`` seconds.

    Concurrent readers share one read: the first starts it, the others await the same future.
    A failed read is not kept (the next caller reads again) and fails the callers that awaited it.
    """

    def __init__(self, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._owners: dict[str, Raw] = {}
        self._read_at = float("-inf")  # time.monotonic() of the last complete read
        self._reading: asyncio.Future[dict[str, Raw]] | None = None

    async def lookup(self, ids: list[str], read_all: ReadAll) -> dict[str, Raw]:
        """The owners among ``ids`` that the account has (an id it lacks is absent from the answer)."""
        age = time.monotonic() - self._read_at
        unknown = any(owner_id not in self._owners for owner_id in ids)
        # An unknown id may be an owner created since the list was read: read it again, not too often.
        if age >= self.ttl_s or (unknown and age >= MIN_REFRESH_S):
            await self._refresh(read_all)
        return {owner_id: self._owners[owner_id] for owner_id in ids if owner_id in self._owners}

    def forget(self) -> None:
        """Drop the list: the next lookup reads it again."""
        self._read_at = float("-inf")

    async def _refresh(self, read_all: ReadAll) -> None:
        reading = self._reading
        if reading is None:
            reading = self._reading = asyncio.ensure_future(read_all())
            reading.add_done_callback(self._done)
        # Shielded: a caller cancelled mid-way must not cancel the read the others await.
        await asyncio.shield(reading)

    def _done(self, reading: asyncio.Future[dict[str, Raw]]) -> None:
        self._reading = None
        if reading.cancelled() or reading.exception() is not None:
            return
        self._owners = reading.result()
        self._read_at = time.monotonic()
