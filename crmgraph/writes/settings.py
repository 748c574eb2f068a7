"""The ``writes:`` section: which system owns each of a customer's golden fields.

"No writes from several heads": a golden field (the customer's name, phone, tax id, ...) is changed in
exactly one system, its owner, and read from there and elsewhere by survivorship. ``customerUpdate``
writes each field it is given to the record of the customer in the field's owner; a field no system owns
is refused (``NOT_WRITABLE``), as is a field whose owner's adapter cannot write customers.

    writes:
      owners: {name: crm, phone: crm, domain: crm, industry: crm, taxId: erp}
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The customer fields customerUpdate can name, as the graph spells them (CustomerUpdateInput).
GOLDEN_FIELDS = ("name", "phone", "domain", "industry", "taxId", "address", "postalCode", "city", "country",
                 "lifecycleStage")  # fmt: skip


class WritesConfig(BaseModel):
    """Where changes made through the graph go (docs/writes.md)."""

    model_config = ConfigDict(extra="forbid")

    owners: dict[str, str] = Field(
        default_factory=dict,
        description="Golden field (as the graph names it) -> the source that owns it: the one system a change "
        "of that field is written to. A field not named here cannot be changed through the graph.",
    )

    @field_validator("owners")
    @classmethod
    def _known_fields(cls, owners: dict[str, str]) -> dict[str, str]:
        for name, source in owners.items():
            if name not in GOLDEN_FIELDS:
                raise ValueError(f"{name!r} is not a customer field customerUpdate writes: {', '.join(GOLDEN_FIELDS)}")
            if not re.fullmatch(r"[a-z][a-z0-9_]*", source):
                raise ValueError(f"owners.{name}: {source!r} is not a source name")
        return owners

    def owner(self, field: str) -> str | None:
        return self.owners.get(field)
