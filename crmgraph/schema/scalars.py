"""Shared GraphQL building blocks: the Node interface, Money, enums, provenance."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from crmgraph import records


@strawberry.interface(description="An object with a stable, opaque global id (Relay): fetch it again with `node(id:)`.")
class Node:
    id: strawberry.ID


@strawberry.type(description="An amount of money in one currency.")
class Money:
    amount: Decimal
    currency_code: str = strawberry.field(description="ISO 4217 code, e.g. CNY, EUR, USD.")

    @classmethod
    def of(cls, money: records.Money | None) -> Money | None:
        return None if money is None else cls(amount=money.amount, currency_code=money.currency)


@strawberry.type(description="Where a record of this object lives: which system, and its id there.")
class SourceLink:
    system: str = strawberry.field(description="The configured source name, e.g. crm, erp, tickets.")
    record_id: str = strawberry.field(description="The record's id in that system.")
    linked_by: str | None = strawberry.field(
        default=None, description="Why crmgraph counts this record as this customer's: self or xref."
    )


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
