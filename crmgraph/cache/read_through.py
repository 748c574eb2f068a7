"""Read-through caching of adapter reads: cached keys are answered, misses go upstream in one batch.

- Keys are ``{source}:{entity}:{by}:{key}:v{KEY_VERSION}``. A found record is cached for its entity's
  TTL; a record that does not exist is cached too (as :data:`ABSENT`); an error is never cached.
- Every entry is kept a stale window longer than its TTL. A stale entry is not served while its source
  answers; when the source fails for that key, the stale value is served instead of the error and
  reported to the request's :class:`StaleLog` (source, entity, age).
- Concurrent misses for the same key, from any number of requests, share one upstream call.
- ``forget()`` drops entries a change made wrong (:mod:`crmgraph.events.invalidation` names them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiocache import SimpleMemoryCache
from aiocache.base import BaseCache

from crmgraph.adapters.sdk.base import Adapter, FetchResult, RelatedResult
from crmgraph.adapters.sdk.calls import CallLog, current_call_log
from crmgraph.errors import SourceError
from crmgraph.records import Record

KEY_VERSION = 4  # bump when what is stored changes shape (3: parties gained address, postcode; 4: persons updated_at)
SCAN_PAGE = 500  # records per page when a whole (small) list is read through scan()
Upstream = Callable[[list[str]], Awaitable[list[Any]]]


@dataclass(frozen=True)
class _Absent:
    """Cached answer for "the source has no such record"."""


ABSENT = _Absent()


@dataclass(frozen=True)
class Entry:
    value: Any  # a record, a list of records, or ABSENT
    stored_at: float  # wall-clock seconds: entries are shared between instances through Redis
    fresh_until: float


@dataclass(frozen=True)
class StaleServe:
    source: str
    entity: str
    key: str
    age_s: float
    error_code: str


@dataclass
class StaleLog:
    """What one request was answered with from stale cache, because a source failed; and which entries it
    read from the sources themselves (a caller combining two reads can tell whether both are of now)."""

    served: list[StaleServe] = field(default_factory=list)
    fetched: set[str] = field(default_factory=set)  # cache keys (cache_key()) answered upstream, not stale


@dataclass(frozen=True)
class CacheOutcome:
    """What one read-through answered from where: for metrics, through :data:`cache_observers`."""

    source: str
    entity: str
    hits: int
    misses: int
    stale: int


NOT_KEPT = object()  # peek()'s answer for a key it cannot answer at once

# Called with every read's outcome; an observer must be cheap and must not raise.
cache_observers: list[Callable[[CacheOutcome], None]] = []


def cache_key(source: str, entity: str, by: str, key: str) -> str:
    return f"{source}:{entity}:{by}:{key}:v{KEY_VERSION}"


def report_peeked_hits(log: CallLog) -> None:
    """Tell the cache's observers the hits a request's loaders peeked (:meth:`ReadThrough.peek`), one outcome
    per source and entity: called once the request is done."""
    peeked, log.peeked_hits = log.peeked_hits, {}
    for (source, entity), hits in peeked.items():
        outcome = CacheOutcome(source, entity, hits, 0, 0)
        for observer in cache_observers:
            observer(outcome)


@dataclass(frozen=True)
class _PeekShape:
    """How a key of one (source, entity, by) is named in the process's cache, and how its hits are counted."""

    prefix: str | None  # the backend's name of the key is prefix + key + suffix (None: ask the backend)
    suffix: str
    hits_name: str  # as CallLog.cache_hits counts them


def _note_hits(source: str, entity: str, hits: int) -> None:
    log = current_call_log.get()
    if log is not None and hits:
        name = f"{source}:{entity}"
        log.cache_hits[name] = log.cache_hits.get(name, 0) + hits


class ReadThrough:
    def __init__(
        self,
        backend: BaseCache,
        ttl_for: Callable[[str], float],
        stale_for: Callable[[str], float] = lambda entity: 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.ttl_for = ttl_for
        self.stale_for = stale_for
        self.clock = clock
        self._in_flight: dict[str, asyncio.Future[dict[str, Any]]] = {}  # cache key -> its batch's answers
        # Process memory can be read without waiting; Redis cannot (peek() answers nothing then).
        self._memory = backend if isinstance(backend, SimpleMemoryCache) else None
        self._peek_shapes: dict[tuple[str, str, str], _PeekShape] = {}

    def peeks(self, entity: str) -> bool:
        """Whether :meth:`peek` may find ``entity``'s entries: kept in process memory, for a TTL."""
        return self._memory is not None and self.ttl_for(entity) > 0

    def peek(self, source: str, entity: str, by: str, key: str) -> Any:
        """The fresh cached answer for one key, read at once (no await); :data:`NOT_KEPT` when there is none
        or the cache is not in this process. Counted as a hit, as :meth:`fetch` would count it.

        A request's loaders ask here before they batch a key: a page answered from the cache then resolves
        without suspending at all (see crmgraph.resolvers.eager), rather than a turn of the event loop per
        level of its reads.
        """
        memory = self._memory
        if memory is None:
            return NOT_KEPT
        shape = self._peek_shapes.get((source, entity, by))
        if shape is None:
            shape = self._peek_shapes[(source, entity, by)] = self._peek_shape(memory, source, entity, by)
        name = shape.prefix + key + shape.suffix if shape.prefix is not None else memory.build_key(
            cache_key(source, entity, by, key), namespace=memory.namespace)  # fmt: skip
        entry = memory._cache.get(name)
        if not isinstance(entry, Entry) or entry.fresh_until < self.clock():
            return NOT_KEPT
        log = current_call_log.get()
        if log is not None:  # a 360 peeks some thirty keys: counted here, reported once per request
            log.cache_hits[shape.hits_name] = log.cache_hits.get(shape.hits_name, 0) + 1
            pair = (source, entity)
            log.peeked_hits[pair] = log.peeked_hits.get(pair, 0) + 1
        elif cache_observers:
            outcome = CacheOutcome(source, entity, 1, 0, 0)
            for observer in cache_observers:
                observer(outcome)
        return None if isinstance(entry.value, _Absent) else entry.value

    @staticmethod
    def _peek_shape(memory: SimpleMemoryCache, source: str, entity: str, by: str) -> _PeekShape:
        # The backend's own name of a probe key, split where the key goes: exact for whatever it adds around
        # the key (the namespace); a key builder that does more than add leaves no probe to split on.
        probe = "\x00crmgraph-peek\x00"
        named = memory.build_key(cache_key(source, entity, by, probe), namespace=memory.namespace)
        prefix, found, suffix = named.partition(probe) if isinstance(named, str) else ("", "", "")
        return _PeekShape(prefix if found else None, suffix, f"{source}:{entity}")

    async def fetch(
        self, adapter: Adapter, entity: str, ids: Sequence[str], stale: StaleLog | None = None
    ) -> list[FetchResult]:
        async def upstream(missing: list[str]) -> list[Any]:
            return list(await adapter.fetch(entity, missing))

        return await self._read(adapter.source, entity, "id", ids, upstream, stale)

    async def fetch_related(
        self,
        adapter: Adapter,
        entity: str,
        by: str,
        keys: Sequence[str],
        stale: StaleLog | None = None,
        newest: int | None = None,
    ) -> list[RelatedResult]:
        """Each key's related records. ``newest`` (each key's latest records are enough, see
        :meth:`Adapter.fetch_related`) is passed on only where ``entity`` is not kept: a kept list must be
        whole, for whoever reads it next."""
        if newest is not None and self.ttl_for(entity) > 0:
            newest = None

        async def upstream(missing: list[str]) -> list[Any]:
            return list(await adapter.fetch_related(entity, by, missing, newest))

        # A cut list has names of its own: never taken for a whole one, by a read under way or in the backend.
        named_by = by if newest is None else f"{by}~newest{newest}"
        return await self._read(adapter.source, entity, named_by, keys, upstream, stale)

    async def scan(self, adapter: Adapter, entity: str, stale: StaleLog | None = None) -> list[Record]:
        """Every record of ``entity`` the source lists (:meth:`Adapter.scan`, page after page), cached as one
        entry (``{source}:{entity}:scan:*``) for the entity's TTL: for small reference lists (campaigns), not
        for customer data. A failure raises its :class:`SourceError`, or serves the stale list where one is kept."""

        async def upstream(keys: list[str]) -> list[Any]:
            found: list[Record] = []
            cursor: str | None = None
            try:
                while True:
                    page = await adapter.scan(entity, cursor, SCAN_PAGE)
                    found.extend(page.records)
                    if page.next_cursor is None:
                        return [found]
                    cursor = page.next_cursor
            except SourceError as error:
                return [error]  # in the key's slot: a stale list, where one is kept, is served instead

        (answer,) = await self._read(adapter.source, entity, "scan", ["*"], upstream, stale)
        if isinstance(answer, SourceError):
            raise answer
        return list(answer or [])

    async def store_related(self, source: str, entity: str, by: str, found: dict[str, list[Record]]) -> None:
        """Keep lists read some other way (a joined read's children, per parent) as ``by``'s own entries."""
        await self._store({key: cache_key(source, entity, by, key) for key in found}, dict(found), entity)

    async def forget(self, entries: Iterable[tuple[str, str, str, str]]) -> int:
        """Forget the cached answers of ``(source, entity, by, key)`` entries (a record by id, the list of a
        parent's records), in the backend and in the reads under way, so that the next read asks the source.
        With Redis, every instance sharing it sees the change at once. Returns how many keys were named."""
        names = list(dict.fromkeys(cache_key(*entry) for entry in entries))
        for name in names:
            self._in_flight.pop(name, None)  # a read already under way may predate the change: not joined
        await asyncio.gather(*(self.backend.delete(name) for name in names))
        return len(names)

    async def _read(
        self,
        source: str,
        entity: str,
        by: str,
        keys: Sequence[str],
        upstream: Upstream,
        stale: StaleLog | None,
    ) -> list[Any]:
        unique = list(dict.fromkeys(keys))
        names = {key: cache_key(source, entity, by, key) for key in unique}
        # An entity kept for no time (TTL 0, the cache off) is never stored (_store): nothing to look up.
        kept = bool(unique) and self.ttl_for(entity) > 0
        now = self.clock()
        answers: dict[str, Any] = {}
        expired: dict[str, Entry] = {}
        missing: list[str] = []
        if kept:
            cached = await self.backend.multi_get(list(names.values()))
            for key, entry in zip(unique, cached, strict=True):
                if isinstance(entry, Entry) and entry.fresh_until >= now:
                    answers[key] = None if isinstance(entry.value, _Absent) else entry.value
                    continue
                if isinstance(entry, Entry):
                    expired[key] = entry
                missing.append(key)
        else:
            missing = unique
        hits = len(answers)
        _note_hits(source, entity, hits)
        stale_served = 0
        if missing and not expired and stale is None:  # nothing older to fall back on, nothing to note
            answers.update(await self._shared(names, missing, upstream, entity))
        elif missing:
            fresh = await self._shared(names, missing, upstream, entity)
            for key in missing:
                value = fresh[key]
                old = expired.get(key)
                if isinstance(value, SourceError) and old is not None:
                    answers[key] = None if isinstance(old.value, _Absent) else old.value
                    stale_served += 1
                    if stale is not None:
                        age = round(now - old.stored_at, 1)
                        stale.served.append(StaleServe(source, entity, key, age, value.code))
                else:
                    answers[key] = value
                    if stale is not None and not isinstance(value, SourceError):
                        stale.fetched.add(names[key])
        if cache_observers:
            outcome = CacheOutcome(source, entity, hits, len(missing), stale_served)
            for observer in cache_observers:
                observer(outcome)
        return [answers[key] for key in keys]

    async def _shared(
        self, names: dict[str, str], missing: list[str], upstream: Upstream, entity: str
    ) -> dict[str, Any]:
        """Upstream answers for ``missing``; keys another request is already loading are awaited, not asked.

        One future stands for a whole batch of keys (its result the answers by key): a list page reads
        hundreds of keys at a time, and a future per key cost more than the sharing it allows."""
        in_flight = self._in_flight
        waiting = {key: in_flight[names[key]] for key in missing if names[key] in in_flight}
        mine = [key for key in missing if key not in waiting] if waiting else missing
        batch: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        for key in mine:
            in_flight[names[key]] = batch
        results: dict[str, Any] = {}
        try:
            if mine:
                fresh = await upstream(mine)
                results.update(zip(mine, fresh, strict=True))
                # A key forgotten while its read was under way (forget()) may have changed after the read
                # began: its answer goes to the requests that asked, but is not kept.
                kept = {key: results[key] for key in mine if in_flight.get(names[key]) is batch}
                await self._store(names, kept, entity)
        except BaseException as exc:
            if not batch.done():
                batch.set_exception(exc)
                batch.exception()  # retrieved here, so an unshared failure is not reported as lost
            raise
        finally:
            if not batch.done():
                batch.set_result(results)
            for key in mine:
                name = names[key]
                if in_flight.get(name) is batch:  # not a later read of a forgotten key
                    del in_flight[name]
        for key, shared in waiting.items():
            results[key] = (await asyncio.shield(shared)).get(key)
        return results

    async def _store(self, names: dict[str, str], results: dict[str, Any], entity: str) -> None:
        ttl = self.ttl_for(entity)
        if ttl <= 0:
            return
        now = self.clock()
        entries = [
            (names[key], Entry(ABSENT if value is None else value, now, now + ttl))
            for key, value in results.items()
            if not isinstance(value, SourceError)
        ]
        if entries:
            await self.backend.multi_set(entries, ttl=ttl + self.stale_for(entity))
