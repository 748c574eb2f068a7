"""The customer: one party across every system, with everything around it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

import strawberry

from crmgraph import records
from crmgraph.errors import ClientError
from crmgraph.resolvers import marketing as mkt
from crmgraph.resolvers import records as read
from crmgraph.resolvers.eager import gathered
from crmgraph.resolvers.loaders import Loaders
from crmgraph.resolvers.people import golden_people
from crmgraph.resolvers.survivorship import golden_field, golden_record, source_order
from crmgraph.schema.follow_up import (
    DEFAULT_PAGE,
    follow_up,
    invoice_key,
    newest_first,
    newest_wanted,
    order_key,
    ticket_key,
)
from crmgraph.schema.ids import encode_id
from crmgraph.schema.lookahead import asks_for, selected_names
from crmgraph.schema.marketing import Lead, lead_key
from crmgraph.schema.nodes import (
    Contact,
    Deal,
    Info,
    Invoice,
    Order,
    Owner,
    Ticket,
    _owner,
    invoice_payments,
    read_global_id,
    record_version,
)
from crmgraph.schema.pagination import Connection, paginate
from crmgraph.schema.provenance import GRAPH_NAMES, FieldProvenance
from crmgraph.schema.scalars import DealStage, Money, Node, OrderStatus, SourceLink, TicketStatus, instant
from crmgraph.schema.timeline import TimelineEvent, customer_events

if TYPE_CHECKING:
    from crmgraph.records import PartyRecord

R = TypeVar("R", bound=records.Record)
OPEN_TICKETS = (
    records.TicketStatus.NEW,
    records.TicketStatus.OPEN,
    records.TicketStatus.PENDING,
    records.TicketStatus.ON_HOLD,
)


def _prefetch_below(info: Info, page: Connection[object], fields: str | tuple[str, ...], entity: str, by: str) -> None:
    """When the query asks for ``fields`` of the page's nodes, start reading their ``entity`` records now."""
    names = (fields,) if isinstance(fields, str) else fields
    paths = [path for name in names for path in (("nodes", name), ("edges", "node", name))]
    if asks_for(info, *paths):
        parents = [edge.node.record for edge in page.edges if isinstance(edge.node, Order | Invoice | Ticket)]
        read.prefetch_related(info.context.loaders, entity, by, parents)


def _totals(amounts: list[records.Money]) -> list[Money]:
    by_currency: defaultdict[str, Decimal] = defaultdict(Decimal)
    for money in amounts:
        by_currency[money.currency] += money.amount
    return [Money(amount=amount, currency_code=currency) for currency, amount in sorted(by_currency.items())]


# What each field of a customer reads upstream, by entity ("party" is the customer's own record in each
# system). Resolvers that return customers start all of it at once (read.prefetch_customers), so that the
# first level of upstream calls leaves before GraphQL walks the fields one by one; a test keeps this table
# in step with the fields.
_SURVIVING = ("name", "taxId", "domain", "email", "phone", "country", "city", "industry", "lifecycleStage")
READS_BY_FIELD: dict[str, tuple[str, ...]] = {
    **dict.fromkeys((*_SURVIVING, "owner", "tags", "provenance", "version"), ("party",)),
    "id": (),
    "sources": (),
    "contacts": ("person",),
    "leads": ("lead",),  # the people of its marketing companies, not every system's
    "deals": ("deal",),
    "orders": ("order",),
    "invoices": ("invoice",),
    "tickets": ("ticket",),
    "timeline": ("interaction", "ticket", "order", "invoice"),
    "lifetimeRevenue": ("invoice",),
    "outstandingBalance": ("invoice",),
    "openTicketCount": ("ticket",),
    "lastOrderDate": ("order",),
}


# The fields that take the first of a customer's records holding a value (survivorship's source_priority, the
# owner), with the record attribute each reads.
_FIRST_HOLDER_FIELDS = {**{graph: field for field, graph in GRAPH_NAMES.items()}, "owner": "owner_id"}


def _first_holders(loaders: Loaders, names: Iterable[str]) -> list[tuple[str, tuple[str, ...] | None]] | None:
    """The record fields, each with its order of sources, that the selected ``names`` read from the customer's
    records; None when one of them needs every record (tags, version, provenance, a golden field whose first
    survivorship rule is not source_priority)."""
    fields: list[tuple[str, tuple[str, ...] | None]] = []
    for name in names:
        if READS_BY_FIELD.get(name) != ("party",):
            continue
        field = _FIRST_HOLDER_FIELDS.get(name)
        if field is None:
            return None
        if field == "owner_id":
            fields.append((field, None))  # the owner is taken in the configured order (Customer.owner)
        elif loaders.survivorship.rules_for(field)[0] == "source_priority":
            fields.append((field, source_order(loaders)))
        else:
            return None
    return fields


_ORDER_READERS = {name for name, entities in READS_BY_FIELD.items() if "order" in entities}
_NEWEST = ("newest", "order")  # its key in a request's Loaders.derived: the orders a page's lists are cut to


def _newest_orders(info: Info, names: set[str], path: tuple[str, ...]) -> dict[str, int]:
    """For a page of customers whose only reader of orders is ``orders(first: n)``: read each customer's n + 1
    latest orders, not all of them, where orders are not kept by the cache (a kept list must be whole)."""
    loaders = info.context.loaders
    if loaders.cache.ttl_for("order") > 0:
        return {}
    newest = newest_wanted(info, "orders", names, _ORDER_READERS, path)
    if newest is None:
        return {}
    loaders.derived.setdefault(_NEWEST, newest)
    return {"order": newest}


def _cut_orders(info: Info, first: int, *arguments: object) -> int | None:
    """The cut the page's reads of orders were made with, where this ``orders`` field can use it: no cursor or
    filter, no ``totalCount``, and no more than the cut less one asked for (the one more says there are more)."""
    newest: int | None = info.context.loaders.derived.get(_NEWEST)
    if newest is None or first + 1 > newest or any(argument is not None for argument in arguments):
        return None
    return None if asks_for(info, ("totalCount",)) else newest


async def prefetch_for(
    info: Info, customer_ids: list[int], *path: str, settle: bool = False, settle_own: bool = False
) -> None:
    """Start the reads of the customer fields selected at ``path`` below the current field; with ``settle``,
    return once their first level has answered (the second is started as the first answers); with
    ``settle_own`` (a page of customers), once each customer's records that its selected golden fields and
    owner take first have.

    A single customer reads all its records at once: one record per system costs little, and a value its
    first system lacks then costs no round trip. A page reads, per customer, only the first record that can
    hold each such field (where all of them need just that, see :func:`_first_holders`): on a page of 50 that
    spares a read of 50 records in each other system; a row whose first record lacks the value reads the next
    one then.
    """
    names = selected_names(info, *path)
    entities = {entity for name in names for entity in READS_BY_FIELD.get(name, ())}
    loaders = info.context.loaders
    holders = _first_holders(loaders, names) if settle_own and "party" in entities else None
    newest = _newest_orders(info, names, path) if settle_own and "order" in entities else {}
    started = await read.prefetch_customers(
        loaders, customer_ids, entities, settle=settle, first_holders=holders, newest=newest
    )
    await follow_up(info, customer_ids, names, *path, newest=newest)
    if settle:
        await read.settle_reads(started.loads)
    elif settle_own:
        await read.settle_reads(started.own)


@strawberry.type(
    description="A customer: one company as known across the CRM, the ERP and the ticket system. "
    "Fields come live from those systems; one that fails nulls only the fields it backs."
)
class Customer(Node):
    customer_id: strawberry.Private[int]
    # Worked out when a query reads it, not for every customer of a page.
    id: strawberry.ID = strawberry.field(resolver=read_global_id, description="Opaque, stable id.")

    @property
    def global_id(self) -> str:
        return encode_id("Customer", str(self.customer_id))

    @classmethod
    def of(cls, customer_id: int) -> Customer:
        return cls(customer_id=customer_id)

    async def _parties(self, info: Info) -> list[PartyRecord]:
        found, failures = await read.parties(info.context.loaders, self.customer_id)
        if not found and failures:
            raise failures[0]
        return found

    async def _golden(self, info: Info, field: str) -> str | None:
        """The value survivorship chose for ``field`` (``identity.survivorship``); see ``provenance``."""
        survived = await golden_field(info.context.loaders, self.customer_id, field)
        return survived.value if survived is not None else None

    @strawberry.field(description="The customer's name, chosen among its systems by survivorship (see `provenance`).")
    async def name(self, info: Info) -> str | None:
        return await self._golden(info, "name")

    @strawberry.field(description="Tax or company registration number.")
    async def tax_id(self, info: Info) -> str | None:
        return await self._golden(info, "tax_id")

    @strawberry.field(description="Web domain.")
    async def domain(self, info: Info) -> str | None:
        return await self._golden(info, "domain")

    @strawberry.field
    async def email(self, info: Info) -> str | None:
        return await self._golden(info, "email")

    @strawberry.field
    async def phone(self, info: Info) -> str | None:
        return await self._golden(info, "phone")

    @strawberry.field(description="ISO 3166-1 alpha-2 country code.")
    async def country(self, info: Info) -> str | None:
        return await self._golden(info, "country")

    @strawberry.field
    async def city(self, info: Info) -> str | None:
        return await self._golden(info, "city")

    @strawberry.field
    async def industry(self, info: Info) -> str | None:
        return await self._golden(info, "industry")

    @strawberry.field(description="Lifecycle stage in the CRM (lead, opportunity, customer, ...).")
    async def lifecycle_stage(self, info: Info) -> str | None:
        return await self._golden(info, "lifecycle_stage")

    @strawberry.field(
        description="For each golden field that has a value (name, taxId, domain, email, phone, country, city, "
        "industry, lifecycleStage): the system and record it comes from, the survivorship rule that chose it, "
        "and when that record last changed. Null when none of the customer's systems answered."
    )
    async def provenance(self, info: Info) -> list[FieldProvenance] | None:
        return [
            FieldProvenance.of(survived) for survived in await golden_record(info.context.loaders, self.customer_id)
        ]

    @strawberry.field(description="The account owner.")
    async def owner(self, info: Info) -> Owner | None:
        party = await read.survivor(
            info.context.loaders, self.customer_id, lambda p: bool(p.owner_id), field="owner_id"
        )
        return await _owner(info, party.source, party.owner_id) if party is not None else None

    @strawberry.field(description="Tags from every system, without repeats.")
    async def tags(self, info: Info) -> list[str]:
        return list(dict.fromkeys(tag for party in await self._parties(info) for tag in party.tags))

    @strawberry.field(
        description="The version of the customer's record in `system` (its last change there), which "
        "customerUpdate names to be refused if the record changed since; null without a record there."
    )
    async def version(self, info: Info, system: str) -> str | None:
        party = next((p for p in await self._parties(info) if p.source == system), None)
        return record_version(party.updated_at) if party is not None else None

    @strawberry.field(
        description="Which system holds which record of this customer, and how identity resolution linked each."
    )
    async def sources(self, info: Info) -> list[SourceLink]:
        return [SourceLink.of(link) for link in await read.party_links(info.context.loaders, self.customer_id)]

    async def _related(self, info: Info, entity: str, kind: type[R], newest: int | None = None) -> list[R]:
        return read.of_type(await read.of_customer(info.context.loaders, self.customer_id, entity, newest), kind)

    @strawberry.field(
        description="People at the customer, once each, by name: the people its systems list (CRM contacts, ERP "
        "contact persons) and those identity resolution linked to it in any system (ticket-system users too), "
        "with the records found to be one person as one contact. A contact's id and fields come from its "
        "record in the first system in configured order; `sources` lists all its records. Null, with the "
        "error, when one of those systems fails."
    )
    async def contacts(
        self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Contact] | None:
        people = await golden_people(info.context.loaders, self.customer_id)
        return paginate(people, lambda p: (p.primary.name.lower(), p.primary.source, p.primary.source_id),
                        first=first, after=after, cap=info.context.max_page_size,
                        wrap=Contact.of_golden)  # type: ignore[return-value]  # fmt: skip

    @strawberry.field(
        description="The customer's leads in the marketing systems, once each, by name: those filed under its "
        "companies there, and those identity resolution linked to its people (or to it, by company name or e-mail "
        "domain). Null, with the error, when a marketing system fails."
    )
    async def leads(self, info: Info) -> list[Lead] | None:
        leads = await mkt.customer_leads(info.context.loaders, self.customer_id)
        return [Lead.of(lead) for lead in sorted(leads, key=lead_key)]

    @strawberry.field(description="Sales opportunities, newest first.")
    async def deals(
        self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None, stage: DealStage | None = None
    ) -> Connection[Deal] | None:
        deals = [d for d in await self._related(info, "deal", records.DealRecord) if stage is None or d.stage == stage]
        return paginate(deals, lambda d: (newest_first(d.created_at), d.source, d.source_id), first=first,
                        after=after, cap=info.context.max_page_size, wrap=Deal.of)  # type: ignore[return-value]  # fmt: skip

    @strawberry.field(
        description="Orders, newest first, optionally by status and by when they were placed (`placedAfter` "
        "included, `placedBefore` not; a date-time without an offset is read as UTC)."
    )
    async def orders(
        self,
        info: Info,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
        status: OrderStatus | None = None,
        placed_after: datetime | None = None,
        placed_before: datetime | None = None,
    ) -> Connection[Order] | None:
        placed_after = instant(placed_after, "placedAfter") if placed_after else None
        placed_before = instant(placed_before, "placedBefore") if placed_before else None
        if placed_after and placed_before and placed_after > placed_before:
            raise ClientError("placedAfter: must not be later than placedBefore")
        cut = _cut_orders(info, first, after, status, placed_after, placed_before)
        orders = [
            o for o in await self._related(info, "order", records.OrderRecord, cut)
            if (status is None or o.status == status)
            and (placed_after is None or o.placed_at >= placed_after)
            and (placed_before is None or o.placed_at < placed_before)
        ]  # fmt: skip
        page = paginate(orders, order_key, first=first,
                        after=after, cap=info.context.max_page_size, wrap=Order.of)  # fmt: skip
        _prefetch_below(info, page, "lines", "order_line", "order")
        return page  # type: ignore[return-value]

    @strawberry.field(description="Invoices, newest first.")
    async def invoices(
        self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[Invoice] | None:
        invoices = await self._related(info, "invoice", records.InvoiceRecord)
        page = paginate(invoices, invoice_key, first=first,
                        after=after, cap=info.context.max_page_size, wrap=Invoice.of)  # fmt: skip
        _prefetch_below(info, page, ("payments", "outstanding"), "payment", "invoice")
        return page  # type: ignore[return-value]

    @strawberry.field(description="Support tickets, newest first, optionally by status.")
    async def tickets(
        self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None, status: TicketStatus | None = None
    ) -> Connection[Ticket] | None:
        tickets = [
            t for t in await self._related(info, "ticket", records.TicketRecord) if status is None or t.status == status
        ]
        page = paginate(tickets, ticket_key, first=first,
                        after=after, cap=info.context.max_page_size, wrap=Ticket.of)  # fmt: skip
        _prefetch_below(info, page, "comments", "comment", "ticket")
        return page  # type: ignore[return-value]

    @strawberry.field(description="Everything that happened with the customer in every system, newest first.")
    async def timeline(
        self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[TimelineEvent] | None:
        events = await customer_events(info.context.loaders, self.customer_id)
        return paginate(events, lambda e: e.sort_key(), first=first, after=after,
                        cap=info.context.max_page_size, wrap=lambda e: e.node())  # type: ignore[return-value]  # fmt: skip

    @strawberry.field(description="Everything invoiced so far (net), per currency.")
    async def lifetime_revenue(self, info: Info) -> list[Money] | None:
        return _totals([i.net for i in await self._related(info, "invoice", records.InvoiceRecord)])

    @strawberry.field(description="Invoiced (gross) and not yet paid, per currency.")
    async def outstanding_balance(self, info: Info) -> list[Money] | None:
        invoices = await self._related(info, "invoice", records.InvoiceRecord)
        # Asked together, the payments of every invoice are one batch upstream, not one call per invoice.
        payments = await gathered([invoice_payments(info, invoice) for invoice in invoices])
        open_amounts: list[records.Money] = []
        for invoice, paid_by in zip(invoices, payments, strict=True):
            paid = sum((p.amount.amount for p in paid_by), Decimal(0))
            if invoice.gross.amount - paid:
                open_amounts.append(records.Money(invoice.gross.amount - paid, invoice.gross.currency))
        return _totals(open_amounts)

    @strawberry.field(description="Tickets not yet solved.")
    async def open_ticket_count(self, info: Info) -> int | None:
        return sum(1 for t in await self._related(info, "ticket", records.TicketRecord) if t.status in OPEN_TICKETS)

    @strawberry.field(description="When the customer last placed an order.")
    async def last_order_date(self, info: Info) -> datetime | None:
        orders = await self._related(info, "order", records.OrderRecord)
        return max((o.placed_at for o in orders), default=None)
