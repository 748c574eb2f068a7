"""The cache backend named by ``cache.url``: process memory, or Redis shared by several instances."""

from __future__ import annotations

from typing import Any

from aiocache import Cache
from aiocache.base import BaseCache
from aiocache.serializers import NullSerializer, PickleSerializer

from crmgraph.config import CacheConfig


def open_backend(config: CacheConfig) -> BaseCache:
    # In memory, records are kept as they are: they are immutable, so sharing them between requests is safe
    # and skips a copy on every hit. In Redis, pickle keeps them exactly (Decimal, datetime, enums); that
    # Redis is crmgraph's own, written only by crmgraph instances, never one others can write to.
    if config.url == "memory://":
        # No timeout: a dict lookup cannot hang, and aiocache would wrap every call in asyncio.wait_for.
        return Cache(Cache.MEMORY, serializer=NullSerializer(), namespace=f"{config.namespace}:", timeout=None)
    backend = Cache.from_url(config.url)
    backend.serializer = PickleSerializer()
    backend.namespace = config.namespace  # the Redis backend adds the ":" itself
    return backend


async def close_backend(backend: BaseCache) -> None:
    client: Any = getattr(backend, "client", None)
    if client is not None:
        # aiocache 0.12 calls redis-py's deprecated close(); closing the client directly avoids it.
        await client.aclose()
    else:
        await backend.close()
