"""Second-level reads started the moment the first level answers, before GraphQL resumes its resolvers.

A customer-360 query reads the customer's orders, then the lines of those orders; its tickets, then their
comments; its CRM record, then the owner it names. Started by the connection resolvers, the second read
would wait until GraphQL had resumed them, behind everything else that resumes when a dozen upstream
answers arrive together (a few milliseconds on every query). Here the first level's batch starts the
second read as it answers (``BatchLoader.on_arrival``), before it hands the records to the resolvers.

The records followed are those the resolvers will ask about: the connection's first page in its own
order, or every record when a field such as the timeline reads them all. The resolvers then find those
reads under way (a loader reads a key once per request); a connection with filters or a cursor is left to
its resolver, which works out its page itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from crmgraph import records
from crmgraph.cache.read_through import cache_key
from crmgraph.resolvers import records as read
from crmgraph.resolvers.loaders import Loaders
from crmgraph.schema.lookahead import names_below, selected_at

DEFAULT_PAGE = 20  # the connections' `first` when the query gives none


def newest_first(at: datetime | None) -> float:
    return -(at.timestamp() if at else 0.0)


def order_key(order: records.OrderRecord) -> tuple[float, str, str]:
    return newest_first(order.placed_at), order.source, order.source_id


def invoice_key(invoice: records.InvoiceRecord) -> tuple[float, str, str]:
    return newest_first(invoice.issued_at), invoice.source, invoice.source_id


def ticket_key(ticket: records.TicketRecord) -> tuple[float, str, str]:
    return newest_first(ticket.created_at), ticket.source, ticket.source_id


@dataclass(frozen=True)
class Children:
    """What the nodes of a customer connection read below them."""

    connection: str  # the customer field, e.g. "orders"
    entity: str  # its records, related to the customer's party records
    kind: type[records.Record]
    key: Callable[[Any], tuple[float, str, str]]  # the connection's order
    fields: tuple[str, ...]  # node fields that read the children
    child: str  # the children's entity, related to each record by `by`
    by: str
    parent_attribute: str  # the child record's attribute holding its parent's id
    of_every_record: tuple[str, ...] = ()  # customer fields that read the children of every record


CHILDREN = (
    Children("orders", "order", records.OrderRecord, order_key, ("lines",), "order_line", "order", "order_id"),
    Children("invoices", "invoice", records.InvoiceRecord, invoice_key, ("payments", "outstanding"), "payment",
             "invoice", "invoice_id", ("timeline", "outstandingBalance")),
    Children("tickets", "ticket", records.TicketRecord, ticket_key, ("comments",), "comment", "ticket",
             "ticket_id", ("timeline",)),
)  # fmt: skip
_EVERY = -1


async def follow_up(
    info: Any, customer_ids: list[int], names: set[str], *path: str, newest: Mapping[str, int] | None = None
) -> None:
    """For the customer fields ``names`` selected at ``path``: start each second-level read on arrival (of the
    lists cut to ``newest`` where the page reads them so, see :func:`newest_wanted`)."""
    loaders: Loaders = info.context.loaders
    for rule in CHILDREN:
        wanted = _wanted(info, rule, names, path)
        if wanted is None:
            continue
        cut = (newest or {}).get(rule.entity)
        for customer_id in customer_ids:
            if len(customer_ids) == 1:  # a page of customers reads a level for all of them in one statement
                await _join_where_possible(loaders, rule, customer_id)
            children = partial(_read_children, loaders, rule, wanted)
            await read.on_arrival(loaders, customer_id, rule.entity, children, cut)
    if "owner" in names:
        for customer_id in customer_ids:
            await read.on_first_party_arrival(loaders, customer_id, partial(_read_owner, loaders))


def _wanted(info: Any, rule: Children, names: set[str], path: tuple[str, ...]) -> int | None:
    """How many of the first records need their children read (``_EVERY``: all); None: leave it."""
    if names & set(rule.of_every_record):
        return _EVERY
    wanted: int | None = None
    for field in (field for field in selected_at(info, *path) if field.name == rule.connection):
        below = names_below(field, "nodes") | names_below(field, "edges", "node")
        if not below & set(rule.fields):
            continue
        first = _whole_number(field.arguments.get("first", DEFAULT_PAGE))
        if set(field.arguments) - {"first"} or first is None or not 0 <= first <= info.context.max_page_size:
            return None  # filters, a cursor or a page the resolver refuses: the page is the resolver's to work out
        wanted = max(wanted or 0, first)
    return wanted


def newest_wanted(info: Any, connection: str, names: set[str], readers: set[str], path: tuple[str, ...]) -> int | None:
    """How many of each customer's latest records a page of customers needs of the entity that the customer
    field ``connection`` (``orders``) pages through: its largest ``first`` plus one (whether there are more).
    None, for whole lists, when another selected field (``readers``: ``timeline``, ``lastOrderDate``) reads
    them, or the connection is asked with a cursor, a filter or ``totalCount``."""
    if names & (readers - {connection}):
        return None
    newest: int | None = None
    for field in (field for field in selected_at(info, *path) if field.name == connection):
        first = _whole_number(field.arguments.get("first", DEFAULT_PAGE))
        if set(field.arguments) - {"first"} or first is None or not 0 <= first <= info.context.max_page_size:
            return None
        if "totalCount" in names_below(field):
            return None
        newest = max(newest or 0, first + 1)
    return newest


def _whole_number(value: object) -> int | None:
    # A literal argument comes as its source text ("10"), a variable's value as the number.
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def _join_where_possible(loaders: Loaders, rule: Children, customer_id: int) -> None:
    """Where a source reads the children of a customer's records together with them (the ``sql`` adapter's
    ``order_line`` by ``order.party``, a join), start that read now, in the first level: the children's
    loader then finds them there and asks nothing upstream."""
    joined_by = f"{rule.by}.party"
    for link in await read.party_links(loaders, customer_id):
        adapter = loaders.adapters.get(link.source)
        if adapter is None or not adapter.serves(rule.child, joined_by) or not adapter.serves(rule.entity, "party"):
            continue
        joined = loaders.related(link.source, rule.child, joined_by).load(link.source_id)
        parents = loaders.related(link.source, rule.entity, "party").load(link.source_id)
        read.prefetch([joined])
        answers: asyncio.Future[dict[str, list[records.Record]]] = asyncio.get_running_loop().create_future()
        loaders.cover(link.source, rule.child, rule.by, answers, parents)
        both_of_now = partial(_both_fetched, loaders, [
            cache_key(link.source, rule.child, joined_by, link.source_id),
            cache_key(link.source, rule.entity, "party", link.source_id),
        ])  # fmt: skip
        settle = partial(
            _settle, rule, adapter.path(rule.child, joined_by).row_limit, both_of_now, joined, parents, answers
        )
        answers.add_done_callback(partial(_keep, loaders, link.source, rule, both_of_now))
        joined.add_done_callback(settle)
        parents.add_done_callback(settle)


def _keep(
    loaders: Loaders, source: str, rule: Children, of_now: Callable[[], bool], answers: asyncio.Future[Any]
) -> None:
    """Children read now by a join are cached per parent as well, as their own read would have been: a
    later query finds them there, the lists of parents without children too."""
    if not answers.cancelled() and answers.result() and of_now():
        read.prefetch(
            [asyncio.ensure_future(loaders.cache.store_related(source, rule.child, rule.by, answers.result()))]
        )


def _both_fetched(loaders: Loaders, names: list[str]) -> bool:
    return all(name in loaders.stale.fetched for name in names)


def _settle(
    rule: Children,
    row_limit: int | None,
    both_of_now: Callable[[], bool],
    joined: asyncio.Future[list[records.Record]],
    parents: asyncio.Future[list[records.Record]],
    answers: asyncio.Future[dict[str, list[records.Record]]],
    _: object,
) -> None:
    """Once both reads are in: the children of each parent they list.

    A parent the join found no children of has none, when both reads were made now, for this request. When
    either came from the cache, the two may differ in age (they are cached apart): such a parent may be newer
    than the join, and is left to its own read.
    """
    if answers.done() or not (joined.done() and parents.done()):
        return
    failed = any(future.cancelled() or future.exception() is not None for future in (joined, parents))
    if failed or (row_limit is not None and len(joined.result()) > row_limit):
        answers.set_result({})  # nothing covered (a failure, or a list cut short): asked for as usual
        return
    listed = {parent.source_id for parent in parents.result()}
    by_parent: dict[str, list[records.Record]] = {key: [] for key in listed} if both_of_now() else {}
    for child in joined.result():
        parent_id = getattr(child, rule.parent_attribute, None)
        if parent_id in listed:  # a child of a parent the other read did not see is left out
            by_parent.setdefault(parent_id, []).append(child)
    answers.set_result(by_parent)


def _read_children(loaders: Loaders, rule: Children, wanted: int, found: list[list[records.Record]]) -> None:
    parents = [record for each_source in found for record in each_source if isinstance(record, rule.kind)]
    if wanted != _EVERY:
        parents = sorted(parents, key=rule.key)[:wanted]
    read.prefetch_related(loaders, rule.child, rule.by, parents)


def _read_owner(loaders: Loaders, party: records.Record | None) -> None:
    # The owner the survivorship rule picks when the first source names one; otherwise the resolver decides.
    if isinstance(party, records.PartyRecord) and party.owner_id and (party.source, "owner", "id") in loaders.paths:
        read.prefetch([loaders.by_id(party.source, "owner").load(party.owner_id)])
