"""The entities around a customer: contacts, owners, deals, interactions, orders, invoices, tickets.

Each is built from one canonical record; its id wraps the source and the source's id, so it is stable
for as long as the system of record keeps that id.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry
from strawberry.types.lazy_type import LazyType

from crmgraph import records
from crmgraph.identity.store import Link
from crmgraph.resolvers import records as read
from crmgraph.resolvers.people import GoldenPerson
from crmgraph.resolvers.scope import customer_in_scope
from crmgraph.schema.ids import encode_id
from crmgraph.schema.plain_fields import reads
from crmgraph.schema.scalars import (
    DealStage,
    InteractionKind,
    Money,
    Node,
    OrderStatus,
    SourceLink,
    TicketPriority,
    TicketStatus,
)

if TYPE_CHECKING:
    from crmgraph.context import RequestContext
    from crmgraph.schema.customer import Customer

    Info = strawberry.Info[RequestContext, None]
else:
    Info = strawberry.Info  # the schema never imports the request layer at run time

# A record's customer is named, not imported: crmgraph.schema.customer builds on this module, and a lazy
# reference keeps the import graph one-way (the type is looked up by name when the schema is assembled).
_CUSTOMER_TYPE: LazyType[str, str] = LazyType("Customer", "crmgraph.schema.customer")
CustomerRef = Annotated["Customer", strawberry.lazy("crmgraph.schema.customer")]


async def customer_of(info: Info, source: str, party_id: str | None) -> Customer | None:
    """The customer a source record's party belongs to (identity look-ups are batched)."""
    if party_id is None:
        return None
    customer_id = await info.context.loaders.customer_of_party.load((source, party_id))
    if customer_id is None or not await customer_in_scope(info.context.loaders, info.context.access, customer_id):
        return None
    customer_type: type[Customer] = _CUSTOMER_TYPE.resolve_type()
    return customer_type.of(customer_id)


def _source(record: records.Record) -> SourceLink:
    return SourceLink(system=record.source, record_id=record.source_id)


_VERSION_OF = (
    "What a change names to be refused if the {what} changed since ({change}): its last change as its system "
    "records it; null where the system does not say."
)


def record_version(moment: datetime | None) -> str | None:
    """A record's version: the time of its last change, to the millisecond its system (a CRM) keeps."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _FromRecord:
    """A node built from one record: its id wraps its type name, the record's system and the system's id.

    The id is worked out when a query reads it (:func:`crmgraph.schema.plain_fields.reads`): a list page that
    does not ask for ids encodes none, where it would encode one per contact, order and ticket.
    """

    NODE_TYPE: ClassVar[str]

    @property
    def global_id(self) -> str:
        record: records.Record = self.record  # type: ignore[attr-defined]  # every subclass has one
        return encode_id(self.NODE_TYPE, record.source, record.source_id)


@reads("global_id")
def read_global_id(self: Any) -> strawberry.ID:
    """An ``id`` field's resolver: the object's ``global_id`` property, worked out when a query asks for it."""
    return strawberry.ID(self.global_id)


@strawberry.type(description="A sales rep or account owner in the CRM.")
class Owner(_FromRecord, Node):
    NODE_TYPE: ClassVar[str] = "Owner"
    record: strawberry.Private[records.OwnerRecord]
    id: strawberry.ID = strawberry.field(resolver=read_global_id)
    name: str
    email: str | None

    @classmethod
    def of(cls, r: records.OwnerRecord) -> Owner:
        return cls(record=r, name=r.name, email=r.email)


@strawberry.type(
    description="A person at a customer (a CRM contact, an ERP contact person, a ticket-system user). Where "
    "identity resolution found several records to be one person, they are one contact: its id and fields are "
    "those of its record in the first system in configured order, and `sources` lists them all."
)
class Contact(_FromRecord, Node):
    NODE_TYPE: ClassVar[str] = "Contact"
    record: strawberry.Private[records.PersonRecord]
    # Every record of the golden person, when the contact was read as one (customer.contacts); None: ask.
    links: strawberry.Private[list[Link] | None]
    id: strawberry.ID = strawberry.field(resolver=read_global_id)
    name: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    job_title: str | None
    source: SourceLink = strawberry.field(description="The record this contact's fields come from.")

    @classmethod
    def of(cls, r: records.PersonRecord, links: list[Link] | None = None) -> Contact:
        return cls(
            record=r, links=links, name=r.name,
            first_name=r.first_name, last_name=r.last_name, email=r.email, phone=r.phone, job_title=r.job_title,
            source=_source(r),
        )  # fmt: skip

    @classmethod
    def of_golden(cls, person: GoldenPerson) -> Contact:
        return cls.of(person.primary, person.links)

    @strawberry.field(
        description="Every record of this person, in every system, and how identity resolution linked each; "
        "the record `source` names comes first."
    )
    async def sources(self, info: Info) -> list[SourceLink]:
        loaders = info.context.loaders
        own = (self.record.source, self.record.source_id)
        links = self.links if self.links is not None else await loaders.person_links.load(own)
        if not any((link.source, link.source_id) == own for link in links):
            return [self.source]  # a record identity resolution has not linked (yet): it stands alone
        ordered = read.in_precedence(loaders, links)
        ordered.sort(key=lambda link: (link.source, link.source_id) != own)  # stable: the rest keep their order
        return [SourceLink.of(link) for link in ordered]

    @strawberry.field(description="The customer this person works for.")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await customer_of(info, self.record.source, self.record.party_id)

    @strawberry.field(description=_VERSION_OF.format(what="contact", change="contactUpdate"))
    def version(self) -> str | None:
        return record_version(self.record.updated_at)


@strawberry.type(description="A sales opportunity in the CRM.")
class Deal(_FromRecord, Node):
    NODE_TYPE: ClassVar[str] = "Deal"
    record: strawberry.Private[records.DealRecord]
    id: strawberry.ID = strawberry.field(resolver=read_global_id)
    name: str
    stage: DealStage
    stage_label: str = strawberry.field(description="The stage as the CRM names it.")
    amount: Money | None
    pipeline: str | None
    close_date: datetime | None
    created_at: datetime | None
    source: SourceLink

    @classmethod
    def of(cls, r: records.DealRecord) -> Deal:
        return cls(
            record=r, name=r.name, stage=r.stage,
            stage_label=r.stage_label, amount=Money.of(r.amount), pipeline=r.pipeline, close_date=r.close_date,
            created_at=r.created_at, source=_source(r),
        )  # fmt: skip

    @strawberry.field(description="The customer the deal is with.")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await customer_of(info, self.record.source, self.record.party_id)

    @strawberry.field(description=_VERSION_OF.format(what="deal", change="dealUpdate"))
    def version(self) -> str | None:
        return record_version(self.record.updated_at)

    @strawberry.field(description="Who owns the deal.")
    async def owner(self, info: Info) -> Owner | None:
        found = await _owner(info, self.record.source, self.record.owner_id)
        return found


async def _owner(info: Info, source: str, owner_id: str | None) -> Owner | None:
    if owner_id is None:
        return None
    found = await read.record(info.context.loaders, source, "owner", owner_id)
    return Owner.of(found) if isinstance(found, records.OwnerRecord) else None


@strawberry.type(description="A CRM activity: a call, e-mail, meeting or note.")
class Interaction(_FromRecord, Node):
    NODE_TYPE: ClassVar[str] = "Interaction"
    record: strawberry.Private[records.InteractionRecord]
    id: strawberry.ID = strawberry.field(resolver=read_global_id)
    kind: InteractionKind
    occurred_at: datetime
    title: str | None
    body: str | None
    direction: str | None
    source: SourceLink

    @classmethod
    def of(cls, r: records.InteractionRecord) -> Interaction:
        return cls(
            record=r, kind=r.kind,
            occurred_at=r.occurred_at, title=r.title, body=r.body, direction=r.direction, source=_source(r),
        )  # fmt: skip


@strawberry.type(description="One line of an order.")
class OrderLine:
    position: int
    sku: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Money
    amount: Money

    @classmethod
    def of(cls, r: records.OrderLineRecord) -> OrderLine:
        return cls(
            position=r.position, sku=r.sku, description=r.description, quantity=r.quantity, unit=r.unit,
            unit_price=Money(amount=r.unit_price.amount, currency_code=r.unit_price.currency),
            amount=Money(amount=r.amount.amount, currency_code=r.amount.currency),
        )  # fmt: skip


@strawberry.type(description="A sales order in the ERP.")
class Order(_FromRecord, Node):
    NODE_TYPE: ClassVar[str] = "Order"
    record: strawberry.Private[records.OrderRecord]
    id: strawberry.ID = strawberry.field(resolver=read_global_id)
    number: str = strawberry.field(description="The order number people quote.")
    placed_at: datetime
    status: OrderStatus
    total: Money | None = strawberry.field(description="Null, with FORBIDDEN, for a role that may not read it.")
    customer_reference: str | None
    requested_delivery: date | None
    source: SourceLink

    @classmethod
    def of(cls, r: records.OrderRecord) -> Order:
        return cls(
            record=r, number=r.number,
            placed_at=r.placed_at, status=r.status, total=Money(amount=r.total.amount, currency_code=r.total.currency),
            customer_reference=r.customer_reference, requested_delivery=r.requested_delivery, source=_source(r),
        )  # fmt: skip

    @strawberry.field(description="The order's lines, by position.")
    async def lines(self, info: Info) -> list[OrderLine] | None:
        found = await read.related(
            info.context.loaders, self.record.source, "order_line", "order", self.record.source_id
        )
        lines = read.of_type(found, records.OrderLineRecord)
        return [OrderLine.of(line) for line in sorted(lines, key=lambda line: line.position)]

    @strawberry.field(description="The customer who placed the order.")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await customer_of(info, self.record.source, self.record.party_id)


@strawberry.type(description="A payment received against an invoice.")
class Payment:
    paid_at: datetime
    amount: Money


@strawberry.type(description="An invoice (billing document) in the ERP.")
class Invoice(_FromRecord, Node):
    NODE_TYPE: ClassVar[str] = "Invoice"
    record: strawberry.Private[records.InvoiceRecord]
    id: strawberry.ID = strawberry.field(resolver=read_global_id)
    number: str
    issued_at: datetime
    # Null, with FORBIDDEN, for a role that may not read amounts (policy.roles.*.deny).
    net: Money | None
    tax: Money | None
    gross: Money | None
    payment_terms: str | None
    source: SourceLink

    @classmethod
    def of(cls, r: records.InvoiceRecord) -> Invoice:
        def money(m: records.Money) -> Money:
            return Money(amount=m.amount, currency_code=m.currency)

        return cls(
            record=r, number=r.number,
            issued_at=r.issued_at, net=money(r.net), tax=money(r.tax), gross=money(r.gross),
            payment_terms=r.payment_terms, source=_source(r),
        )  # fmt: skip

    @strawberry.field(description="Payments received, oldest first.")
    async def payments(self, info: Info) -> list[Payment] | None:
        return [
            Payment(paid_at=p.paid_at, amount=Money(amount=p.amount.amount, currency_code=p.amount.currency))
            for p in sorted(await invoice_payments(info, self.record), key=lambda p: p.paid_at)
        ]

    @strawberry.field(description="What is still to be paid.")
    async def outstanding(self, info: Info) -> Money | None:
        paid = sum((p.amount.amount for p in await invoice_payments(info, self.record)), Decimal(0))
        return Money(amount=self.record.gross.amount - paid, currency_code=self.record.gross.currency)

    @strawberry.field(description="The order this invoice bills.")
    async def order(self, info: Info) -> Order | None:
        if self.record.order_id is None:
            return None
        found = await read.record(info.context.loaders, self.record.source, "order", self.record.order_id)
        return Order.of(found) if isinstance(found, records.OrderRecord) else None

    @strawberry.field(description="The customer billed.")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await customer_of(info, self.record.source, self.record.party_id)


async def invoice_payments(info: Info, invoice: records.InvoiceRecord) -> list[records.PaymentRecord]:
    found = await read.related(info.context.loaders, invoice.source, "payment", "invoice", invoice.source_id)
    return read.of_type(found, records.PaymentRecord)


@strawberry.type(description="A comment on a ticket.")
class Comment:
    body: str
    public: bool
    created_at: datetime
    author_id: str | None = strawberry.field(description="The author's id in the ticket system.")


@strawberry.type(description="A support ticket.")
class Ticket(_FromRecord, Node):
    NODE_TYPE: ClassVar[str] = "Ticket"
    record: strawberry.Private[records.TicketRecord]
    id: strawberry.ID = strawberry.field(resolver=read_global_id)
    number: str = strawberry.field(description="The ticket number people quote.")
    subject: str
    description: str
    status: TicketStatus
    priority: TicketPriority | None
    channel: str | None
    tags: list[str]
    created_at: datetime | None
    updated_at: datetime | None
    source: SourceLink

    @classmethod
    def of(cls, r: records.TicketRecord) -> Ticket:
        return cls(
            record=r, number=r.source_id,
            subject=r.subject, description=r.description, status=r.status, priority=r.priority, channel=r.channel,
            tags=list(r.tags), created_at=r.created_at, updated_at=r.updated_at, source=_source(r),
        )  # fmt: skip

    @strawberry.field(
        description="What a change names to be refused if the ticket changed since (ticketUpdate, ticketCommentAdd)."
    )
    def version(self) -> str | None:
        stamp = self.record.updated_at
        return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if stamp is not None else None

    @strawberry.field(description="The conversation, oldest first.")
    async def comments(self, info: Info) -> list[Comment] | None:
        found = read.of_type(await ticket_comments(info, self.record), records.CommentRecord)
        return [
            Comment(body=c.body, public=c.public, created_at=c.created_at, author_id=c.author_id)
            for c in sorted(found, key=lambda c: (c.created_at, c.source_id))
        ]

    @strawberry.field(description="Who asked.")
    async def requester(self, info: Info) -> Contact | None:
        if self.record.requester_id is None:
            return None
        found = await read.record(info.context.loaders, self.record.source, "person", self.record.requester_id)
        return Contact.of(found) if isinstance(found, records.PersonRecord) else None

    @strawberry.field(description="The customer the ticket is from.")
    async def customer(self, info: Info) -> CustomerRef | None:
        return await customer_of(info, self.record.source, self.record.party_id)


async def ticket_comments(info: Info, ticket: records.TicketRecord) -> list[records.Record]:
    return await read.related(info.context.loaders, ticket.source, "comment", "ticket", ticket.source_id)
