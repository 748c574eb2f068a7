"""Provenance of a customer's golden fields: which system and record supplied each value, and by which rule."""

from __future__ import annotations

from datetime import datetime

import strawberry

from crmgraph.resolvers.survivorship import Survived
from crmgraph.schema.scalars import LinkRule, SourceLink, SurvivorshipRule

# Golden fields: the record attribute (and `identity.survivorship.fields` key) -> the GraphQL field.
GRAPH_NAMES = {
    "name": "name", "tax_id": "taxId", "domain": "domain", "email": "email", "phone": "phone",
    "country": "country", "city": "city", "industry": "industry", "lifecycle_stage": "lifecycleStage",
}  # fmt: skip


@strawberry.type(description="Where one golden field of a customer got its value, and how fresh that value is.")
class FieldProvenance:
    field: str = strawberry.field(description="The customer's field: name, taxId, domain, email, phone, ...")
    value: str | None = strawberry.field(description="The value the field has, as the system holds it.")
    source: SourceLink = strawberry.field(description="The system and record that supplied it, and how it is linked.")
    rule: SurvivorshipRule = strawberry.field(description="The survivorship rule that chose this system's value.")
    updated_at: datetime | None = strawberry.field(
        description="When the supplying record last changed (when it was created, if the system keeps no "
        "change time); null if the system says neither."
    )

    @classmethod
    def of(cls, survived: Survived) -> FieldProvenance:
        record, link = survived.record, survived.link
        source = (
            SourceLink.of(link)
            if link is not None
            else SourceLink(system=record.source, record_id=record.source_id, linked_by=LinkRule.SELF)
        )
        return cls(
            field=GRAPH_NAMES[survived.field], value=survived.value, source=source,
            rule=SurvivorshipRule(survived.rule), updated_at=survived.changed_at,
        )  # fmt: skip
