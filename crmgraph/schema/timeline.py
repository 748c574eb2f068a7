"""The customer timeline: every interaction across systems, newest first, as one connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import strawberry

from crmgraph import records
from crmgraph.resolvers import marketing as mkt
from crmgraph.resolvers import records as read
from crmgraph.resolvers.eager import gathered
from crmgraph.resolvers.loaders import Loaders
from crmgraph.schema.ids import encode_id
from crmgraph.schema.nodes import read_global_id
from crmgraph.schema.scalars import SourceLink


@strawberry.enum(
    description="What happened. EMAIL_SENT to POINTS_CHANGED are marketing touches of the customer's leads "
    "(see MarketingTouchKind)."
)
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
    # A marketing touch of one of the customer's leads (MarketingTouchKind, in the marketing system).
    EMAIL_SENT = "EMAIL_SENT"
    EMAIL_OPENED = "EMAIL_OPENED"
    EMAIL_CLICKED = "EMAIL_CLICKED"
    FORM_SUBMITTED = "FORM_SUBMITTED"
    PAGE_VISITED = "PAGE_VISITED"
    CAMPAIGN_JOINED = "CAMPAIGN_JOINED"
    POINTS_CHANGED = "POINTS_CHANGED"


@strawberry.type(description="One thing that happened with a customer, in any system.")
class TimelineEvent:
    # Worked out when a query reads it, not for every event of a page.
    id: strawberry.ID = strawberry.field(resolver=read_global_id, description="Stable id of the event (not a node id).")
    kind: TimelineEventKind
    occurred_at: datetime
    title: str
    summary: str | None
    source: SourceLink = strawberry.field(description="The record the event comes from.")

    @property
    def global_id(self) -> str:
        return encode_id("Event", self.kind.value, self.source.system, self.source.record_id)


@dataclass(slots=True)  # not frozen: a timeline makes one per record of the customer and pages twenty
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
    """Every event of the customer. Ticket comments cost one call per ticket: Zendesk has no batch form; the
    touches of all its leads, one call per marketing system.

    Each kind of record is followed on its own: the comments of the tickets are asked for as soon as the
    tickets are known, not once the slowest other source has answered too (that would add a level of
    upstream calls to every timeline).
    """
    parts = await gathered(
        [
            _interaction_events(loaders, customer_id),
            _ticket_events(loaders, customer_id),
            _order_events(loaders, customer_id),
            _invoice_events(loaders, customer_id),
            _touch_events(loaders, customer_id),
        ]
    )
    return [event for part in parts for event in part]


async def _interaction_events(loaders: Loaders, customer_id: int) -> list[_Event]:
    interactions = read.of_type(await read.of_customer(loaders, customer_id, "interaction"), records.InteractionRecord)
    return [
        _Event(_INTERACTION_KINDS[item.kind], item.occurred_at, item.title or item.kind.title(), item.body, item)
        for item in interactions
    ]


async def _ticket_events(loaders: Loaders, customer_id: int) -> list[_Event]:
    tickets = read.of_type(await read.of_customer(loaders, customer_id, "ticket"), records.TicketRecord)
    comment_lists = await gathered(
        [read.related(loaders, ticket.source, "comment", "ticket", ticket.source_id) for ticket in tickets]
    )
    events: list[_Event] = []
    for ticket, comments in zip(tickets, comment_lists, strict=True):
        if ticket.created_at:
            events.append(_Event(TimelineEventKind.TICKET_OPENED, ticket.created_at, ticket.subject, None, ticket))
        if ticket.status in _DONE and ticket.updated_at:
            events.append(_Event(TimelineEventKind.TICKET_SOLVED, ticket.updated_at, ticket.subject, None, ticket))
        for comment in read.of_type(comments, records.CommentRecord):
            events.append(
                _Event(TimelineEventKind.TICKET_COMMENT, comment.created_at, ticket.subject, comment.body, comment)
            )
    return events


async def _order_events(loaders: Loaders, customer_id: int) -> list[_Event]:
    orders = read.of_type(await read.of_customer(loaders, customer_id, "order"), records.OrderRecord)
    return [
        _Event(
            TimelineEventKind.ORDER_PLACED, order.placed_at, f"Order {order.number}",
            f"{order.total.amount} {order.total.currency}", order,
        )
        for order in orders
    ]  # fmt: skip


async def _invoice_events(loaders: Loaders, customer_id: int) -> list[_Event]:
    invoices = read.of_type(await read.of_customer(loaders, customer_id, "invoice"), records.InvoiceRecord)
    payment_lists = await gathered(
        [read.related(loaders, invoice.source, "payment", "invoice", invoice.source_id) for invoice in invoices]
    )
    events: list[_Event] = []
    for invoice, payments in zip(invoices, payment_lists, strict=True):
        gross = f"{invoice.gross.amount} {invoice.gross.currency}"
        events.append(
            _Event(TimelineEventKind.INVOICE_ISSUED, invoice.issued_at, f"Invoice {invoice.number}", gross, invoice)
        )
        for payment in read.of_type(payments, records.PaymentRecord):
            amount = f"{payment.amount.amount} {payment.amount.currency}"
            events.append(
                _Event(
                    TimelineEventKind.INVOICE_PAID, payment.paid_at, f"Invoice {invoice.number} paid", amount, payment
                )
            )
    return events


async def _touch_events(loaders: Loaders, customer_id: int) -> list[_Event]:
    leads = await mkt.customer_leads(loaders, customer_id)
    touch_lists = await gathered(
        [read.related(loaders, lead.source, "touch", "person", lead.source_id) for lead in leads]
    )
    events: list[_Event] = []
    for lead, touches in zip(leads, touch_lists, strict=True):
        for touch in read.of_type(touches, records.TouchRecord):
            title = touch.title or touch.kind.value.replace("_", " ").capitalize()
            summary = f"{lead.name}: {touch.detail}" if touch.detail else lead.name
            events.append(_Event(TimelineEventKind(touch.kind.value), touch.occurred_at, title, summary, touch))
    return events
