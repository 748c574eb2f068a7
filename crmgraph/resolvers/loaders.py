"""Per-request batch loaders, one per (source, entity, access path), made from the adapters' declarations.

Nothing here is written per field: a resolver asks for ``loaders.by_id("erp", "order")`` or
``loaders.related("erp", "order", "party")`` and gets the loader for that path, created on first use.
Every ``load`` in the same tick of the event loop becomes one batch, every key is asked once per
request, and the batch goes through the read-through cache to the adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crmgraph.adapters.base import Adapter
from crmgraph.cache.read_through import ReadThrough, StaleLog
from crmgraph.identity.store import IdentityStore, Link, SourceRecord
from crmgraph.records import Record
from crmgraph.resolvers.batching import BatchLoader


class Loaders:
    def __init__(self, adapters: Mapping[str, Adapter], cache: ReadThrough, identity: IdentityStore) -> None:
        self.adapters = adapters
        self.cache = cache
        self.identity = identity
        self._loaders: dict[tuple[str, str, str], BatchLoader[str, Any]] = {}
        self.stale = StaleLog()  # what this request was answered from stale cache
        self.links = BatchLoader[int, list[Link]](self._load_links)
        self.customer_of_party = BatchLoader[SourceRecord, int | None](self._load_customers)

    def sources_serving(self, entity: str, by: str = "id") -> list[str]:
        """Source names that can reach ``entity`` by ``by``, in configuration (precedence) order."""
        return [name for name, adapter in self.adapters.items() if adapter.serves(entity, by)]

    # A key whose result is a SourceError makes that key's ``load`` raise it (as with a DataLoader), so
    # what an ``await`` yields is the record (or None) and the list of records.
    def by_id(self, source: str, entity: str) -> BatchLoader[str, Record | None]:
        return self._loader(source, entity, "id")

    def related(self, source: str, entity: str, by: str) -> BatchLoader[str, list[Record]]:
        return self._loader(source, entity, by)

    def _loader(self, source: str, entity: str, by: str) -> BatchLoader[str, Any]:
        key = (source, entity, by)
        loader = self._loaders.get(key)
        if loader is None:
            adapter = self.adapters[source]
            adapter.path(entity, by)  # fail early and clearly for a path the adapter does not declare

            async def load(keys: list[str]) -> Sequence[Any]:
                if by == "id":
                    return await self.cache.fetch(adapter, entity, keys, self.stale)
                return await self.cache.fetch_related(adapter, entity, by, keys, self.stale)

            loader = self._loaders[key] = BatchLoader(load)
        return loader

    async def _load_links(self, customer_ids: list[int]) -> list[list[Link]]:
        found = await self.identity.links_of(customer_ids)
        return [found.get(customer_id, []) for customer_id in customer_ids]

    async def _load_customers(self, records: list[SourceRecord]) -> list[int | None]:
        found = await self.identity.customers_of("party", records)
        return [found.get(record) for record in records]
