"""The ``reports:`` section of the configuration (docs/reports.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SlaTarget(_Strict):
    first_reply_hours: float = Field(gt=0, description="The first public agent reply is due within this many hours.")
    resolution_hours: float = Field(gt=0, description="The ticket is due solved within this many hours.")


def _default_sla() -> dict[str, SlaTarget]:
    return {
        "URGENT": SlaTarget(first_reply_hours=1, resolution_hours=24),
        "HIGH": SlaTarget(first_reply_hours=4, resolution_hours=72),
        "NORMAL": SlaTarget(first_reply_hours=24, resolution_hours=168),
        "LOW": SlaTarget(first_reply_hours=48, resolution_hours=336),
    }


class ServiceReportConfig(_Strict):
    sla: dict[str, SlaTarget] = Field(
        default_factory=_default_sla, description="Targets by ticket priority (URGENT, HIGH, NORMAL, LOW)."
    )
    complaint_tags: tuple[str, ...] = Field(
        ("complaint",),
        description="A ticket with any of these tags, or of this kind or category, counts as a complaint.",
    )
    categorize: bool = Field(
        True,
        description="Put each ticket in a category with the triage classifier of workflows.triage (when one is "
        "configured): the category the service report breaks down by and complaints are counted from.",
    )


class FunnelConfig(_Strict):
    stages: tuple[str, ...] = Field(
        (),
        description="The pipeline's stage ids in order (the CRM's own ids). Empty: the order deals entered them.",
    )
    won_stage: str = Field("closedwon", description="The stage id a won deal ends in.")
    lost_stage: str = Field("closedlost", description="The stage id a lost deal ends in.")


class ValueConfig(_Strict):
    horizon_months: int = Field(12, ge=1, le=120, description="How far ahead the predicted lifetime value looks.")
    discount_rate_monthly: float = Field(0.01, ge=0, lt=1, description="Discount of future revenue per month.")
    churn_alive_below: float = Field(
        0.5, gt=0, lt=1, description="A customer whose probability of still buying is below this is at risk."
    )


class ReportsConfig(_Strict):
    enabled: bool = Field(True, description="Serve reports and keep the analytic store current.")
    store_url: str | None = Field(
        None,
        description="The analytic store: duckdb:///path.duckdb (embedded) or postgresql+psycopg://... "
        "Default: analytics.duckdb beside the identity store's SQLite file, else in memory.",
    )
    currency: str = Field("EUR", min_length=3, max_length=3, description="The currency every figure is shown in.")
    exchange_rates: dict[str, Decimal] = Field(
        default_factory=dict,
        description="Units of `currency` per unit of each other currency (a fixed rate: reports, not accounting).",
    )
    attribution: Literal["linear", "first_touch", "last_touch"] = Field(
        "linear",
        description="How a customer's revenue is shared between the campaigns its leads were members of "
        "(docs/reports.md).",
    )
    apply_every_s: float = Field(
        1.0, gt=0, le=60, description="Change events are applied to the store in batches at most this often."
    )
    rebuild_timeout_s: float = Field(
        300, gt=0, le=3600,
        description="A rebuild's calls may each take this long (a source's own resilience.timeout_s, meant for "
        "requests, is raised to it): reading a large segment or the daily totals of many parties is one call.",
    )  # fmt: skip
    funnel: FunnelConfig = Field(default_factory=FunnelConfig)
    service: ServiceReportConfig = Field(default_factory=ServiceReportConfig)
    value: ValueConfig = Field(default_factory=ValueConfig)

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        if not value.isalpha():
            raise ValueError(f"{value!r}: expected an ISO 4217 code such as EUR")
        return value.upper()

    def rate(self, currency: str) -> Decimal | None:
        """Units of the reporting currency per unit of ``currency``; None when no rate is configured."""
        if currency.upper() == self.currency:
            return Decimal(1)
        return self.exchange_rates.get(currency.upper())
