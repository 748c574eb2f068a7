"""Per-request batch loaders, one per (source, entity, access path), made from the adapters' declarations.

Nothing here is written per field: a resolver asks for ``loaders.by_id("erp", "order")`` or
``loaders.related("erp", "order", "party")`` and gets the loader for that path, created on first use.
Every ``load`` in the same tick of the event loop becomes one batch, every key is asked once per
request, and the batch goes through the read-through cache to the adapter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.cache.read_through import NOT_KEPT, ReadThrough, StaleLog
from crmgraph.identity.settings import Survivorship
from crmgraph.identity.stewardship import ReviewCandidate
from crmgraph.identity.store import IdentityStore, Link, SourceRecord
from crmgraph.records import Record
from crmgraph.resolvers import identity_reads
from crmgraph.resolvers.batching import UNKNOWN, BatchLoader


class Loaders:
    def __init__(
        self,
        adapters: Mapping[str, Adapter],
        cache: ReadThrough,
        identity: IdentityStore,
        survivorship: Survivorship | None = None,
        with_scope: bool = False,
    ) -> None:
        self.adapters = adapters
        self.cache = cache
        self.identity = identity
        self.survivorship = survivorship or Survivorship()  # which record's value each golden field takes
        self._loaders: dict[tuple[str, str, str, int | None], BatchLoader[str, Any]] = {}
        self.stale = StaleLog()  # what this request was answered from stale cache
        # The batch functions hold what they read from, never this object: a loader that referred back to
        # it would make every request's loaders a reference cycle, left to the garbage collector to find
        # (with its records) instead of being freed when the request ends.
        reads = _IdentityReads(identity)
        # Asked only for a principal with a row scope: what the scope tests of each customer.
        self.scope_keys = BatchLoader[int, dict[str, frozenset[str]]](reads.scope_keys)
        # For a principal with a row scope, a customer's scope keys come with its links (one statement more in
        # the same worker thread, not a trip of their own).
        self.links = BatchLoader[int, list[Link]](
            partial(reads.links_and_scope, self.scope_keys) if with_scope else reads.links
        )
        self.customer_of_party = BatchLoader[SourceRecord, int | None](reads.customers)
        # Asked only for ids without links: the survivor of a customer a merge absorbed.
        self.survivor_of_customer = BatchLoader[int, int | None](reads.survivors)
        self.person_links = BatchLoader[SourceRecord, list[Link]](reads.person_links)
        self.review_candidate = BatchLoader[int, ReviewCandidate | None](reads.review_candidates)
        self.with_scope = with_scope
        # Reads that answer a path's keys before its loader asks upstream: (source, entity, by) -> futures of
        # {key: related records}, e.g. the lines of a party's orders, read with the orders in one join.
        self._covering: dict[tuple[str, str, str], list[_Cover]] = {}
        # What resolvers work out again and again from this request's loads (a customer's party links, those
        # serving an entity, in precedence order): a list page asks it for every field of every row.
        # Loads are never replaced within a request, so neither is anything derived from them.
        self.derived: dict[tuple[object, ...], Any] = {}
        self._every: dict[tuple[str, str], asyncio.Future[list[Record]]] = {}

    @cached_property
    def paths(self) -> frozenset[tuple[str, str, str]]:
        """``(source, entity, by)`` of every path the request's sources serve. A list page asks whether a source
        serves a path for every link of every row: a membership test, where :meth:`Adapter.serves` is a call."""
        return frozenset((name, *path) for name, adapter in self.adapters.items() for path in adapter.served())

    def sources_serving(self, entity: str, by: str = "id") -> list[str]:
        """Source names that can reach ``entity`` by ``by``, in configuration (precedence) order."""
        return [name for name, adapter in self.adapters.items() if adapter.serves(entity, by)]

    # A key whose result is a SourceError makes that key's ``load`` raise it (as with a DataLoader), so
    # what an ``await`` yields is the record (or None) and the list of records.
    def by_id(self, source: str, entity: str) -> BatchLoader[str, Record | None]:
        return self._loader(source, entity, "id")

    def related(self, source: str, entity: str, by: str, newest: int | None = None) -> BatchLoader[str, list[Record]]:
        """Each key's ``entity`` records; with ``newest``, a loader of its own whose lists may hold only each
        key's ``newest`` latest records (:meth:`Adapter.fetch_related`): the caller sorts and cuts them."""
        return self._loader(source, entity, by, newest)

    def _loader(self, source: str, entity: str, by: str, newest: int | None = None) -> BatchLoader[str, Any]:
        key = (source, entity, by, newest)
        loader = self._loaders.get(key)
        if loader is None:
            adapter = self.adapters[source]
            adapter.path(entity, by)  # fail early and clearly for a path the adapter does not declare
            path = (source, entity, by)
            cache, stale, covering = self.cache, self.stale, self._covering  # not ``self``: see ``__init__``

            async def load(keys: list[str]) -> Sequence[Any]:
                covered = await _covered(covering, path, keys)
                missing = [k for k in keys if k not in covered]
                if not missing:
                    return [covered[k] for k in keys]
                fetched: Sequence[Any]
                if by == "id":
                    fetched = await cache.fetch(adapter, entity, missing, stale)
                else:
                    fetched = await cache.fetch_related(adapter, entity, by, missing, stale, newest)
                answers = dict(zip(missing, fetched, strict=True))
                return [covered[k] if k in covered else answers[k] for k in keys]

            peeks = newest is None and cache.peeks(entity)  # a cut list is never kept
            known = partial(_kept, cache, source, entity, by) if peeks else None
            loader = self._loaders[key] = BatchLoader(load, known)
        return loader

    def every(self, source: str, entity: str) -> asyncio.Future[list[Record]]:
        """Every record of ``entity`` in ``source`` (a scan, read through the cache): read once per request,
        whoever asks. For small lists that a query pages through itself (the campaigns)."""
        key = (source, entity)
        found = self._every.get(key)
        if found is None or found.cancelled():
            found = self._every[key] = asyncio.ensure_future(self.cache.scan(self.adapters[source], entity, self.stale))
        return found

    def cover(
        self,
        source: str,
        entity: str,
        by: str,
        answers: asyncio.Future[dict[str, list[Record]]],
        keys_from: asyncio.Future[list[Record]],
    ) -> None:
        """``answers`` will hold the ``entity`` records related ``by`` some of the records ``keys_from``
        gives (the lines of some of a customer's orders): those keys are not asked upstream again. A batch
        waits for ``answers`` only when it asks for one of those keys; a key ``answers`` leaves out (a read
        that failed covers nothing) is asked as usual."""
        self._covering.setdefault((source, entity, by), []).append(_Cover(answers, keys_from))

    def prime_links(self, found: dict[int, list[Link]], scopes: dict[int, dict[str, frozenset[str]]]) -> None:
        """Take customers' links read with their page (:meth:`IdentityStore.page_with_links`), and their scope
        keys where this request needs them: not asked again."""
        for customer_id, links in found.items():
            self.links.prime(customer_id, links)
        if self.with_scope:
            for customer_id, keys in scopes.items():
                self.scope_keys.prime(customer_id, keys)


def _kept(cache: ReadThrough, source: str, entity: str, by: str, key: str) -> Any:
    found = cache.peek(source, entity, by, key)
    return UNKNOWN if found is NOT_KEPT else found


async def _covered(
    covering: Mapping[tuple[str, str, str], list[_Cover]], path: tuple[str, str, str], keys: list[str]
) -> dict[str, list[Record]]:
    """What the covering reads of ``path`` (see :meth:`Loaders.cover`) answer of ``keys``."""
    found: dict[str, list[Record]] = {}
    for cover in covering.get(path, ()):
        if not cover.may_answer(keys):
            continue
        try:
            known = await asyncio.shield(cover.answers)
        except Exception:
            continue
        found.update((key, known[key]) for key in keys if key in known)
    return found


@dataclass(frozen=True)
class _IdentityReads:
    """The identity store's batch reads, aligned with their keys (the request's named loaders' functions)."""

    identity: IdentityStore

    async def links(self, customer_ids: list[int]) -> list[list[Link]]:
        found = await self.identity.links_of(customer_ids)
        return [found.get(customer_id, []) for customer_id in customer_ids]

    async def links_and_scope(
        self, scope_keys: BatchLoader[int, dict[str, frozenset[str]]], customer_ids: list[int]
    ) -> list[list[Link]]:
        found, scopes = await self.identity.links_and_scope_of(customer_ids)
        for customer_id in customer_ids:
            scope_keys.prime(customer_id, scopes.get(customer_id, {}))
        return [found.get(customer_id, []) for customer_id in customer_ids]

    async def customers(self, records: list[SourceRecord]) -> list[int | None]:
        found = await self.identity.customers_of("party", records)
        return [found.get(record) for record in records]

    async def scope_keys(self, customer_ids: list[int]) -> list[dict[str, frozenset[str]]]:
        found = await self.identity.scope_keys(customer_ids)
        return [found.get(customer_id, {}) for customer_id in customer_ids]

    async def survivors(self, customer_ids: list[int]) -> list[int | None]:
        found = await self.identity.survivors("customer", customer_ids)
        return [found.get(customer_id) for customer_id in customer_ids]

    async def person_links(self, records: list[SourceRecord]) -> list[list[Link]]:
        found = await identity_reads.person_links(self.identity, records)
        return [found.get(record, []) for record in records]

    async def review_candidates(self, ids: list[int]) -> list[ReviewCandidate | None]:
        found = await identity_reads.review_candidates(self.identity, ids)
        return [found.get(candidate_id) for candidate_id in ids]


@dataclass(frozen=True)
class _Cover:
    answers: asyncio.Future[dict[str, list[Record]]]
    keys_from: asyncio.Future[list[Record]]  # the records whose keys ``answers`` may hold

    def may_answer(self, keys: list[str]) -> bool:
        """False once it is known that none of ``keys`` is one this cover can answer."""
        keys_from = self.keys_from
        if not keys_from.done() or keys_from.cancelled() or keys_from.exception() is not None:
            return not keys_from.done()
        own = {record.source_id for record in keys_from.result()}
        return any(key in own for key in keys)
