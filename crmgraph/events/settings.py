"""The ``events:`` section: where change events travel between instances, and how much a subscriber may lag."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EventsConfig(BaseModel):
    """The event bus (docs/realtime.md).

    ``memory://`` keeps events inside one process: enough for one instance. With several instances behind a
    load balancer, name the Redis they share (``redis://host:port/db``): an event published at any instance
    reaches the subscribers of every instance, and each instance forgets the cache entries it affects.
    """

    model_config = ConfigDict(extra="forbid")

    url: str = Field("memory://", description="memory:// (one process) or redis://host:port/db (shared pub/sub).")
    channel: str = Field(
        "crmgraph:events",
        min_length=1,
        description="The pub/sub channel; deployments sharing one Redis use different channels.",
    )
    queue_size: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Events a subscription may have waiting for delivery; one more and its connection is "
        "closed with code 4429 (a subscriber that cannot keep up is dropped, not buffered without bound).",
    )
    max_subscriptions_per_connection: int = Field(
        20, ge=1, le=1000, description="Operations one WebSocket connection may run at once."
    )
    connection_init_timeout_s: float = Field(
        10.0, gt=0, le=600, description="Seconds a WebSocket client has to send connection_init (else 4408)."
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not (url == "memory://" or url.startswith("redis://")):
            raise ValueError("must be memory:// or a redis:// URL")
        return url
