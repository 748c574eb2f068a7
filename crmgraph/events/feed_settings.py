"""The ``feeds:`` section: systems without webhooks, polled through their change feeds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FeedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=1, description="The configured source whose change feed is read.")
    entity: str = Field(min_length=1, description="What it follows: ticket, party, person, order, ...")
    every_s: float = Field(5.0, ge=0.1, le=3600, description="Seconds between two reads of the feed.")


class FeedsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    follow: list[FeedSettings] = Field(default_factory=list, description="The feeds polled for change events.")
    lease_s: float = Field(
        30.0, ge=0.5, le=3600, description="One instance polls a feed at a time; another takes over after this long."
    )
