"""The ``audit:`` section of the configuration: what is recorded and for how long."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crmgraph.policy.roles import type_fields

# Personal data of the demo's graph: what identifies or reaches a person or a company.
PERSONAL_DATA = (
    "Customer.email",
    "Customer.phone",
    "Customer.taxId",
    "Contact.email",
    "Contact.phone",
)


class AuditConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Record reads of personal data, mutations and denied requests.")
    personal_data: tuple[str, ...] = Field(
        PERSONAL_DATA, description="Fields (Type.field) whose every read is recorded, clear or masked."
    )
    retention_days: int | None = Field(
        None, ge=1, description="Events older than this are pruned (at start, then daily); none: kept for ever."
    )
    batch: int = Field(500, ge=1, le=100_000, description="Events written per statement at most.")
    interval_s: float = Field(0.5, gt=0, le=60, description="How often queued events are written.")

    @field_validator("personal_data")
    @classmethod
    def _type_fields(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return type_fields(values)
