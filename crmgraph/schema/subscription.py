"""Subscriptions: changes in the systems of record, as they happen, to whoever may see them.

Each payload carries the change (``event``) and the records it concerns, read fresh through the same
loaders, row scope and field policies as a query: a subscriber sees what a query would show it now.
Events are filtered before they are queued: only changes of customers in the subscriber's row scope
(and of the customer asked for) reach it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from crmgraph import records
from crmgraph.errors import ClientError
from crmgraph.events import ChangeEvent, ChangeKind, Delivery, Entity
from crmgraph.resolvers import records as read
from crmgraph.schema.customer import Customer
from crmgraph.schema.event_stream import deliveries, in_scope
from crmgraph.schema.ids import decode_number
from crmgraph.schema.nodes import Contact, Deal, Interaction, Invoice, Order, Ticket
from crmgraph.schema.query import visible_customer
from crmgraph.schema.scalars import Node
from crmgraph.schema.shared_answers import share_key

if TYPE_CHECKING:
    from crmgraph.context import RequestContext

    Info = strawberry.Info[RequestContext, None]
else:
    Info = strawberry.Info

# The events' own enums, as GraphQL enums (one definition: a new entity appears in the schema by itself).
strawberry.enum(Entity, name="ChangeEntity", description="The kind of record that changed.")
strawberry.enum(ChangeKind, name="ChangeKind", description="What happened to the record.")


@strawberry.type(name="ChangeEvent", description="A change made in a system of record, as the facade heard of it.")
class ChangeEventType:
    id: strawberry.ID = strawberry.field(description="Unique per change: a client de-duplicates by it.")
    system: str = strawberry.field(description="Provenance: the system of record where the change was made.")
    entity: Entity
    kind: ChangeKind
    changed_fields: list[str] = strawberry.field(description="Names of the fields that changed, when the system says.")
    occurred_at: datetime = strawberry.field(description="When the system of record made the change.")
    received_at: datetime = strawberry.field(description="When the facade heard of it.")

    @classmethod
    def of(cls, event: ChangeEvent) -> ChangeEventType:
        return cls(
            id=strawberry.ID(event.id),
            system=event.system,
            entity=event.entity,
            kind=event.kind,
            changed_fields=list(event.changed),
            occurred_at=event.occurred_at,
            received_at=event.received_at,
        )


@strawberry.interface(description="What every subscription payload carries: the change and its customer.")
class ChangePayload:
    delivery: strawberry.Private[Delivery]
    customer_id: strawberry.Private[int | None]
    share_key: strawberry.Private[tuple[object, ...] | None] = None  # see crmgraph.schema.shared_answers

    @strawberry.field(description="The change.")
    def event(self) -> ChangeEventType:
        return ChangeEventType.of(self.delivery.event)

    @strawberry.field(description="The customer the changed record belongs to (null if none is known).")
    def customer(self) -> Customer | None:
        return Customer.of(self.customer_id) if self.customer_id is not None else None


async def _record(info: Info, delivery: Delivery, entity: Entity | None = None, by: str | None = None) -> object:
    """The record the event names (or its ``by`` parent, of ``entity``), read now; None once deleted."""
    event = delivery.event
    if by is None:
        if event.kind is ChangeKind.DELETED:
            return None
        return await read.record(info.context.loaders, event.system, (entity or event.entity).value, event.record_id)
    parent = event.parent(by)
    return await read.record(info.context.loaders, event.system, by, parent) if parent is not None else None


@strawberry.type(description="A change of any record of one customer.")
class CustomerChange(ChangePayload):
    @strawberry.field(description="The changed record as it is now (a comment's ticket; null once deleted).")
    async def node(self, info: Info) -> Node | None:
        event = self.delivery.event
        if event.entity is Entity.PARTY:
            customer = Customer.of(self.customer_id) if self.customer_id is not None else None
            return customer if event.kind is not ChangeKind.DELETED else None
        if event.entity is Entity.COMMENT:
            found = await _record(info, self.delivery, by="ticket")
        else:
            found = await _record(info, self.delivery)
        return _node(found)


@strawberry.type(description="A ticket opened or updated (a comment added to it included).")
class TicketChange(ChangePayload):
    @strawberry.field(description="The ticket as it is now (null once deleted).")
    async def ticket(self, info: Info) -> Ticket | None:
        by = "ticket" if self.delivery.event.entity is Entity.COMMENT else None
        found = await _record(info, self.delivery, by=by)
        return Ticket.of(found) if isinstance(found, records.TicketRecord) else None


@strawberry.type(description="An order placed in the ERP.")
class OrderPlaced(ChangePayload):
    @strawberry.field(description="The order as it is now.")
    async def order(self, info: Info) -> Order | None:
        found = await _record(info, self.delivery)
        return Order.of(found) if isinstance(found, records.OrderRecord) else None


@strawberry.type(description="A deal created, or moved to another stage.")
class DealStageChange(ChangePayload):
    @strawberry.field(description="The deal as it is now, in its new stage.")
    async def deal(self, info: Info) -> Deal | None:
        found = await _record(info, self.delivery)
        return Deal.of(found) if isinstance(found, records.DealRecord) else None


def _node(found: object) -> Node | None:
    if isinstance(found, records.PersonRecord):
        return Contact.of(found)
    if isinstance(found, records.DealRecord):
        return Deal.of(found)
    if isinstance(found, records.OrderRecord):
        return Order.of(found)
    if isinstance(found, records.InvoiceRecord):
        return Invoice.of(found)
    if isinstance(found, records.TicketRecord):
        return Ticket.of(found)
    if isinstance(found, records.InteractionRecord):
        return Interaction.of(found)
    return None


async def _customer_filter(info: Info, argument: str, customer_id: strawberry.ID | None) -> int | None:
    """The customer asked for: missing, merged away into none, or outside the row scope all answer alike."""
    if customer_id is None:
        return None
    found = await visible_customer(info, decode_number(customer_id, "Customer", argument=argument))
    if found is None:
        raise ClientError(f"{argument}: no customer has the id {customer_id!r}")
    return found.customer_id


def _first_customer(info: Info, delivery: Delivery, customer_id: int | None) -> int | None:
    if customer_id is not None:
        return customer_id
    access = info.context.access
    return next((c for c in delivery.event.customer_ids if in_scope(access, delivery, c)), None)


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Every change of one customer's records, in every system.")
    async def customer_changed(self, info: Info, id: strawberry.ID) -> AsyncGenerator[CustomerChange, None]:
        customer_id = await _customer_filter(info, "id", id)
        access = info.context.access
        key = share_key(info._raw_info, access, customer_id)
        async for delivery in deliveries(info, lambda d: in_scope(access, d, customer_id)):
            yield CustomerChange(delivery=delivery, customer_id=customer_id, share_key=key)

    @strawberry.subscription(description="Tickets opened and updated (of one customer, or of every customer in scope).")
    async def ticket_changed(
        self, info: Info, customer_id: strawberry.ID | None = None
    ) -> AsyncGenerator[TicketChange, None]:
        wanted = await _customer_filter(info, "customerId", customer_id)
        access = info.context.access
        key = share_key(info._raw_info, access, wanted)

        def accepts(d: Delivery) -> bool:
            return d.event.entity in (Entity.TICKET, Entity.COMMENT) and in_scope(access, d, wanted)

        async for delivery in deliveries(info, accepts):
            yield TicketChange(delivery=delivery, customer_id=_first_customer(info, delivery, wanted), share_key=key)

    @strawberry.subscription(description="Orders placed (of one customer, or of every customer in scope).")
    async def order_placed(
        self, info: Info, customer_id: strawberry.ID | None = None
    ) -> AsyncGenerator[OrderPlaced, None]:
        wanted = await _customer_filter(info, "customerId", customer_id)
        access = info.context.access
        key = share_key(info._raw_info, access, wanted)

        def accepts(d: Delivery) -> bool:
            return d.event.entity is Entity.ORDER and d.event.kind is ChangeKind.CREATED and in_scope(access, d, wanted)

        async for delivery in deliveries(info, accepts):
            yield OrderPlaced(delivery=delivery, customer_id=_first_customer(info, delivery, wanted), share_key=key)

    @strawberry.subscription(description="Deals created or moved to another stage (of one customer, or of every "
                             "customer in scope).")  # fmt: skip
    async def deal_stage_changed(
        self, info: Info, customer_id: strawberry.ID | None = None
    ) -> AsyncGenerator[DealStageChange, None]:
        wanted = await _customer_filter(info, "customerId", customer_id)
        access = info.context.access
        key = share_key(info._raw_info, access, wanted)

        def accepts(d: Delivery) -> bool:
            event = d.event
            moved = event.kind is ChangeKind.CREATED or (event.kind is ChangeKind.UPDATED and "stage" in event.changed)
            return event.entity is Entity.DEAL and moved and in_scope(access, d, wanted)

        async for delivery in deliveries(info, accepts):
            yield DealStageChange(delivery=delivery, customer_id=_first_customer(info, delivery, wanted), share_key=key)
