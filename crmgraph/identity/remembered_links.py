"""Customers' links, scope keys and directory pages kept in the facade's memory, exact, for a SQLite
identity store.

Every GraphQL request starts by reading its customers' links, and a warm customer 360 otherwise spends a
sixth of its time on that read's trip to a worker thread; a list page also reads which customers it shows
(the directory's page: ids in id order, from the customers table alone). Links and customers change
rarely (a `crmgraph link` run, a steward's decision, a change feed) but they may change in any process
that opens the store, and a read must never answer with a link or a customer that is gone. So what is
remembered is labelled with a generation:

- triggers on the tables the reads use (customers, links, persons, person links, match keys) count every
  change in ``crmgraph_links_generation``, in the writer's own transaction, whoever the writer is;
- every read from the store reads the generation first, then the rows; what it read is remembered under
  that generation, and the memory is emptied when a read sees a newer one;
- before answering from memory, a request looks at the store's files (``os.stat``, a few microseconds, no
  lock). They are unchanged since a read that found the memory's generation: nothing has been committed
  since, so no link has changed. Any commit (the audit trail's too) changes them: the next read then goes
  to the store, which tells whether the links changed.

A file's modification time may be kept at a coarse grain by the file system, so two commits within one
tick could leave it looking unchanged; a look at files modified within the last :data:`SETTLE_NS` is not
trusted to stand for them. Only a SQLite file can be looked at like this: with another database every
read goes to the store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, select, text

from crmgraph.identity.tables import customers, links, links_generation, match_keys, person_links, persons

if TYPE_CHECKING:
    from crmgraph.identity.store import Link

# A look at files modified this recently stands for nothing: a later commit within the file system's
# timestamp grain (a few milliseconds) could leave them looking the same.
SETTLE_NS = 50_000_000

# Directory pages remembered at most (each up to the largest page size in ids): a page is one per position
# and size, and clients mostly ask the first few.
PAGES = 1_000

_WATCHED = (customers.name, links.name, persons.name, person_links.name, match_keys.name)
_GENERATION = select(links_generation.c.generation).where(links_generation.c.id == 1)

K = TypeVar("K")
C = TypeVar("C")
ScopeKeys = dict[str, frozenset[str]]
PageKey = tuple[int | None, int]  # after which customer id, how many
FileState = tuple[int, int, int, int]  # device, inode, size, modification time (ns)


@dataclass(frozen=True)
class Look:
    """The store's files as a request found them before reading: ``files`` is None when they may not be
    trusted to show a later change (modified too recently, or not a file at all)."""

    files: tuple[FileState | None, ...] | None
    store: tuple[int, int] | None  # device and inode of the database file: another file is another store


@dataclass
class _Memory:
    """What is remembered, all of one generation; replaced whole (a worker thread may be reading it)."""

    generation: int
    store: tuple[int, int] | None
    links: dict[int, tuple[Link, ...]] = field(default_factory=dict)
    scopes: dict[int, ScopeKeys] = field(default_factory=dict)
    pages: dict[PageKey, tuple[tuple[int, ...], bool]] = field(default_factory=dict)  # ids, and whether more follow


class RememberedLinks:
    """The memory of one identity store. ``capacity`` customers at most (0: nothing is remembered)."""

    def __init__(self, engine: Engine, capacity: int) -> None:
        self.capacity = capacity
        self._paths = _files_of(engine) if capacity > 0 else ()
        self._memory: _Memory | None = None
        self._trusted: tuple[FileState | None, ...] | None = None  # the files as the memory's generation saw them

    @property
    def active(self) -> bool:
        return bool(self._paths)

    # --- the store's side ---------------------------------------------------------------------------------

    @staticmethod
    def install(conn: Connection) -> None:
        """The generation row and the triggers that count changes, in a SQLite store (the only kind whose
        links are remembered). Idempotent: run whenever the store's tables are created."""
        if conn.dialect.name != "sqlite":
            return
        conn.execute(text(f"INSERT OR IGNORE INTO {links_generation.name} (id, generation) VALUES (1, 0)"))
        for table in _WATCHED:
            for change in ("INSERT", "UPDATE", "DELETE"):
                conn.execute(text(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_counted_{change.lower()} AFTER {change} ON {table} "
                    f"BEGIN UPDATE {links_generation.name} SET generation = generation + 1 WHERE id = 1; END"
                ))  # fmt: skip

    def generation(self, conn: Connection) -> int | None:
        """The store's generation, read before the rows it labels; None when nothing is remembered (or the
        store has no generation row: a store created by an older release until the facade creates it)."""
        if not self._paths:
            return None
        value = conn.execute(_GENERATION).scalar()
        return int(value) if value is not None else None

    # --- the request's side (the event loop) --------------------------------------------------------------

    def look(self) -> Look:
        """The store's files now: taken before a read, and before answering from memory."""
        if not self._paths:
            return Look(None, None)
        now = time.time_ns()
        states: list[FileState | None] = []
        for path in self._paths:
            try:
                found = os.stat(path)
            except OSError:  # a write-ahead log that is not there (yet)
                states.append(None)
                continue
            states.append((found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns))
        database = states[0]
        store = (database[0], database[1]) if database is not None else None
        settled = all(state is None or now - state[3] > SETTLE_NS for state in states)
        return Look(tuple(states) if settled and database is not None else None, store)

    def links(self, customer_ids: Iterable[int], look: Look) -> dict[int, list[Link]] | None:
        """Every one of the customers' links, if all are remembered and nothing changed since; else None."""
        memory = self._current(look)
        if memory is None:
            return None
        return _every_kept(memory.links, customer_ids, list)

    def scopes(self, customer_ids: Iterable[int], look: Look) -> dict[int, ScopeKeys] | None:
        """Every one of the customers' scope keys, like :meth:`links`."""
        memory = self._current(look)
        if memory is None:
            return None
        return _every_kept(memory.scopes, customer_ids, dict)

    def page(self, after: int | None, first: int, look: Look) -> tuple[list[int], bool] | None:
        """The directory's page (customer ids in id order after ``after``, ``first`` of them, and whether more
        follow), if remembered and nothing changed since; else None. Only the unfiltered directory is kept:
        a search or a row scope reads other tables."""
        memory = self._current(look)
        kept = memory.pages.get((after, first)) if memory is not None else None
        return (list(kept[0]), kept[1]) if kept is not None else None

    def links_at(self, generation: int | None, customer_ids: Iterable[int]) -> dict[int, list[Link]]:
        """The customers' links remembered under ``generation`` (read in this trip to the store): safe from a
        worker thread, and whatever the files look like, as the generation itself says nothing changed."""
        memory = self._memory
        if generation is None or memory is None or memory.generation != generation:
            return {}
        known = memory.links  # the event loop may add to it meanwhile, or forget a customer: one get() each
        found: dict[int, list[Link]] = {}
        for customer_id in customer_ids:
            kept = known.get(customer_id)
            if kept is not None:
                found[customer_id] = list(kept)
        return found

    def absorb(
        self,
        look: Look,
        generation: int | None,
        found_links: Mapping[int, Sequence[Link]] | None = None,
        found_scopes: Mapping[int, ScopeKeys] | None = None,
        found_page: tuple[PageKey, Sequence[int], bool] | None = None,
    ) -> None:
        """Remember what a read found under ``generation`` (read before the rows), ``look`` taken before it.
        Customers asked and not found are in the mappings too, with nothing."""
        if generation is None:
            return
        memory = self._memory
        if memory is not None and memory.store == look.store and generation < memory.generation:
            return  # an older read finishing late: what it found may be gone already
        if memory is None or memory.store != look.store or memory.generation != generation:
            memory = self._memory = _Memory(generation, look.store)
            self._trusted = None
        if look.files is not None:
            self._trusted = look.files
        if found_links is not None:
            memory.links.update((customer_id, tuple(found)) for customer_id, found in found_links.items())
            _bound(memory.links, self.capacity)
        if found_scopes is not None:
            memory.scopes.update(found_scopes)
            _bound(memory.scopes, self.capacity)
        if found_page is not None:
            key, ids, more = found_page
            memory.pages[key] = (tuple(ids), more)
            _bound(memory.pages, PAGES)

    def _current(self, look: Look) -> _Memory | None:
        if look.files is None or look.files != self._trusted:
            return None
        memory = self._memory
        return memory if memory is not None and memory.store == look.store else None


def _every_kept(known: Mapping[int, K], customer_ids: Iterable[int], copy: Callable[[K], C]) -> dict[int, C] | None:
    """Each customer's entry (a copy), if every one is kept; None else. A customer kept with nothing is left out,
    as the store's read leaves it out."""
    found: dict[int, C] = {}
    for customer_id in customer_ids:
        kept = known.get(customer_id)
        if kept is None:
            return None
        if kept:
            found[customer_id] = copy(kept)
    return found


def _bound(remembered: MutableMapping[Any, Any], capacity: int) -> None:
    """Forget the entries remembered first until ``capacity`` are left."""
    excess = len(remembered) - capacity
    if excess > 0:
        for key in list(islice(remembered, excess)):  # the oldest first: a dict keeps insertion order
            del remembered[key]


def _files_of(engine: Engine) -> tuple[str, ...]:
    """The files of a SQLite store (the database, then its write-ahead log); none for other stores."""
    if engine.dialect.name != "sqlite":
        return ()
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:") or "mode=memory" in str(engine.url):
        return ()
    path = os.path.abspath(database)
    return (path, f"{path}-wal")
