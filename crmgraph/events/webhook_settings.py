"""The ``webhooks:`` section: which sources may deliver change notifications, and with which secret."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class WebhookSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    secret: str = Field(min_length=16, description="The signing secret the system signs deliveries with (${ENV}).")
    format: Literal["hubspot", "zendesk", "mautic"] | None = Field(
        None, description="Whose webhooks the source sends; none: its adapter's (a `rest` source names it)."
    )


class WebhooksConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: dict[str, WebhookSource] = Field(
        default_factory=dict, description="Per source name: its signing secret. POST /webhooks/<source>."
    )
    max_age_s: float = Field(300.0, gt=0, le=3600, description="Older signatures are refused as stale.")
    public_url: str | None = Field(
        None, description="The facade's URL as the sender calls it (behind a proxy), for HubSpot's signature."
    )
