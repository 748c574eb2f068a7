"""The identity store: golden customer ids, their links to source records, and match keys.

SQLite by default, PostgreSQL (or any SQLAlchemy database) by URL. Request-time reads are batched: one
statement answers many customers (or many source records), and they run in worker threads so the event
loop never waits on the database.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    create_engine,
    false,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import make_url
from sqlalchemy.sql.elements import BindParameter

from crmgraph.adapters.sdk.calls import upstream_call
from crmgraph.identity import normalize as norm
from crmgraph.identity.remembered_links import RememberedLinks
from crmgraph.identity.tables import aliases, customers, links, match_keys, metadata, person_links, persons
from crmgraph.sqlite_memory import limit_page_cache

T = TypeVar("T")
V = TypeVar("V")
ScopesOf = dict[int, dict[str, frozenset[str]]]  # scope keys by customer

SourceRecord = tuple[str, str]  # (source, source_id)

# Match keys of these kinds are what ``customers(search:)`` looks through; the scope kinds are what a row
# scope tests (every owner and country a customer's records name, kept at link time).
SEARCH_KINDS = ("name", "domain", "tax_id", "email")
SCOPE_KINDS = ("owner_id", "country")
# A row scope as the store applies it: customers that satisfy any one of the clauses, each clause naming,
# per field, the values one of which the customer must have ("customer_id" tests the golden id itself).
# None: every customer; an empty sequence: none.
ScopeClause = Mapping[str, frozenset[str]]
Scope = Sequence[ScopeClause]

# Every GraphQL request starts with this read: built once, compiled once (the ids are an expanding parameter).
# A customer's own records and the records of the people who work for it, in one statement.
_CUSTOMER_IDS: BindParameter[int] = bindparam("customer_ids", expanding=True)
_LINKS_OF_CUSTOMERS = union_all(
    select(
        links.c.customer_id, links.c.source, links.c.entity, links.c.source_id, links.c.rule, links.c.confidence,
        null().label("person_id"),
    ).where(links.c.customer_id.in_(_CUSTOMER_IDS)),
    select(
        persons.c.customer_id, person_links.c.source, literal("person").label("entity"), person_links.c.source_id,
        person_links.c.rule, person_links.c.confidence, person_links.c.person_id,
    )
    .join(persons, persons.c.id == person_links.c.person_id)
    .where(persons.c.customer_id.in_(_CUSTOMER_IDS)),
)  # fmt: skip

# Built once like the links' statement: a scoped principal reads it beside them on every request.
_SCOPE_KEYS_OF_CUSTOMERS = select(match_keys.c.customer_id, match_keys.c.kind, match_keys.c.value).where(
    match_keys.c.customer_id.in_(_CUSTOMER_IDS), match_keys.c.kind.in_(SCOPE_KINDS)
)


@dataclass(frozen=True)
class Link:
    """A source record of a customer: one of its own (``entity`` party) or of a person working for it."""

    customer_id: int
    source: str
    entity: str  # "party", or "person" with ``person_id`` the golden person the record belongs to
    source_id: str
    rule: str  # how it was linked: self, xref, model, steward
    confidence: float
    person_id: int | None = None


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    limit_page_cache(engine)
    return engine


class IdentityStore:
    SOURCE = "identity"  # how the store appears in the upstream call log

    def __init__(self, url: str, remember: int = 0) -> None:
        """``remember``: how many customers' links (and scope keys) to keep in memory, exact across
        processes (:mod:`crmgraph.identity.remembered_links`); SQLite stores only, 0 for none."""
        self.url = url
        self.engine = _engine(url)
        self.remembered = RememberedLinks(self.engine, remember)

    def create(self) -> None:
        metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            RememberedLinks.install(conn)

    def close(self) -> None:
        self.engine.dispose()

    # --- request-time reads (async, batched) ---------------------------------------------------------

    async def links_of(self, customer_ids: Sequence[int]) -> dict[int, list[Link]]:
        """The source records of many customers, in one statement (none when all are remembered)."""
        ids = list(customer_ids)
        look = self.remembered.look()
        known = self.remembered.links(ids, look)
        if known is not None:
            return known
        generation, found, _ = await asyncio.to_thread(self._read_links, ids, False)
        self.remembered.absorb(look, generation, _every(ids, found, ()))
        return found

    def _read_links(
        self, customer_ids: list[int], with_scope: bool
    ) -> tuple[int | None, dict[int, list[Link]], dict[int, dict[str, frozenset[str]]]]:
        """The store's generation, then the customers' links (and scope keys): what the memory labels."""
        with self.engine.connect() as conn:
            generation = self.remembered.generation(conn)
            found, _ = self._links_known_or_read(conn, generation, customer_ids)
            scopes = self._scope_keys_in(conn, customer_ids) if with_scope else {}
        return generation, found, scopes

    def _links_known_or_read(
        self, conn: Connection, generation: int | None, customer_ids: list[int]
    ) -> tuple[dict[int, list[Link]], list[int]]:
        """The customers' links, and those of them that were read: links remembered under ``generation`` are
        not read again (after a commit elsewhere in the store, the audit trail's, the generation alone tells
        that they still hold)."""
        found = self.remembered.links_at(generation, customer_ids)
        unknown = [customer_id for customer_id in customer_ids if customer_id not in found]
        if unknown:
            found.update(self._links_in(conn, unknown))
        return found, unknown

    def _links_in(self, conn: Connection, customer_ids: list[int]) -> dict[int, list[Link]]:
        found: defaultdict[int, list[Link]] = defaultdict(list)
        with upstream_call(self.SOURCE, "SELECT links by customer"):
            rows = conn.execute(_LINKS_OF_CUSTOMERS, {"customer_ids": customer_ids}).all()
        # Every request reads a page's links (hundreds of rows): rows are taken as tuples in the statement's
        # column order, which is Link's field order, and not as mappings (a key view built per row).
        for row in sorted(rows, key=_LINK_ORDER):
            found[row[0]].append(Link(*row))
        return dict(found)

    async def links_and_scope_of(
        self, customer_ids: Sequence[int]
    ) -> tuple[dict[int, list[Link]], dict[int, dict[str, frozenset[str]]]]:
        """:meth:`links_of` and :meth:`scope_keys` in one trip to a worker thread (a scoped principal needs
        both for every customer it reaches)."""
        ids = list(customer_ids)
        look = self.remembered.look()
        known, known_scopes = self.remembered.links(ids, look), self.remembered.scopes(ids, look)
        if known is not None and known_scopes is not None:
            return known, known_scopes
        generation, found, scopes = await asyncio.to_thread(self._read_links, ids, True)
        self.remembered.absorb(look, generation, _every(ids, found, ()), _every(ids, scopes, {}))
        return found, scopes

    async def customers_of(self, entity: str, records: Sequence[SourceRecord]) -> dict[SourceRecord, int]:
        """The customer of each source record (``entity`` is ``party``), one statement per source."""
        return await asyncio.to_thread(self._customers_of, entity, list(records))

    def _customers_of(self, entity: str, records: list[SourceRecord]) -> dict[SourceRecord, int]:
        by_source: defaultdict[str, list[str]] = defaultdict(list)
        for source, source_id in records:
            by_source[source].append(source_id)
        found: dict[SourceRecord, int] = {}
        with self.engine.connect() as conn:
            for source, ids in by_source.items():
                query = select(links.c.source_id, links.c.customer_id).where(
                    links.c.source == source, links.c.entity == entity, links.c.source_id.in_(ids)
                )
                with upstream_call(self.SOURCE, "SELECT customer by link"):
                    found.update({(source, row.source_id): row.customer_id for row in conn.execute(query)})
        return found

    async def existing(self, customer_ids: Sequence[int]) -> set[int]:
        return await asyncio.to_thread(self._existing, list(customer_ids))

    def _existing(self, customer_ids: list[int]) -> set[int]:
        with upstream_call(self.SOURCE, "SELECT customers"), self.engine.connect() as conn:
            return set(conn.scalars(select(customers.c.id).where(customers.c.id.in_(customer_ids))))

    async def page(
        self, *, after: int | None, first: int, search: str | None, scope: Scope | None = None
    ) -> tuple[list[int], bool]:
        """Customer ids in id order after ``after``; ``search`` matches names, domains, tax ids, e-mails;
        ``scope`` keeps the customers a row scope admits."""
        return await asyncio.to_thread(self._page, after, first, search, scope)

    async def page_with_links(
        self, *, after: int | None, first: int, search: str | None, scope: Scope | None = None, with_scope: bool = False
    ) -> tuple[list[int], bool, dict[int, list[Link]], dict[int, dict[str, frozenset[str]]]]:
        """:meth:`page`, and the links of its customers (with ``with_scope``, their scope keys too) in the same
        trip to a worker thread: a list page reads them right after its ids. The unfiltered directory's pages
        are remembered with the links (:mod:`crmgraph.identity.remembered_links`): no trip at all then."""
        directory = not search and scope is None  # a page of the customers table alone
        look = self.remembered.look()
        if directory:
            kept = self.remembered.page(after, first, look)
            if kept is not None:
                kept_ids, kept_more = kept
                kept_links = self.remembered.links(kept_ids, look)
                kept_scopes = self.remembered.scopes(kept_ids, look) if with_scope else {}
                if kept_links is not None and kept_scopes is not None:
                    return kept_ids, kept_more, kept_links, kept_scopes

        def read() -> tuple[int | None, list[int], bool, dict[int, list[Link]], list[int], ScopesOf]:
            with self.engine.connect() as conn:
                generation = self.remembered.generation(conn)
                ids, more = self._page_in(conn, after, first, search, scope)
                if not ids:
                    return generation, ids, more, {}, [], {}
                found, unknown = self._links_known_or_read(conn, generation, ids)  # the rows are often known
                return generation, ids, more, found, unknown, self._scope_keys_in(conn, ids) if with_scope else {}

        generation, ids, more, found, unknown, scopes = await asyncio.to_thread(read)
        self.remembered.absorb(
            look, generation, _every(unknown, found, ()), _every(ids, scopes, {}) if with_scope else None,
            ((after, first), ids, more) if directory else None,
        )  # fmt: skip
        return ids, more, found, scopes

    def _page(self, after: int | None, first: int, search: str | None, scope: Scope | None) -> tuple[list[int], bool]:
        with self.engine.connect() as conn:
            return self._page_in(conn, after, first, search, scope)

    def _page_in(
        self, conn: Connection, after: int | None, first: int, search: str | None, scope: Scope | None
    ) -> tuple[list[int], bool]:
        query = select(customers.c.id).order_by(customers.c.id).limit(first + 1)
        if after is not None:
            query = query.where(customers.c.id > after)
        if search:
            query = query.where(customers.c.id.in_(self._matching(search)))
        if scope is not None:
            query = query.where(self._admitted(scope))
        with upstream_call(self.SOURCE, "SELECT customer page"):
            ids = list(conn.scalars(query))
        return ids[:first], len(ids) > first

    async def count(self, search: str | None = None, scope: Scope | None = None) -> int:
        return await asyncio.to_thread(self._count, search, scope)

    def _count(self, search: str | None, scope: Scope | None) -> int:
        query = select(func.count()).select_from(customers)
        if search:
            query = query.where(customers.c.id.in_(self._matching(search)))
        if scope is not None:
            query = query.where(self._admitted(scope))
        with upstream_call(self.SOURCE, "SELECT customer count"), self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    @staticmethod
    def _admitted(scope: Scope) -> Any:
        """The customers a row scope admits, as a condition on ``customers.id``."""
        clauses = []
        for clause in scope:
            tests = []
            for field, values in sorted(clause.items()):
                if field == "customer_id":
                    tests.append(customers.c.id.in_(sorted(int(v) for v in values if v.isdigit())))
                else:
                    holding = select(match_keys.c.customer_id).where(
                        match_keys.c.kind == field, match_keys.c.value.in_(sorted(values))
                    )
                    tests.append(customers.c.id.in_(holding))
            clauses.append(and_(*tests) if tests else customers.c.id.isnot(None))
        return or_(*clauses) if clauses else false()

    async def scope_keys(self, customer_ids: Sequence[int]) -> dict[int, dict[str, frozenset[str]]]:
        """For each customer: the values a row scope tests (owners, countries), by kind."""
        ids = list(customer_ids)
        look = self.remembered.look()
        known = self.remembered.scopes(ids, look)
        if known is not None:
            return known

        def read() -> tuple[int | None, ScopesOf]:
            with self.engine.connect() as conn:
                return self.remembered.generation(conn), self._scope_keys_in(conn, ids)

        generation, found = await asyncio.to_thread(read)
        self.remembered.absorb(look, generation, found_scopes=_every(ids, found, {}))
        return found

    def _scope_keys_in(self, conn: Connection, customer_ids: list[int]) -> dict[int, dict[str, frozenset[str]]]:
        found: dict[int, dict[str, set[str]]] = {}
        with upstream_call(self.SOURCE, "SELECT scope keys"):
            for customer_id, kind, value in conn.execute(_SCOPE_KEYS_OF_CUSTOMERS, {"customer_ids": customer_ids}):
                found.setdefault(customer_id, {}).setdefault(kind, set()).add(value)
        return {cid: {kind: frozenset(values) for kind, values in kinds.items()} for cid, kinds in found.items()}

    @staticmethod
    def _matching(search: str) -> Any:
        # Keys are kept lower-case: names folded like the matcher folds them ("Co." is "co"), domains and
        # e-mail addresses as written (with their dots). The term is tried both ways. It is matched as
        # written: LIKE's wildcards (% and _) and the escape character in it are escaped, so that "%" finds
        # the keys holding a "%", not every key, on SQLite and PostgreSQL alike.
        terms = ({normalize(search), norm.fold(search) or ""} - {""}) or {""}
        return select(match_keys.c.customer_id).where(
            match_keys.c.kind.in_(SEARCH_KINDS), or_(*(match_keys.c.value.contains(t, autoescape=True) for t in terms))
        )

    def golden_of_records(self) -> tuple[dict[SourceRecord, int], dict[SourceRecord, int]]:
        """Every linked record's golden id: (party records -> customer, person records -> person)."""
        with self.engine.connect() as conn:
            parties = conn.execute(
                select(links.c.source, links.c.source_id, links.c.customer_id).where(links.c.entity == "party")
            )
            companies = {(row.source, row.source_id): row.customer_id for row in parties}
            people = conn.execute(select(person_links.c.source, person_links.c.source_id, person_links.c.person_id))
            return companies, {(row.source, row.source_id): row.person_id for row in people}

    def customers_of_person_records(self) -> dict[SourceRecord, int | None]:
        """Every linked person record's customer: the one its golden person is filed under (None if none)."""
        query = select(person_links.c.source, person_links.c.source_id, persons.c.customer_id).join(
            persons, persons.c.id == person_links.c.person_id
        )
        with self.engine.connect() as conn:
            return {(row.source, row.source_id): row.customer_id for row in conn.execute(query)}

    async def survivors(self, kind: str, ids: Sequence[int]) -> dict[int, int]:
        """For ids a merge absorbed: the id that absorbed them (``kind`` customer or person)."""
        return await asyncio.to_thread(self._survivors, kind, list(ids))

    def _survivors(self, kind: str, ids: list[int]) -> dict[int, int]:
        query = select(aliases.c.old_id, aliases.c.survivor_id).where(aliases.c.kind == kind, aliases.c.old_id.in_(ids))
        with upstream_call(self.SOURCE, "SELECT aliases"), self.engine.connect() as conn:
            return {row.old_id: row.survivor_id for row in conn.execute(query)}


# A customer's links in a stable order: by customer, entity, source and source id (the statement's columns
# 0, 2, 1 and 3).
_LINK_ORDER = itemgetter(0, 2, 1, 3)


def _every(ids: Iterable[int], found: Mapping[int, V], nothing: V) -> dict[int, V]:
    """``found`` for each of ``ids``, ``nothing`` for those it leaves out: a customer without links is
    remembered as having none."""
    return {customer_id: found.get(customer_id, nothing) for customer_id in ids}


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def normalize(text: str) -> str:
    """Lower case, single spaces, no surrounding blanks: what search and match keys compare."""
    return " ".join(text.lower().split())
