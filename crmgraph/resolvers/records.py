"""Reading source records for the schema: one record, related records, and a customer's records.

All reads go through the request's loaders, so they are batched and de-duplicated, whoever asks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from crmgraph.adapters.sdk.calls import current_call_log, expect_related
from crmgraph.adapters.sdk.resilience import remaining
from crmgraph.errors import SourceError
from crmgraph.identity.store import Link
from crmgraph.records import PartyRecord, Record
from crmgraph.resolvers.eager import gathered
from crmgraph.resolvers.loaders import Loaders

R = TypeVar("R", bound=Record)


async def record(loaders: Loaders, source: str, entity: str, source_id: str) -> Record | None:
    """One record by id; ``None`` if the source has no such record or cannot reach that entity."""
    if (source, entity, "id") not in loaders.paths:
        return None
    return await loaders.by_id(source, entity).load(source_id)


async def related(loaders: Loaders, source: str, entity: str, by: str, key: str) -> list[Record]:
    """Records of ``entity`` related to one record of the same source (lines of an order, ...)."""
    if (source, entity, by) not in loaders.paths:
        return []
    return list(await loaders.related(source, entity, by).load(key))


async def party_links(loaders: Loaders, customer_id: int) -> list[Link]:
    """The customer's own records' links (not its people's); shared within the request, read only."""
    key = ("party_links", customer_id)
    found: list[Link] | None = loaders.derived.get(key)
    if found is None:
        linked = await loaders.links.load(customer_id)
        found = loaders.derived[key] = [link for link in linked if link.entity == "party"]
    return found


async def _precedent_party_links(loaders: Loaders, customer_id: int, order: Sequence[str] | None) -> list[Link]:
    # The configured order written out: a golden field without a source_priority setting asks in that order,
    # the owner with none, and both then share one answer.
    ranked = tuple(loaders.adapters) if order is None else tuple(order)
    key = ("precedence", customer_id, ranked)
    found: list[Link] | None = loaders.derived.get(key)
    if found is None:
        found = loaders.derived[key] = in_precedence(loaders, await party_links(loaders, customer_id), ranked)
    return found


async def _serving_party_links(loaders: Loaders, customer_id: int, entity: str) -> list[Link]:
    key = ("serving", customer_id, entity)
    found: list[Link] | None = loaders.derived.get(key)
    if found is None:
        found = loaders.derived[key] = _serving(loaders, await party_links(loaders, customer_id), entity)
    return found


def in_precedence(loaders: Loaders, links: Sequence[Link], order: Sequence[str] | None = None) -> list[Link]:
    """The links to configured sources, in ``order`` of sources (by default the configuration's)."""
    rank = {source: position for position, source in enumerate(order or loaders.adapters)}
    return sorted(
        (link for link in links if link.source in loaders.adapters),
        key=lambda link: (rank.get(link.source, len(rank)), link.source_id),
    )


async def _party_loads(
    loaders: Loaders, customer_id: int, order: Sequence[str] | None = None
) -> list[Awaitable[Record | None]]:
    """Loads of the customer's party records, in ``order`` of sources (by default the configuration's)."""
    links = await _precedent_party_links(loaders, customer_id, order)
    return [loaders.by_id(link.source, "party").load(link.source_id) for link in links]


async def parties(loaders: Loaders, customer_id: int) -> tuple[list[PartyRecord], list[SourceError]]:
    """The customer's records in every source, in source precedence order, and the sources that failed."""
    loads = await _party_loads(loaders, customer_id)
    results = await gathered(loads, return_exceptions=True)
    found = [result for result in results if isinstance(result, PartyRecord)]
    failures = [result for result in results if isinstance(result, SourceError)]
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, SourceError):
            raise result
    return found, failures


async def survivor(
    loaders: Loaders,
    customer_id: int,
    wins: Callable[[PartyRecord], bool],
    order: Sequence[str] | None = None,
    field: str | None = None,
) -> PartyRecord | None:
    """The first of the customer's records, in ``order`` of sources (by default the configuration's), that
    ``wins`` (has the value of ``field``, a record attribute).

    A source whose records never hold ``field`` (:meth:`~crmgraph.adapters.sdk.base.Adapter.may_hold`) is
    not asked. Each record is read only when the ones before it lack the value (or failed): a later one cannot
    change the answer, and a field such as the owner can start its own read as soon as the first system
    answers. A record read already (a single customer's view reads them all at once, see
    :func:`prefetch_customers`) answers at once. Raises the first source's error when no source answered.
    """
    answered = False
    failures: list[SourceError] = []
    holding = holders_of(loaders, field) if field is not None else None
    for link in await _precedent_party_links(loaders, customer_id, order):
        if holding is not None and link.source not in holding:
            continue
        try:
            party = await loaders.by_id(link.source, "party").load(link.source_id)
        except SourceError as error:
            failures.append(error)
            continue
        if isinstance(party, PartyRecord):
            answered = True
            if wins(party):
                return party
    if failures and not answered:
        raise failures[0]
    return None


def prefetch(loads: Sequence[Awaitable[Any]]) -> None:
    """Start loads whose answers a resolver further down will ask for, so that their batch leaves now.

    A loader sends its batch on the event loop's next turn. A load started when a parent
    list arrives goes out in that step, not after GraphQL has walked every item of the list to the field
    that asks for it: the next level of upstream calls starts sooner.
    """
    log = current_call_log.get()
    ahead = log.started_ahead if log is not None else None
    for load in loads:
        if isinstance(load, asyncio.Future):
            if load.done():
                _consume(load)  # answered already (a settled customer, the cache): nothing to wait for, no callback
                continue
            if ahead is not None:
                if load in ahead:  # prefetched already (a page's prefetch, then each row's field): one callback
                    continue
                ahead.add(load)  # a resolver that fails early never awaits it: the request will
        _retrieve_later(load)


@dataclass(frozen=True)
class Prefetched:
    """The reads :func:`prefetch_customers` started: all of them, and the customers' own records among them that
    their golden fields and owner take first."""

    loads: list[Awaitable[Any]]
    own: list[Awaitable[Any]]


async def prefetch_customers(
    loaders: Loaders,
    customer_ids: Sequence[int],
    entities: set[str],
    settle: bool = False,
    first_holders: Sequence[tuple[str, Sequence[str] | None]] | None = None,
    newest: Mapping[str, int] | None = None,
) -> Prefetched:
    """:func:`prefetch` the customers' party records (``"party"``) and their related ``entities`` (with
    those that the customers' links name in sources that cannot list them, see :func:`unlisted_loads`);
    ``"lead"`` stands for the people of the customers' companies in the marketing systems alone.

    With ``first_holders`` (record fields, each with its order of sources: None for the configuration's), not
    every party record is read but, per customer, the first one that can hold each field: for a page whose
    fields :func:`survivor` answers, the others are read only where that record lacks the value. Without,
    every party record is read, and the own records are each customer's first in configured order.
    ``newest`` names the entities whose lists may be cut to that many latest records (see :func:`of_customer`).

    For a resolver that returns customers: with every read of the query started at once, the first level
    of upstream calls leaves before GraphQL walks the customers' fields one by one, and that walk then
    happens while the systems are answering.
    """
    if not entities:
        return Prefetched([], [])
    link_lists = await gathered([loaders.links.load(customer_id) for customer_id in customer_ids])
    every = [link for found in link_lists for link in found if link.source in loaders.adapters]
    links = [link for link in every if link.entity == "party"]
    if "person" in entities:
        for found in link_lists:
            foresee_people(loaders, found)
    loads: list[Awaitable[Any]] = []
    own: list[Awaitable[Any]] = []
    if "party" in entities:
        firsts = _first_holding_links(loaders, link_lists, first_holders or _FIRST_IN_CONFIGURED_ORDER)
        own = [loaders.by_id(link.source, "party").load(link.source_id) for link in firsts]
        reading = firsts if first_holders is not None else links  # the first holders, or every record
        loads += [loaders.by_id(link.source, "party").load(link.source_id) for link in reading]
    if "lead" in entities:  # the people of the customer's companies in its marketing systems only
        marketing = [link for link in links if loaders.adapters[link.source].serves("person", "campaign")]
        loads += _related_loads(loaders, marketing, "person")
    for entity in sorted(entities - {"party", "lead"}):
        cut = (newest or {}).get(entity)
        loads += _related_loads(loaders, links, entity, cut) + unlisted_loads(loaders, every, entity)
    prefetch(loads)
    if not settle:
        # Let the batches reach the wire before GraphQL walks the customers' fields (a millisecond of work):
        # a turn for each batch's task, one for a call shared by several paths, one for the send itself.
        for _ in range(3):
            await asyncio.sleep(0)
    return Prefetched(loads, own)  # with ``settle``, the caller awaits them once it has started what follows


# Each customer's record in its first source in configured order: every record has a name.
_FIRST_IN_CONFIGURED_ORDER: tuple[tuple[str, Sequence[str] | None], ...] = (("name", None),)


def _first_holding_links(
    loaders: Loaders, link_lists: Sequence[Sequence[Link]], fields: Sequence[tuple[str, Sequence[str] | None]]
) -> list[Link]:
    """Of each customer's party links (one list per customer), the first in each field's order whose source
    can hold the field: the record :func:`survivor` reads first for it (in :func:`in_precedence`'s order)."""
    # Per field: the rank of each source that can hold it (in the field's order); the others are left out.
    ranks = [
        {source: position for position, source in enumerate(order or loaders.adapters) if source in holding}
        for field, order in fields
        for holding in (holders_of(loaders, field),)
    ]
    chosen: dict[tuple[str, str], Link] = {}
    for found in link_lists:
        for rank in ranks:
            first: Link | None = None
            for link in found:
                if link.entity != "party" or link.source not in rank:
                    continue
                if first is None or (rank[link.source], link.source_id) < (rank[first.source], first.source_id):
                    first = link
            if first is not None:
                chosen.setdefault((first.source, first.source_id), first)
    return list(chosen.values())


def holders_of(loaders: Loaders, field: str) -> frozenset[str]:
    """The request's sources whose party records can hold ``field`` (worked out once per request)."""
    key = ("holders", field)
    found: frozenset[str] | None = loaders.derived.get(key)
    if found is None:
        adapters = loaders.adapters
        found = loaders.derived[key] = frozenset(s for s in adapters if adapters[s].may_hold("party", field))
    return found


def foresee_people(loaders: Loaders, links: Sequence[Link]) -> None:
    """Note that the people one customer's record lists in a system are likely those of its person links there
    (:func:`~crmgraph.adapters.sdk.calls.expect_related`): a system that lists them in two round trips (the
    CRM's associations, then its contacts) can read them in the first."""
    people: dict[str, list[str]] = {}
    for link in links:
        if link.entity == "person":
            people.setdefault(link.source, []).append(link.source_id)
    for link in links:
        ids = people.get(link.source)
        if ids and link.entity == "party" and link.source in loaders.adapters:
            expect_related(link.source, "person", "party", link.source_id, ids)


async def settle_reads(loads: Sequence[Awaitable[Any]]) -> None:
    """Wait until ``loads`` have answered, whatever the answer: failures stay with the loads, and the
    fields that read them report them.

    For a resolver returning customers whose fields all read these: answered before GraphQL walks the
    fields, the fields resolve without suspending (resolvers are eager, :mod:`crmgraph.schema.eager`),
    where otherwise each would become an asyncio task waiting for the same answers.

    Under a request deadline it waits at most half the time left: a system that answers late (or not at
    all) must not hold back the fields the others already answered until the deadline has passed and
    their pages are refused (``pagination.check_deadline``). Those fields are then walked, and the late
    ones wait for their own reads as they would have.
    """
    waiting = [load for load in loads if not (isinstance(load, asyncio.Future) and load.done())]
    if not waiting:
        return
    left = remaining()
    if left is None:
        await gathered(waiting, return_exceptions=True)
    elif left > 0:
        await asyncio.wait([asyncio.ensure_future(load) for load in waiting], timeout=left / 2)


async def on_arrival(
    loaders: Loaders,
    customer_id: int,
    entity: str,
    then: Callable[[list[list[Record]]], None],
    newest: int | None = None,
) -> None:
    """Call ``then`` with the customer's ``entity`` records, one list per source, the moment the last source
    answers and before the resolvers waiting for them resume (see :meth:`BatchLoader.on_arrival`); with
    ``newest``, the lists of the reads cut to that many (:meth:`Loaders.related`). Not called when a source
    fails: the field fails then, and needs nothing more."""
    links = await _serving_party_links(loaders, customer_id, entity)
    arrived: dict[int, list[Record]] = {}

    def one_arrived(index: int, records: list[Record]) -> None:
        arrived[index] = records
        if len(arrived) == len(links):
            then([arrived[i] for i in range(len(links))])

    for index, link in enumerate(links):
        loaders.related(link.source, entity, "party", newest).on_arrival(link.source_id, partial(one_arrived, index))


async def on_first_party_arrival(loaders: Loaders, customer_id: int, then: Callable[[Record | None], None]) -> None:
    """Call ``then`` with the customer's record in the first source in precedence order, when it arrives."""
    links = await _precedent_party_links(loaders, customer_id, None)
    if links:
        loaders.by_id(links[0].source, "party").on_arrival(links[0].source_id, then)


def prefetch_related(loaders: Loaders, entity: str, by: str, parents: Sequence[Record]) -> None:
    """:func:`prefetch` the ``entity`` records related to each parent (lines of orders, ...)."""
    prefetch(
        [
            loaders.related(parent.source, entity, by).load(parent.source_id)
            for parent in parents
            if (parent.source, entity, by) in loaders.paths
        ]
    )


def _related_loads(
    loaders: Loaders, links: Sequence[Link], entity: str, newest: int | None = None
) -> list[Awaitable[list[Record]]]:
    """Loads of the ``entity`` records related to each linked party record, where its source has them."""
    return [
        loaders.related(link.source, entity, "party", newest).load(link.source_id)
        for link in _serving(loaders, links, entity)
    ]


def unlisted_loads(loaders: Loaders, links: Sequence[Link], entity: str) -> list[Awaitable[Record | None]]:
    """Loads by id of the linked ``entity`` records (a customer's people) whose source cannot list a party's
    ``entity`` records (the ticket system's users): the identity links name them, so they are read in the
    same level as the lists of the sources that can, not after them. The two never read the same record."""
    paths = loaders.paths
    return [
        loaders.by_id(link.source, entity).load(link.source_id)
        for link in links
        if link.entity == entity
        and (link.source, entity, "id") in paths
        and (link.source, entity, "party") not in paths
    ]


def _serving(loaders: Loaders, links: Sequence[Link], entity: str) -> list[Link]:
    """The links whose source reaches ``entity`` records by party."""
    paths = loaders.paths
    return [link for link in links if (link.source, entity, "party") in paths]


def _retrieve_later(load: Awaitable[Any]) -> None:
    # A load nobody awaits must not end as "exception never retrieved": the resolver that needs it will
    # await it again (the loader keeps the future) and report the error there.
    if isinstance(load, asyncio.Future):
        load.add_done_callback(_consume)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def of_customer(loaders: Loaders, customer_id: int, entity: str, newest: int | None = None) -> list[Record]:
    """Every record of ``entity`` related to any of the customer's party records, across sources; with
    ``newest``, possibly only each record's ``newest`` latest ones (:meth:`Loaders.related`).

    A source that fails fails the whole list (with that source's error): a partial list that looks
    complete would mislead more than an error does.
    """
    loads = [
        loaders.related(link.source, entity, "party", newest).load(link.source_id)
        for link in await _serving_party_links(loaders, customer_id, entity)
    ]
    if len(loads) == 1:
        return list(await loads[0])  # most customers have one source for an entity: no gather, no extra turn
    results = await gathered(loads, return_exceptions=True)
    records: list[Record] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        records.extend(result)
    return records


def of_type(records: Sequence[Record], kind: type[R]) -> list[R]:
    return [item for item in records if isinstance(item, kind)]
