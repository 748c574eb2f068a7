"""What can go wrong with a simulated legacy system, as set through ``POST /_control/faults``."""

from __future__ import annotations

import math
import random
import time
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MalformedKind(StrEnum):
    """The ways a malformed answer is malformed."""

    TRUNCATED_JSON = "truncated_json"  # a complete HTTP message whose JSON body stops halfway
    INVALID_JSON = "invalid_json"  # a complete HTTP message whose body is not JSON at all
    HTML_PAGE = "html_page"  # a 502 HTML error page, as a proxy in front of the system sends
    CUT_TRANSFER = "cut_transfer"  # the connection closes before the promised Content-Length


class FaultPlan(BaseModel):
    """Faults applied to the product endpoints (never to ``/_control``). Omitted fields mean no fault."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(
        0.0, ge=0, le=120_000, description="Every answer leaves this long after its request arrived."
    )
    jitter_ms: float = Field(0.0, ge=0, le=60_000, description="Uniform +/- spread around latency_ms.")
    error_rate: float = Field(0.0, ge=0, le=1, description="Share of requests answered with a 500.")
    rate_limit_per_s: float | None = Field(
        None, gt=0, description="Above this request rate, answer 429 with Retry-After."
    )
    down: bool = Field(False, description="Reset every connection without answering.")
    malformed_rate: float = Field(0.0, ge=0, le=1, description="Share of answers that are malformed.")
    malformed_kinds: list[MalformedKind] = Field(
        default_factory=lambda: list(MalformedKind), min_length=1, description="Which malformations to use."
    )
    applies_to: Literal["all", "reads", "writes"] = Field(
        "all", description="Which requests the faults above disturb: every one, reads only or writes only."
    )
    write_drop_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of writes carried out and committed whose answer never reaches the client.",
    )
    write_drop_mode: Literal["reset", "hang"] = Field(
        "reset", description="How a dropped answer is lost: the connection is reset, or held silent until it is."
    )
    write_hang_s: float = Field(
        60.0, gt=0, le=600, description="How long a 'hang' drop holds the connection before resetting it."
    )
    seed: int = Field(0, description="Seed of the dice, so that a fault run can be repeated exactly.")


class TokenBucket:
    """A rate limit of ``rate`` requests a second with a burst of at most ``rate`` (at least one)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> float:
        """Take a token; return 0 if granted, else the seconds until one will be available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class FaultInjector:
    """Holds the active plan and rolls the dice for each request."""

    def __init__(self) -> None:
        self.set(FaultPlan())

    def set(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.random = random.Random(plan.seed)
        self.bucket = TokenBucket(plan.rate_limit_per_s) if plan.rate_limit_per_s else None

    def retry_after(self) -> int | None:
        """Whole seconds to announce in Retry-After when the request is over the rate, else None."""
        if self.bucket is None:
            return None
        wait = self.bucket.take()
        return max(1, math.ceil(wait)) if wait > 0 else None

    def delay_s(self) -> float:
        plan = self.plan
        if plan.latency_ms == 0 and plan.jitter_ms == 0:
            return 0.0
        jitter = self.random.uniform(-plan.jitter_ms, plan.jitter_ms) if plan.jitter_ms else 0.0
        return max(0.0, plan.latency_ms + jitter) / 1000

    def fails(self) -> bool:
        return self.plan.error_rate > 0 and self.random.random() < self.plan.error_rate

    def applies(self, is_write: bool) -> bool:
        """Whether the plan's faults (all but the write drop) disturb this request."""
        applies_to = self.plan.applies_to
        return applies_to == "all" or (applies_to == "writes") == is_write

    def drops_write(self) -> bool:
        # Rolled for writes only, so that adding the field left the dice of a read-only run as they were.
        return self.plan.write_drop_rate > 0 and self.random.random() < self.plan.write_drop_rate

    def malformation(self) -> MalformedKind | None:
        if self.plan.malformed_rate > 0 and self.random.random() < self.plan.malformed_rate:
            return self.random.choice(self.plan.malformed_kinds)
        return None
