"""Reading source records for the schema: one record, related records, and a customer's records.

All reads go through the request's loaders, so they are batched and de-duplicated, whoever asks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TypeVar

from crmgraph.errors import SourceError
from crmgraph.identity.store import Link
from crmgraph.records import PartyRecord, Record
from crmgraph.resolvers.loaders import Loaders

R = TypeVar("R", bound=Record)


async def record(loaders: Loaders, source: str, entity: str, source_id: str) -> Record | None:
    """One record by id; ``None`` if the source has no such record or cannot reach that entity."""
    if not loaders.adapters.get(source) or not loaders.adapters[source].serves(entity):
        return None
    return await loaders.by_id(source, entity).load(source_id)


async def related(loaders: Loaders, source: str, entity: str, by: str, key: str) -> list[Record]:
    """Records of ``entity`` related to one record of the same source (lines of an order, ...)."""
    if source not in loaders.adapters or not loaders.adapters[source].serves(entity, by):
        return []
    return list(await loaders.related(source, entity, by).load(key))


async def party_links(loaders: Loaders, customer_id: int) -> list[Link]:
    return [link for link in await loaders.links.load(customer_id) if link.entity == "party"]


async def parties(loaders: Loaders, customer_id: int) -> tuple[list[PartyRecord], list[SourceError]]:
    """The customer's records in every source, in source precedence order, and the sources that failed."""
    links = await party_links(loaders, customer_id)
    order = list(loaders.adapters)
    links.sort(key=lambda link: (order.index(link.source) if link.source in order else len(order), link.source_id))
    results = await asyncio.gather(
        *(
            loaders.by_id(link.source, "party").load(link.source_id)
            for link in links
            if link.source in loaders.adapters
        ),
        return_exceptions=True,
    )
    found = [result for result in results if isinstance(result, PartyRecord)]
    failures = [result for result in results if isinstance(result, SourceError)]
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, SourceError):
            raise result
    return found, failures


async def of_customer(loaders: Loaders, customer_id: int, entity: str) -> list[Record]:
    """Every record of ``entity`` related to any of the customer's party records, across sources.

    A source that fails fails the whole list (with that source's error): a partial list that looks
    complete would mislead more than an error does.
    """
    links = await party_links(loaders, customer_id)
    wanted = [
        (link.source, link.source_id)
        for link in links
        if link.source in loaders.adapters and loaders.adapters[link.source].serves(entity, "party")
    ]
    results = await asyncio.gather(
        *(loaders.related(source, entity, "party").load(key) for source, key in wanted), return_exceptions=True
    )
    records: list[Record] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        records.extend(result)
    return records


def of_type(records: Sequence[Record], kind: type[R]) -> list[R]:
    return [item for item in records if isinstance(item, kind)]
