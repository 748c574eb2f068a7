"""Shared GraphQL building blocks: the Node interface, Money, enums, provenance."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum

import strawberry

from crmgraph import records
from crmgraph.errors import ClientError
from crmgraph.identity.store import Link


@strawberry.interface(description="An object with a stable, opaque global id (Relay): fetch it again with `node(id:)`.")
class Node:
    id: strawberry.ID


def instant(value: datetime, argument: str) -> datetime:
    """A ``DateTime`` argument as an instant in UTC, comparable with every record's (records carry a zone).

    A date-time with an offset means that instant; one without is read as UTC, the same way everywhere.
    One that leaves the calendar when moved to UTC (year 9999 at -14:00) is a :class:`ClientError`.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ClientError(f"{argument}: {value.isoformat()} lies outside the years 1 to 9999 in UTC") from None


@strawberry.type(description="An amount of money in one currency.")
class Money:
    amount: Decimal
    currency_code: str = strawberry.field(description="ISO 4217 code, e.g. CNY, EUR, USD.")

    @classmethod
    def of(cls, money: records.Money | None) -> Money | None:
        return None if money is None else cls(amount=money.amount, currency_code=money.currency)


@strawberry.enum(description="How identity resolution tied a system's record to a customer or a person.")
class LinkRule(Enum):
    SELF = strawberry.enum_value(
        "self", description="Nothing tied the record to another one: it founded its customer (or person)."
    )
    CROSS_REFERENCE = strawberry.enum_value(
        "xref", description="A record names the other in an explicit cross-reference (the ERP's CRM id column, "
        "a Zendesk external_id)."
    )  # fmt: skip
    MODEL = strawberry.enum_value(
        "model", description="The match model scored the records alike above the link threshold (see `confidence`)."
    )
    SOLE_CANDIDATE = strawberry.enum_value(
        "sole",
        description="The record was alone after scoring and every plausible match it had lay in this customer, "
        "with nothing against its best one (identity thresholds.sole; `confidence` is that pair's score).",
    )
    STEWARD = strawberry.enum_value(
        "steward", description="A data steward linked it by hand (customerLink, customerMerge, reviewCandidateAccept)."
    )

    @classmethod
    def of(cls, rule: str) -> LinkRule | None:
        try:
            return cls(rule)
        except ValueError:
            return None  # a rule a newer linker wrote: the link stands, its kind is not one the schema knows


@strawberry.type(description="Where a record of this object lives: which system, and its id there.")
class SourceLink:
    system: str = strawberry.field(description="The configured source name, e.g. crm, erp, tickets.")
    record_id: str = strawberry.field(description="The record's id in that system.")
    linked_by: LinkRule | None = strawberry.field(
        default=None,
        description="How identity resolution tied this record to the customer or person; null where no link "
        "is involved (an order, a ticket: they belong to the record they name).",
    )
    confidence: float | None = strawberry.field(
        default=None,
        description="How sure the link is, 0 to 1: the match probability for MODEL, 1 for CROSS_REFERENCE, "
        "SELF and STEWARD; null where `linkedBy` is.",
    )

    @classmethod
    def of(cls, link: Link) -> SourceLink:
        return cls(
            system=link.source, record_id=link.source_id, linked_by=LinkRule.of(link.rule), confidence=link.confidence
        )


@strawberry.enum(description="The rule that chose which system's value a golden field takes (`identity.survivorship`).")
class SurvivorshipRule(Enum):
    SOURCE_PRIORITY = strawberry.enum_value(
        "source_priority", description="The most trusted system that has a value (`survivorship.source_priority`, "
        "else the order of `sources`). Also what breaks a tie that no configured rule decided."
    )  # fmt: skip
    MOST_RECENT = strawberry.enum_value(
        "most_recent", description="The record changed last (its updatedAt, else when it was created)."
    )
    MOST_FREQUENT = strawberry.enum_value(
        "most_frequent", description="The value most records agree on, ignoring case and spacing."
    )
    NON_EMPTY = strawberry.enum_value("non_empty", description="Any value: the first system, in configured order.")


# The records' enums are the schema's enums: registering them here gives them GraphQL descriptions.
strawberry.enum(records.DealStage, description="Where a deal stands.")
strawberry.enum(records.OrderStatus, description="Where an order stands in fulfilment.")
strawberry.enum(records.TicketStatus, description="Where a support ticket stands.")
strawberry.enum(records.TicketPriority, description="How urgent a ticket is.")
strawberry.enum(records.InteractionKind, description="What kind of CRM activity.")
DealStage = records.DealStage
OrderStatus = records.OrderStatus
TicketStatus = records.TicketStatus
TicketPriority = records.TicketPriority
InteractionKind = records.InteractionKind
