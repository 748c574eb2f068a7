"""Links kept in the facade's memory stay exact: any change to them, made by any process, is seen by the
next read, and a change elsewhere in the store costs one trip to it, not the memory.

The stores are real SQLite files (and a PostgreSQL database, which is never remembered); the writers are
other connections and another process, as `crmgraph link` and a steward's tools are.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.engine import make_url

from crmgraph.identity.remembered_links import SETTLE_NS, RememberedLinks
from crmgraph.identity.store import IdentityStore, Link
from crmgraph.identity.tables import customers, links, match_keys, person_links, persons

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _seed(store: IdentityStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(customers), [{"id": n, "created_at": NOW} for n in (1, 2, 3)])
        conn.execute(insert(links), [
            {"customer_id": n, "source": source, "entity": "party", "source_id": f"{source}-{n}", "rule": "self",
             "confidence": 1.0, "linked_at": NOW}
            for n in (1, 2, 3) for source in ("crm", "erp")
        ])  # fmt: skip
        conn.execute(insert(persons), [{"id": 10, "customer_id": 1, "created_at": NOW}])
        conn.execute(insert(person_links), [
            {"person_id": 10, "source": "crm", "source_id": "c-10", "rule": "self", "confidence": 1.0,
             "linked_at": NOW}
        ])  # fmt: skip
        conn.execute(insert(match_keys), [{"customer_id": 1, "kind": "country", "value": "DE"}])


def _settle(path: Path) -> None:
    """Date the store's files a second back: a look then trusts them, as it would once SETTLE_NS have passed
    (their last write was then a second ago, and no two writes look alike)."""
    past = time.time_ns() - 1_000_000_000
    for name in (path, Path(f"{path}-wal")):
        if name.exists():
            os.utime(name, ns=(past, past))


class Statements:
    """Every SQL statement a store's engine sends."""

    def __init__(self, store: IdentityStore) -> None:
        self.sent: list[str] = []
        event.listen(store.engine, "before_cursor_execute", self._sent)

    def _sent(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.sent.append(statement)

    def take(self) -> list[str]:
        sent, self.sent = self.sent, []
        return sent


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "identity.sqlite"


@pytest.fixture
def store(path: Path) -> Iterator[IdentityStore]:
    found = IdentityStore(f"sqlite:///{path}", remember=100)
    found.create()
    _seed(found)
    yield found
    found.close()


def _sources(found: dict[int, list[Link]]) -> dict[int, list[str]]:
    return {customer: [f"{link.source}:{link.source_id}" for link in kept] for customer, kept in found.items()}


def test_links_read_once_are_answered_from_memory_until_the_store_changes(store: IdentityStore, path: Path) -> None:
    sent = Statements(store)
    first = asyncio.run(store.links_of([1, 2]))
    assert sent.take(), "the first read goes to the store"
    _settle(path)
    assert asyncio.run(store.links_of([1, 2])) == {1: first[1], 2: first[2]}  # the look is taken now: trusted
    assert sent.take(), "a look taken before the store's files settled stands for nothing: read again"
    assert asyncio.run(store.links_of([2, 1])) == first
    assert asyncio.run(store.links_of([1])) == {1: first[1]}
    assert sent.take() == []
    assert _sources(asyncio.run(store.links_of([3]))) == {3: ["crm:crm-3", "erp:erp-3"]}
    assert sent.take(), "a customer not yet remembered is read from the store"


@pytest.mark.parametrize(
    "change",
    [
        "DELETE FROM crmgraph_links WHERE source_id = 'erp-1'",
        "UPDATE crmgraph_links SET customer_id = 2 WHERE source_id = 'erp-1'",
        "UPDATE crmgraph_persons SET customer_id = 2 WHERE id = 10",
        "DELETE FROM crmgraph_person_links WHERE source_id = 'c-10'",
    ],
)
def test_a_change_another_process_makes_is_seen_by_the_next_read(store: IdentityStore, path: Path, change: str) -> None:
    before = asyncio.run(store.links_of([1, 2]))
    _settle(path)
    asyncio.run(store.links_of([1, 2]))  # remembered, and the files trusted
    writer = f"import sqlite3; c = sqlite3.connect({str(path)!r}); c.execute({change!r}); c.commit()"
    subprocess.run([sys.executable, "-c", writer], check=True)
    _settle(path)  # even a settled look at the changed files finds them changed
    after = asyncio.run(store.links_of([1, 2]))
    uncached = IdentityStore(f"sqlite:///{path}")
    try:
        assert after == asyncio.run(uncached.links_of([1, 2]))
    finally:
        uncached.close()
    assert after != before


def test_a_write_to_the_store_that_leaves_the_links_alone_keeps_the_memory(store: IdentityStore, path: Path) -> None:
    sent = Statements(store)
    asyncio.run(store.links_of([1, 2]))
    _settle(path)
    asyncio.run(store.links_of([1, 2]))
    with sqlite3.connect(path) as other:  # as the audit trail writes, twice a second
        other.execute("CREATE TABLE IF NOT EXISTS unrelated (n INTEGER)")
        other.execute("INSERT INTO unrelated VALUES (1)")
    _settle(path)
    sent.take()
    asyncio.run(store.links_of([1, 2]))
    assert [s for s in sent.take() if "crmgraph_links" in s and "generation" not in s] == [], (
        "the generation is read, and it says the remembered links still hold"
    )
    asyncio.run(store.links_of([1, 2]))
    assert sent.take() == []


def test_every_change_to_a_watched_table_counts_a_generation(store: IdentityStore, path: Path) -> None:
    def generation() -> int:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("SELECT generation FROM crmgraph_links_generation").fetchone()[0])

    changes = [
        "INSERT INTO crmgraph_customers VALUES (4, '2026-12-01')",
        "UPDATE crmgraph_customers SET created_at = '2026-12-02' WHERE id = 4",
        "DELETE FROM crmgraph_customers WHERE id = 4",
        "INSERT INTO crmgraph_links VALUES (3, 'tickets', 'party', 't-3', 'model', 0.9, '2026-12-01')",
        "UPDATE crmgraph_links SET confidence = 0.8 WHERE source_id = 't-3'",
        "DELETE FROM crmgraph_links WHERE source_id = 't-3'",
        "INSERT INTO crmgraph_persons VALUES (11, 2, '2026-12-01')",
        "UPDATE crmgraph_persons SET customer_id = 3 WHERE id = 11",
        "INSERT INTO crmgraph_person_links VALUES (11, 'crm', 'c-11', 'self', 1.0, '2026-12-01')",
        "UPDATE crmgraph_person_links SET rule = 'steward' WHERE source_id = 'c-11'",
        "DELETE FROM crmgraph_person_links WHERE source_id = 'c-11'",
        "DELETE FROM crmgraph_persons WHERE id = 11",
        "INSERT INTO crmgraph_match_keys VALUES (2, 'owner_id', 'o-7')",
        "UPDATE crmgraph_match_keys SET value = 'o-8' WHERE customer_id = 2",
        "DELETE FROM crmgraph_match_keys WHERE customer_id = 2",
    ]
    for change in changes:
        before = generation()
        with sqlite3.connect(path) as conn:
            conn.execute(change)
        assert generation() == before + 1, change
    store.create()  # creating the tables again keeps the count and its triggers (no duplicates)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM crmgraph_match_keys")
    assert generation() == before + 2


def test_scope_keys_are_remembered_and_forgotten_like_links(store: IdentityStore, path: Path) -> None:
    sent = Statements(store)
    asyncio.run(store.links_and_scope_of([1, 2]))
    _settle(path)
    links_before, scopes = asyncio.run(store.links_and_scope_of([1, 2]))
    assert scopes[1] == {"country": frozenset({"DE"})} and scopes.get(2, {}) == {}
    sent.take()
    assert asyncio.run(store.links_and_scope_of([1, 2])) == (links_before, scopes)
    assert asyncio.run(store.scope_keys([1])) == {1: {"country": frozenset({"DE"})}}
    assert sent.take() == []
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE crmgraph_match_keys SET value = 'FR' WHERE customer_id = 1")
    assert asyncio.run(store.scope_keys([1])) == {1: {"country": frozenset({"FR"})}}


def test_a_page_takes_its_rows_links_from_memory(store: IdentityStore, path: Path) -> None:
    sent = Statements(store)
    ids, _, first_links, _ = asyncio.run(store.page_with_links(after=None, first=2, search=None))
    assert ids == [1, 2] and any("crmgraph_links" in s for s in sent.take())
    ids, _, again, _ = asyncio.run(store.page_with_links(after=None, first=3, search=None))
    assert ids == [1, 2, 3] and _sources(again)[3] == ["crm:crm-3", "erp:erp-3"]
    assert {k: v for k, v in again.items() if k != 3} == first_links
    statements = sent.take()
    assert any("IN (?)" in s or "IN (?" in s for s in statements if "crmgraph_links.customer_id" in s)
    ids, _, third, _ = asyncio.run(store.page_with_links(after=None, first=3, search=None))
    assert third == again
    assert not any("crmgraph_links.customer_id" in s for s in sent.take()), "the page read alone"


def test_a_directory_page_is_answered_from_memory_until_a_customer_comes_or_goes(
    store: IdentityStore, path: Path
) -> None:
    sent = Statements(store)
    first = asyncio.run(store.page_with_links(after=None, first=2, search=None))
    _settle(path)
    assert asyncio.run(store.page_with_links(after=None, first=2, search=None)) == first
    assert sent.take(), "a look taken before the store's files settled stands for nothing: read again"
    ids, more, found, scopes = asyncio.run(store.page_with_links(after=None, first=2, search=None))
    assert (ids, more, found, scopes) == first and ids == [1, 2] and more
    assert asyncio.run(store.page_with_links(after=2, first=2, search=None))[:2] == ([3], False)
    _settle(path)
    asyncio.run(store.page_with_links(after=2, first=2, search=None))
    sent.take()
    assert asyncio.run(store.page_with_links(after=2, first=2, search=None))[:2] == ([3], False)
    assert sent.take() == [], "both pages and their links from memory: no statement"
    found[1].clear()  # what memory answers is a copy
    assert asyncio.run(store.page_with_links(after=None, first=2, search=None))[2] == first[2]

    with sqlite3.connect(path) as conn:  # another process links a new customer
        conn.execute("INSERT INTO crmgraph_customers VALUES (4, '2026-12-01')")
    _settle(path)
    # The first page, read again after the commit, trusts the store's files anew; the second page, kept from
    # before, must not be answered from memory: the generation the read found tells that customers changed.
    assert asyncio.run(store.page_with_links(after=None, first=2, search=None))[:2] == ([1, 2], True)
    assert asyncio.run(store.page_with_links(after=2, first=2, search=None))[:2] == ([3, 4], False)
    _settle(path)
    asyncio.run(store.page_with_links(after=None, first=2, search=None))
    with sqlite3.connect(path) as conn:  # a merge absorbs customer 2
        conn.execute("UPDATE crmgraph_links SET customer_id = 1 WHERE customer_id = 2")
        conn.execute("DELETE FROM crmgraph_customers WHERE id = 2")
    ids, more, found, _ = asyncio.run(store.page_with_links(after=None, first=2, search=None))
    assert ids == [1, 3] and more
    assert sorted(_sources(found)[1]) == ["crm:c-10", "crm:crm-1", "crm:crm-2", "erp:erp-1", "erp:erp-2"]


def test_a_searched_page_is_read_every_time(store: IdentityStore, path: Path) -> None:
    sent = Statements(store)
    for _ in range(3):
        assert asyncio.run(store.page_with_links(after=None, first=5, search="crm-1"))[0] == []
        _settle(path)
    assert sum("crmgraph_match_keys" in s for s in sent.take()) == 3, "a search reads other tables: never kept"


def test_memory_holds_at_most_its_capacity(path: Path) -> None:
    store = IdentityStore(f"sqlite:///{path}", remember=2)
    store.create()
    _seed(store)
    try:
        sent = Statements(store)
        asyncio.run(store.links_of([1, 2, 3]))
        _settle(path)
        asyncio.run(store.links_of([3]))
        sent.take()
        asyncio.run(store.links_of([2, 3]))
        assert sent.take() == []
        asyncio.run(store.links_of([1]))
        assert sent.take(), "the customer remembered first was forgotten"
    finally:
        store.close()


def test_another_store_in_the_same_place_is_not_answered_from_memory(store: IdentityStore, path: Path) -> None:
    asyncio.run(store.links_of([1]))
    _settle(path)
    asyncio.run(store.links_of([1]))
    other = path.with_name("other.sqlite")
    replacement = IdentityStore(f"sqlite:///{other}")
    replacement.create()
    with replacement.engine.begin() as conn:
        conn.execute(insert(customers), [{"id": 1, "created_at": NOW}])
    replacement.close()
    os.replace(other, path)  # a store restored from a backup, with the same generation count
    store.engine.dispose()  # its connections open the new file
    _settle(path)
    assert asyncio.run(store.links_of([1])) == {}


def test_a_look_at_files_just_written_is_not_trusted(store: IdentityStore, path: Path) -> None:
    memory = store.remembered
    _settle(path)
    assert memory.look().files is not None
    recent = os.stat(path).st_mtime_ns + 10**18  # now, as far as the look can tell
    os.utime(path, ns=(recent, recent))
    assert memory.look().files is None
    assert SETTLE_NS >= 10_000_000  # well above a file system's timestamp grain


def test_a_read_finishing_after_a_newer_one_is_not_remembered(store: IdentityStore, path: Path) -> None:
    memory = store.remembered
    _settle(path)
    look = memory.look()
    old = Link(1, "crm", "party", "gone", "self", 1.0)
    memory.absorb(look, 5, {1: [Link(1, "crm", "party", "crm-1", "self", 1.0)]})
    memory.absorb(look, 4, {1: [old]})
    assert memory.links([1], look) == {1: [Link(1, "crm", "party", "crm-1", "self", 1.0)]}
    memory.absorb(look, 6, {2: []})
    assert memory.links([1], look) is None, "a newer generation forgets what the older one read"


def _read_every_time(store: IdentityStore, path: Path | None = None) -> None:
    """Seed ``store``, then read a customer's links twice: both reads go to the store, and no generation is
    read (nothing is remembered)."""
    store.create()
    _seed(store)
    try:
        assert not store.remembered.active
        sent = Statements(store)
        for _ in range(2):
            assert _sources(asyncio.run(store.links_of([1])))[1] == ["crm:crm-1", "erp:erp-1", "crm:c-10"]
            if path is not None:
                _settle(path)
            statements = sent.take()
            assert any("crmgraph_links" in s for s in statements)
            assert not any("generation" in s for s in statements), "no generation read when nothing is kept"
    finally:
        store.close()


def test_nothing_is_remembered_with_capacity_zero_or_without_a_file(path: Path) -> None:
    _read_every_time(IdentityStore(f"sqlite:///{path}", remember=0), path)
    for url in ("sqlite://", "sqlite:///:memory:"):
        assert not RememberedLinks(create_engine(url), 100).active


@pytest.mark.services
def test_a_postgresql_store_is_read_every_time(postgres_url: str) -> None:
    schema = f"remembered_{uuid.uuid4().hex[:12]}"  # a schema of its own: no other test's tables are touched
    server = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        _read_every_time(IdentityStore(scoped.render_as_string(hide_password=False), remember=100))
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        server.dispose()


def test_remembered_links_are_copies(store: IdentityStore, path: Path) -> None:
    asyncio.run(store.links_of([1]))
    _settle(path)
    asyncio.run(store.links_of([1]))
    asyncio.run(store.links_of([1]))[1].clear()  # a caller's list is its own
    assert len(asyncio.run(store.links_of([1]))[1]) == 3
    assert isinstance(store.remembered, RememberedLinks)
