"""Read-through caching of adapter reads: cached keys are answered, misses go upstream in one batch.

Keys are ``{source}:{entity}:{by}:{key}:v{KEY_VERSION}``. A record found is cached for its entity's TTL;
a record that does not exist is cached too (as :data:`ABSENT`), so asking again for a missing id is
free; an error is never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiocache.base import BaseCache

from crmgraph.adapters.base import Adapter, FetchResult, RelatedResult
from crmgraph.adapters.calls import current_call_log
from crmgraph.errors import SourceError

KEY_VERSION = 1  # bump when canonical records change shape, so old entries are never read


@dataclass(frozen=True)
class _Absent:
    """Cached answer for "the source has no such record"."""


ABSENT = _Absent()


def cache_key(source: str, entity: str, by: str, key: str) -> str:
    return f"{source}:{entity}:{by}:{key}:v{KEY_VERSION}"


def _note_hits(source: str, entity: str, hits: int) -> None:
    log = current_call_log.get()
    if log is not None and hits:
        name = f"{source}:{entity}"
        log.cache_hits[name] = log.cache_hits.get(name, 0) + hits


class ReadThrough:
    def __init__(self, backend: BaseCache, ttl_for: Callable[[str], float]) -> None:
        self.backend = backend
        self.ttl_for = ttl_for

    async def fetch(self, adapter: Adapter, entity: str, ids: Sequence[str]) -> list[FetchResult]:
        async def upstream(missing: list[str]) -> list[Any]:
            return list(await adapter.fetch(entity, missing))

        return await self._read(adapter.source, entity, "id", ids, upstream)

    async def fetch_related(self, adapter: Adapter, entity: str, by: str, keys: Sequence[str]) -> list[RelatedResult]:
        async def upstream(missing: list[str]) -> list[Any]:
            return list(await adapter.fetch_related(entity, by, missing))

        return await self._read(adapter.source, entity, by, keys, upstream)

    async def _read(
        self, source: str, entity: str, by: str, keys: Sequence[str], upstream: Callable[[list[str]], Any]
    ) -> list[Any]:
        unique = list(dict.fromkeys(keys))
        cache_keys = [cache_key(source, entity, by, key) for key in unique]
        cached = await self.backend.multi_get(cache_keys) if cache_keys else []
        answers: dict[str, Any] = {}
        missing: list[str] = []
        for key, value in zip(unique, cached, strict=True):
            if value is None:
                missing.append(key)
            else:
                answers[key] = None if isinstance(value, _Absent) else value
        _note_hits(source, entity, len(answers))
        if missing:
            fresh = await upstream(missing)
            to_store: list[tuple[str, Any]] = []
            for key, value in zip(missing, fresh, strict=True):
                answers[key] = value
                if not isinstance(value, SourceError):
                    to_store.append((cache_key(source, entity, by, key), ABSENT if value is None else value))
            ttl = self.ttl_for(entity)
            if to_store and ttl > 0:
                await self.backend.multi_set(to_store, ttl=ttl)
        return [answers[key] for key in keys]
