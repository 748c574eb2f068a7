"""The resilience policy of a source: ``sources.<name>.resilience`` in the configuration.

Applied by :class:`crmgraph.adapters.sdk.resilience.Resilience`; every key is optional and has a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crmgraph.errors import ConfigError


class ResiliencePolicy(BaseModel):
    """``sources.<name>.resilience`` in the configuration; every key is optional."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    timeout_s: float = Field(
        5.0, gt=0, description="Longest wait for one upstream call; capped by what is left of the request deadline."
    )
    retries: int = Field(
        2, ge=0, le=10, description="Extra attempts for a read that failed in a way worth retrying (0: never)."
    )
    retry_timeouts: bool = Field(
        False,
        description="Retry a call that timed out (default no: a slow system is answered in timeout_s, "
        "not in (retries + 1) x timeout_s, and is not asked twice while it struggles).",
    )
    backoff_base_s: float = Field(
        0.05, gt=0, description="Backoff before retry n is uniform in [0, min(backoff_max_s, base * 2**n)]."
    )
    backoff_max_s: float = Field(1.0, gt=0, description="The largest backoff before one retry.")
    retry_budget: float = Field(
        0.2, ge=0, le=1, description="Retries may add at most this share of the calls made in the budget window."
    )
    retry_budget_window_s: float = Field(10.0, gt=0, description="The sliding window of the retry budget.")
    retry_budget_min: int = Field(
        3, ge=0, description="Retries allowed in any window on top of the share, so a quiet source can retry."
    )
    failure_rate: float = Field(
        0.5, gt=0, le=1, description="The breaker opens when this share of the last `window` calls failed."
    )
    window: int = Field(20, ge=1, description="How many recent calls the breaker judges.")
    min_calls: int = Field(10, ge=1, description="The breaker never opens on fewer calls than this in its window.")
    open_s: float = Field(10.0, gt=0, description="How long the breaker stays open before one probe call.")
    rate_limit_per_s: float | None = Field(
        None, gt=0, description="Client-side limit of requests a second to this source (default: none)."
    )
    pause_wait_s: float = Field(
        1.0,
        ge=0,
        description="After a 429, wait for the source's Retry-After only if it ends within this many seconds "
        "(and before the deadline); otherwise fail fast as rate limited, and serve stale data if there is some.",
    )

    @model_validator(mode="after")
    def _coherent(self) -> ResiliencePolicy:
        if self.min_calls > self.window:
            raise ValueError(f"min_calls ({self.min_calls}) cannot exceed window ({self.window})")
        if self.backoff_base_s > self.backoff_max_s:
            raise ValueError("backoff_base_s cannot exceed backoff_max_s")
        return self

    @classmethod
    def from_settings(cls, source: str, settings: Mapping[str, Any]) -> ResiliencePolicy:
        """Read ``settings["resilience"]``; a wrong value is a :class:`ConfigError` naming its key."""
        where = f"sources.{source}.resilience"
        raw = settings.get("resilience")
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError(where, f"must be a mapping of policy settings, got {raw!r}")
        try:
            return cls.model_validate(dict(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(part) for part in first["loc"])
            raise ConfigError(f"{where}.{key}" if key else where, first["msg"]) from None
