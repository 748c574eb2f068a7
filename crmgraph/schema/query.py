"""The root of the graph: customers, any node by id, and the look-ups people actually type."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import strawberry

from crmgraph import records
from crmgraph.errors import ClientError
from crmgraph.resolvers import records as read
from crmgraph.schema.customer import Customer, prefetch_for
from crmgraph.schema.ids import decode_id
from crmgraph.schema.nodes import Contact, Deal, Info, Interaction, Invoice, Order, Owner, Ticket
from crmgraph.schema.pagination import Connection, Edge, PageInfo, check_first, decode_cursor, encode_cursor
from crmgraph.schema.review import MatchKind, ReviewCandidate, review_candidate, review_queue
from crmgraph.schema.scalars import Node

# Node type -> (entity, builder) for ids that wrap a source record.
_RECORD_NODES: dict[str, tuple[str, Callable[[Any], Node]]] = {
    "Contact": ("person", Contact.of),
    "Owner": ("owner", Owner.of),
    "Deal": ("deal", Deal.of),
    "Interaction": ("interaction", Interaction.of),
    "Order": ("order", Order.of),
    "Invoice": ("invoice", Invoice.of),
    "Ticket": ("ticket", Ticket.of),
}


async def _customer(info: Info, customer_id: int) -> Customer | None:
    """The customer, or the one that absorbed it in a merge; None for an id no customer has."""
    loaders = info.context.loaders
    if await loaders.links.load(customer_id):
        return Customer.of(customer_id)
    # Only an id without links can be a merged one: the aliases are not read for the customers that exist.
    survivor = await loaders.survivor_of_customer.load(customer_id)
    if survivor is None or not await loaders.links.load(survivor):
        return None
    return Customer.of(survivor)


def _number(global_id: str, parts: list[str]) -> int:
    if len(parts) != 1 or not parts[0].isdigit():
        raise ClientError(f"{global_id!r} is not an id this API issued")
    return int(parts[0])


async def resolve_node(info: Info, global_id: str) -> Node | None:
    type_name, parts = decode_id(global_id)
    if type_name == "Customer":
        return await _customer(info, _number(global_id, parts))
    if type_name == "ReviewCandidate":
        return await review_candidate(info, _number(global_id, parts))
    if type_name not in _RECORD_NODES or len(parts) != 2:
        raise ClientError(f"{global_id!r} is not an id this API issued")
    entity, build = _RECORD_NODES[type_name]
    source, source_id = parts
    found = await read.record(info.context.loaders, source, entity, source_id)
    return build(found) if found is not None else None


async def _first_found(info: Info, entity: str, by: str, key: str) -> records.Record | None:
    loaders = info.context.loaders
    for source in loaders.sources_serving(entity, by):
        if by == "id":
            found = await read.record(loaders, source, entity, key)
        else:
            found = next(iter(await read.related(loaders, source, entity, by, key)), None)
        if found is not None:
            return found
    return None


@strawberry.type
class Query:
    @strawberry.field(
        description="One customer by id. The id of a customer a merge absorbed answers the customer that absorbed "
        "it (whose `id` differs from the one asked for)."
    )
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        _, parts = decode_id(id, "Customer")
        customer = await _customer(info, _number(id, parts))
        if customer is not None:
            await prefetch_for(info, [customer.customer_id])
        return customer

    @strawberry.field(description="Customers in a stable order; `search` matches names, domains, tax ids and e-mails.")
    async def customers(
        self, info: Info, search: str | None = None, first: int = 20, after: str | None = None
    ) -> Connection[Customer]:
        check_first(first, info.context.max_page_size)
        position = decode_cursor(after) if after else None
        if position is not None and (len(position) != 1 or not isinstance(position[0], int)):
            raise ClientError(f"after: {after!r} is not a cursor of this list")
        identity = info.context.loaders.identity
        (ids, has_next), total = await asyncio.gather(
            identity.page(after=int(position[0]) if position else None, first=first, search=search),
            identity.count(search=search),
        )
        edges = [Edge(node=Customer.of(cid), cursor=encode_cursor((cid,))) for cid in ids]
        await asyncio.gather(prefetch_for(info, ids, "nodes"), prefetch_for(info, ids, "edges", "node"))
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=has_next,
                has_previous_page=position is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=total,
        )

    @strawberry.field(
        description="Open review candidates: pairs of records that may be one company or person, strongest "
        "(highest match weight) first, for a data steward to accept or reject."
    )
    async def review_candidates(
        self, info: Info, kind: MatchKind | None = None, first: int = 20, after: str | None = None
    ) -> Connection[ReviewCandidate]:
        return await review_queue(info, kind, first, after)

    @strawberry.field(description="Any object by its global id (a merged customer's id answers its survivor).")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(description="Several objects by global id, in the order asked; null for ids not found.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > info.context.max_page_size:
            raise ClientError(f"ids: at most {info.context.max_page_size} at once, got {len(ids)}")
        return list(await asyncio.gather(*(resolve_node(info, i) for i in ids)))

    @strawberry.field(description="The contact with this e-mail address, from the first system that knows it.")
    async def contact_by_email(self, info: Info, email: str) -> Contact | None:
        found = await _first_found(info, "person", "email", email.strip())
        return Contact.of(found) if isinstance(found, records.PersonRecord) else None

    @strawberry.field(description="An order by the number people quote (leading zeros optional).")
    async def order_by_number(self, info: Info, number: str) -> Order | None:
        found = await _first_found(info, "order", "number", number.strip())
        return Order.of(found) if isinstance(found, records.OrderRecord) else None

    @strawberry.field(description="A ticket by its number in the ticket system.")
    async def ticket(self, info: Info, number: str) -> Ticket | None:
        found = await _first_found(info, "ticket", "id", number.strip())
        return Ticket.of(found) if isinstance(found, records.TicketRecord) else None
