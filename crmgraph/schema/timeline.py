"""The customer timeline: every interaction across systems, newest first, as one connection."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import strawberry

from crmgraph import records
from crmgraph.resolvers import records as read
from crmgraph.resolvers.loaders import Loaders
from crmgraph.schema.ids import encode_id
from crmgraph.schema.scalars import SourceLink


@strawberry.enum(description="What happened.")
class TimelineEventKind(StrEnum):
    CALL = "CALL"
    EMAIL = "EMAIL"
    MEETING = "MEETING"
    NOTE = "NOTE"
    TICKET_OPENED = "TICKET_OPENED"
    TICKET_SOLVED = "TICKET_SOLVED"
    TICKET_COMMENT = "TICKET_COMMENT"
    ORDER_PLACED = "ORDER_PLACED"
    INVOICE_ISSUED = "INVOICE_ISSUED"
    INVOICE_PAID = "INVOICE_PAID"


@strawberry.type(description="One thing that happened with a customer, in any system.")
class TimelineEvent:
    id: strawberry.ID = strawberry.field(description="Stable id of the event (not a node id).")
    kind: TimelineEventKind
    occurred_at: datetime
    title: str
    summary: str | None
    source: SourceLink = strawberry.field(description="The record the event comes from.")


@dataclass(frozen=True)
class _Event:
    kind: TimelineEventKind
    at: datetime
    title: str
    summary: str | None
    record: records.Record

    def sort_key(self) -> tuple[float, str, str, str]:
        # Newest first; ties broken by source, kind and id so that the order is total and stable.
        return (-self.at.timestamp(), self.record.source, self.kind.value, self.record.source_id)

    def node(self) -> TimelineEvent:
        return TimelineEvent(
            id=strawberry.ID(encode_id("Event", self.kind.value, self.record.source, self.record.source_id)),
            kind=self.kind, occurred_at=self.at, title=self.title, summary=self.summary,
            source=SourceLink(system=self.record.source, record_id=self.record.source_id),
        )  # fmt: skip


_INTERACTION_KINDS = {
    records.InteractionKind.CALL: TimelineEventKind.CALL,
    records.InteractionKind.EMAIL: TimelineEventKind.EMAIL,
    records.InteractionKind.MEETING: TimelineEventKind.MEETING,
    records.InteractionKind.NOTE: TimelineEventKind.NOTE,
}
_DONE = (records.TicketStatus.SOLVED, records.TicketStatus.CLOSED)


async def customer_events(loaders: Loaders, customer_id: int) -> list[_Event]:
    """Every event of the customer. Ticket comments cost one call per ticket: Zendesk has no batch form."""
    interactions, tickets, orders, invoices = await asyncio.gather(
        read.of_customer(loaders, customer_id, "interaction"),
        read.of_customer(loaders, customer_id, "ticket"),
        read.of_customer(loaders, customer_id, "order"),
        read.of_customer(loaders, customer_id, "invoice"),
    )
    events: list[_Event] = []
    for item in read.of_type(interactions, records.InteractionRecord):
        events.append(
            _Event(_INTERACTION_KINDS[item.kind], item.occurred_at, item.title or item.kind.title(), item.body, item)
        )
    ticket_records = read.of_type(tickets, records.TicketRecord)
    for ticket in ticket_records:
        if ticket.created_at:
            events.append(_Event(TimelineEventKind.TICKET_OPENED, ticket.created_at, ticket.subject, None, ticket))
        if ticket.status in _DONE and ticket.updated_at:
            events.append(_Event(TimelineEventKind.TICKET_SOLVED, ticket.updated_at, ticket.subject, None, ticket))
    for order in read.of_type(orders, records.OrderRecord):
        summary = f"{order.total.amount} {order.total.currency}"
        events.append(_Event(TimelineEventKind.ORDER_PLACED, order.placed_at, f"Order {order.number}", summary, order))
    invoice_records = read.of_type(invoices, records.InvoiceRecord)
    for invoice in invoice_records:
        gross = f"{invoice.gross.amount} {invoice.gross.currency}"
        events.append(
            _Event(TimelineEventKind.INVOICE_ISSUED, invoice.issued_at, f"Invoice {invoice.number}", gross, invoice)
        )
    comment_lists, payment_lists = await asyncio.gather(
        asyncio.gather(*(read.related(loaders, t.source, "comment", "ticket", t.source_id) for t in ticket_records)),
        asyncio.gather(*(read.related(loaders, i.source, "payment", "invoice", i.source_id) for i in invoice_records)),
    )
    for ticket, comments in zip(ticket_records, comment_lists, strict=True):
        for comment in read.of_type(comments, records.CommentRecord):
            events.append(
                _Event(TimelineEventKind.TICKET_COMMENT, comment.created_at, ticket.subject, comment.body, comment)
            )
    for invoice, payments in zip(invoice_records, payment_lists, strict=True):
        for payment in read.of_type(payments, records.PaymentRecord):
            amount = f"{payment.amount.amount} {payment.amount.currency}"
            events.append(
                _Event(
                    TimelineEventKind.INVOICE_PAID, payment.paid_at, f"Invoice {invoice.number} paid", amount, payment
                )
            )
    return events
