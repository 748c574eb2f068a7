"""Per-principal rate limits: a token bucket per principal, in this process or shared through Redis.

    rate_limit:
      enabled: true
      rate_per_s: 50          # tokens added per second: the sustained request rate
      burst: 100              # the bucket's size: requests allowed at once after a quiet spell
      url: memory://          # or redis://host:port/db, so that every instance draws from one bucket

A bucket is keyed by the principal's subject (``sub`` of a JWT, an API key's subject); requests without
credentials (the anonymous role) are keyed by the client address instead, so that anonymous clients do
not share one budget. Each GraphQL request takes one token; a request that finds the bucket empty is
refused with the seconds until a token is back.

With Redis, one Lua script reads, refills and takes from the bucket atomically, on Redis's clock (the
instances' clocks may disagree): one round trip per request. When Redis cannot be reached the limiter
falls back to this process's own buckets (each instance then limits at the configured rate on its own)
and logs a warning; it tries Redis again after :data:`REDIS_RETRY_S`. A rate limit is a guard against
abuse, not an entitlement: failing open to the per-instance limit keeps the facade answering while the
query limits and the upstream-call budget still bound what each request costs.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

log = logging.getLogger("crmgraph.rate_limit")

REDIS_RETRY_S = 5.0  # after a Redis failure, the local buckets answer for this long before Redis is tried again
REDIS_TIMEOUT_S = 0.25  # a rate-limit check must not hold a request longer than this
MAX_LOCAL_KEYS = 100_000  # the least recently seen principals are forgotten past this (they restart full)


class RateLimitConfig(BaseModel):
    """The ``rate_limit:`` section: a token bucket per principal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Refuse requests past the rate with 429 (RATE_LIMITED).")
    rate_per_s: float = Field(
        50.0, gt=0, le=1_000_000, description="Requests per second a principal may make, sustained."
    )
    burst: int = Field(100, ge=1, le=1_000_000, description="Requests a principal may make at once (the bucket).")
    url: str = Field("memory://", description="memory:// (per instance) or redis://host:port/db (shared).")
    namespace: str = Field("crmgraph", description="Key prefix in Redis, so several deployments can share it.")

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not (url == "memory://" or url.startswith(("redis://", "rediss://"))):
            raise ValueError("must be memory:// or a redis:// (or rediss://) URL")
        return url


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: float  # 0 when allowed


class LocalBuckets:
    """Token buckets in this process: a dict of (tokens, last refill) per key."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, cost: float = 1.0) -> Decision:
        now = self.clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= cost:
            self._store(key, tokens - cost, now)
            return Decision(True, 0.0)
        self._store(key, tokens, now)
        return Decision(False, (cost - tokens) / self.rate)

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        if len(self._buckets) > MAX_LOCAL_KEYS:
            self._buckets.popitem(last=False)


# KEYS[1]: the bucket; ARGV: rate per second, burst, cost. Returns {allowed, seconds to wait} as strings
# (Lua numbers would reach the client truncated to integers). The time is Redis's own, so that instances
# with skewed clocks still share one bucket; the key expires once it would be full again anyway.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {tostring(allowed), tostring(wait)}
"""


class RedisBuckets:
    """Token buckets in Redis, shared by every instance that names the same URL and namespace."""

    def __init__(self, url: str, rate: float, burst: int, namespace: str) -> None:
        self.url = url
        self.rate = rate
        self.burst = burst
        self.prefix = f"{namespace}:ratelimit:"
        self._client: Any = None
        self._script: Any = None

    def _connect(self) -> Any:
        # Created on first use, in the serving event loop (the asyncio client binds its pool to it).
        if self._script is None:
            from redis import asyncio as redis_asyncio

            self._client = redis_asyncio.Redis.from_url(
                self.url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
            )
            self._script = self._client.register_script(_TAKE)
        return self._script

    async def take(self, key: str, cost: float = 1.0) -> Decision:
        allowed, wait = await self._connect()(keys=[self.prefix + key], args=[self.rate, self.burst, cost])
        return Decision(int(allowed) == 1, float(wait))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = self._script = None


class RateLimiter:
    """Decides whether a principal's request may proceed: one dict lookup, or one Redis round trip."""

    def __init__(self, config: RateLimitConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.local = LocalBuckets(config.rate_per_s, config.burst, clock)
        self.shared = (
            RedisBuckets(config.url, config.rate_per_s, config.burst, config.namespace)
            if config.url != "memory://"
            else None
        )
        self._redis_down_until = 0.0

    async def take(self, key: str) -> Decision:
        if self.shared is not None and self.clock() >= self._redis_down_until:
            try:
                return await self.shared.take(key)
            except Exception as exc:  # any client error (refused, timeout, auth, script): same fallback
                self._redis_down_until = self.clock() + REDIS_RETRY_S
                log.warning(
                    "rate limit: Redis at %s failed (%s: %s); this instance limits on its own for %g s",
                    self.config.url.split("@")[-1], exc.__class__.__name__, exc, REDIS_RETRY_S,
                )  # fmt: skip
        return self.local.take(key)

    def retry_after(self, decision: Decision) -> int:
        """Whole seconds for ``Retry-After`` (at least 1: HTTP counts in whole seconds)."""
        return max(1, math.ceil(decision.retry_after_s))

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.close()
