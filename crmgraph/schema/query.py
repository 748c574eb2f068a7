"""The root of the graph: customers, any node by id, and the look-ups people actually type."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import strawberry

from crmgraph import records
from crmgraph.errors import ClientError, SourceError
from crmgraph.resolvers import marketing as mkt
from crmgraph.resolvers import records as read
from crmgraph.resolvers.scope import customer_in_scope, party_in_scope
from crmgraph.schema.audit_events import AuditEvent, audit_events
from crmgraph.schema.automation_runs import AutomationRun, AutomationRunStatus, automation_runs
from crmgraph.schema.customer import Customer, prefetch_for
from crmgraph.schema.follow_up import DEFAULT_PAGE
from crmgraph.schema.ids import decode_id, decode_number, not_issued, number_of
from crmgraph.schema.lookahead import asks_for
from crmgraph.schema.marketing import Campaign, campaigns_page, record_node
from crmgraph.schema.nodes import Contact, Deal, Info, Interaction, Invoice, Order, Owner, Ticket
from crmgraph.schema.pagination import (
    WHOLE,
    Connection,
    Edge,
    check_deadline,
    check_first,
    connection,
    decode_position,
)
from crmgraph.schema.review import MatchKind, ReviewCandidate, review_candidate, review_queue
from crmgraph.schema.saga_mutations import Saga, saga_by_id
from crmgraph.schema.scalars import Node

# Node type -> (entity, builder) for ids that wrap a source record.
_RECORD_NODES: dict[str, tuple[str, Callable[[Any], Node | None]]] = {
    "Contact": ("person", Contact.of),
    "Owner": ("owner", Owner.of),
    "Deal": ("deal", Deal.of),
    "Interaction": ("interaction", Interaction.of),
    "Order": ("order", Order.of),
    "Invoice": ("invoice", Invoice.of),
    "Ticket": ("ticket", Ticket.of),
    # A marketing source's records: None for a record of another kind (another source's person is no lead).
    "Lead": ("person", lambda r: record_node("Lead", r)),
    "Campaign": ("campaign", lambda r: record_node("Campaign", r)),
    "Segment": ("segment", lambda r: record_node("Segment", r)),
}


MAX_SEARCH_LENGTH = 200  # longer than any name, domain, tax id or e-mail address a customer is found by


def search_term(search: str | None) -> str | None:
    """The search as the identity store takes it; a :class:`ClientError` for one it cannot run."""
    if search is None:
        return None
    if len(search) > MAX_SEARCH_LENGTH:
        raise ClientError(f"search: at most {MAX_SEARCH_LENGTH} characters, got {len(search)}")
    if "\x00" in search:
        raise ClientError("search: must not contain the NUL character (U+0000)")
    return search


async def visible_customer(info: Info, customer_id: int) -> Customer | None:
    """The customer, or the one that absorbed it in a merge; None for an id no customer has, or one outside
    the principal's row scope (the two are answered alike)."""
    loaders = info.context.loaders
    if not await loaders.links.load(customer_id):
        # Only an id without links can be a merged one: the aliases are not read for the customers that exist.
        survivor = await loaders.survivor_of_customer.load(customer_id)
        if survivor is None or not await loaders.links.load(survivor):
            return None
        customer_id = survivor
    # For a scoped principal the links brought the customer's scope keys along: no read of their own.
    if not await customer_in_scope(loaders, info.context.access, customer_id):
        return None
    return Customer.of(customer_id)


async def _visible(info: Info, record: records.Record | None) -> records.Record | None:
    """The record, unless the principal's row scope hides the customer it belongs to."""
    if record is None or info.context.access is None or not info.context.access.scoped:
        return record
    if isinstance(record, records.OwnerRecord | records.CampaignRecord | records.SegmentRecord):
        return record  # an owner (a CRM user), a campaign, a segment: nobody's customer data
    if isinstance(record, records.LeadRecord):  # a lead may belong to a customer through its person link too
        return record if await mkt.visible_leads(info.context.loaders, info.context.access, [record]) else None
    party: str | None = getattr(record, "party_id", None)
    in_scope = party is not None and await party_in_scope(
        info.context.loaders, info.context.access, (record.source, party)
    )
    return record if in_scope else None


async def resolve_node(info: Info, global_id: str, argument: str = "id") -> Node | None:
    type_name, parts = decode_id(global_id, argument=argument)
    if type_name == "Customer":
        return await visible_customer(info, number_of(global_id, parts, argument=argument))
    if type_name == "ReviewCandidate":
        return await review_candidate(info, number_of(global_id, parts, argument=argument))
    if type_name not in _RECORD_NODES or len(parts) < 2 or not parts[0]:
        raise not_issued(argument, global_id)
    entity, build = _RECORD_NODES[type_name]
    source, source_id = parts[0], ":".join(parts[1:])  # a source's own id may hold a colon
    if not source_id.strip():
        raise not_issued(argument, global_id)
    found = await _visible(info, await read.record(info.context.loaders, source, entity, source_id))
    return build(found) if found is not None else None


async def _first_found(info: Info, entity: str, by: str, key: str) -> records.Record | None:
    loaders = info.context.loaders
    for source in loaders.sources_serving(entity, by):
        if by == "id":
            found = await read.record(loaders, source, entity, key)
        else:
            found = next(iter(await read.related(loaders, source, entity, by, key)), None)
        if found is not None:
            return await _visible(info, found)
    return None


@strawberry.type
class Query:
    @strawberry.field(
        description="One customer by id. The id of a customer a merge absorbed answers the customer that absorbed "
        "it (whose `id` differs from the one asked for)."
    )
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        customer = await visible_customer(info, decode_number(id, "Customer"))
        if customer is not None:
            await prefetch_for(info, [customer.customer_id], settle=True)
        return customer

    @strawberry.field(description="Customers in a stable order; `search` matches names, domains, tax ids and e-mails.")
    async def customers(
        self, info: Info, search: str | None = None, first: int = 20, after: str | None = None
    ) -> Connection[Customer]:
        check_first(first, info.context.max_page_size)
        check_deadline()
        position = decode_position(after, WHOLE) if after else None
        search = search_term(search)
        loaders = info.context.loaders
        identity = loaders.identity
        access = info.context.access
        # The row scope is a condition of the same statements: the page and its count agree.
        scope = access.scope_clauses() if access is not None else None
        # The customers' links come with their ids, in the same trip to a worker thread.
        page = identity.page_with_links(after=int(position[0]) if position else None, first=first, search=search,
                                        scope=scope, with_scope=loaders.with_scope)  # fmt: skip
        if asks_for(info, ("totalCount",)):
            (ids, has_next, links, scopes), total = await asyncio.gather(
                page, identity.count(search=search, scope=scope)
            )
        else:  # a list page that shows no count: no statement (and no worker-thread trip) for it
            (ids, has_next, links, scopes), total = await page, 0
        loaders.prime_links(links, scopes)
        edges = [Edge(node=Customer.of(cid), key=(cid,)) for cid in ids]
        # The rows are walked once each customer's record in its first source has answered (what a golden field
        # or the owner takes first): each row's fields then resolve at once, where otherwise each would become
        # a task waiting for the same answers. The other reads (contacts, orders, tickets) go on meanwhile.
        await asyncio.gather(
            prefetch_for(info, ids, "nodes", settle_own=True), prefetch_for(info, ids, "edges", "node", settle_own=True)
        )
        return connection(edges, has_next=has_next, has_previous=position is not None, total=total)

    @strawberry.field(
        description="Open review candidates: pairs of records that may be one company or person, strongest "
        "(highest match weight) first, for a data steward to accept or reject."
    )
    async def review_candidates(
        self, info: Info, kind: MatchKind | None = None, first: int = 20, after: str | None = None
    ) -> Connection[ReviewCandidate]:
        return await review_queue(info, kind, first, after)

    @strawberry.field(
        description="The audit trail, oldest first: reads of personal data, mutations and denied requests. Only for "
        "roles with `audit: true` (FORBIDDEN otherwise)."
    )
    async def audit_events(
        self,
        info: Info,
        customer_id: strawberry.ID | None = None,
        since: datetime | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[AuditEvent]:
        return await audit_events(info, customer_id, since, first, after)

    @strawberry.field(
        description="What the automation rules did (workflows.rules), newest first: each rule's run on each event, "
        "with its actions and outcome; by rule and status. Only for roles with `automation: true` or `audit: true` "
        "(FORBIDDEN otherwise)."
    )
    async def automation_runs(
        self,
        info: Info,
        rule: str | None = None,
        status: AutomationRunStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[AutomationRun]:
        return await automation_runs(info, rule, status, first, after)

    @strawberry.field(description="A change that spans systems (dealConvertToOrder), by id: its state and steps.")
    async def saga(self, info: Info, id: strawberry.ID) -> Saga | None:
        return await saga_by_id(info, id)

    @strawberry.field(description="Any object by its global id (a merged customer's id answers its survivor).")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(description="Several objects by global id, in the order asked; null for ids not found.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > info.context.max_page_size:
            raise ClientError(f"ids: at most {info.context.max_page_size} at once, got {len(ids)}")
        found = await asyncio.gather(
            *(resolve_node(info, i, f"ids[{n}]") for n, i in enumerate(ids)), return_exceptions=True
        )
        for result in found:
            if isinstance(result, BaseException) and not isinstance(result, ClientError | SourceError):
                raise result
        # A bad id or a failing system in an item's place nulls that item alone, with the error at its path
        # (graphql-core raises an exception it finds as a list item when it completes that item).
        return found  # type: ignore[return-value]

    @strawberry.field(description="The contact with this e-mail address, from the first system that knows it.")
    async def contact_by_email(self, info: Info, email: str) -> Contact | None:
        found = await _first_found(info, "person", "email", email.strip())
        return Contact.of(found) if isinstance(found, records.PersonRecord) else None

    @strawberry.field(description="An order by the number people quote (leading zeros optional).")
    async def order_by_number(self, info: Info, number: str) -> Order | None:
        found = await _first_found(info, "order", "number", number.strip())
        return Order.of(found) if isinstance(found, records.OrderRecord) else None

    @strawberry.field(
        description="Marketing campaigns of every marketing system, newest start first; `channel` keeps those of "
        "one channel (email, webinar, ..., compared without case). Null, with the error, when a marketing "
        "system fails."
    )
    async def campaigns(
        self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None, channel: str | None = None
    ) -> Connection[Campaign] | None:
        return await campaigns_page(info, first, after, channel)

    @strawberry.field(description="A ticket by its number in the ticket system.")
    async def ticket(self, info: Info, number: str) -> Ticket | None:
        found = await _first_found(info, "ticket", "id", number.strip())
        return Ticket.of(found) if isinstance(found, records.TicketRecord) else None
