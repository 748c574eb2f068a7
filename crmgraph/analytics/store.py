"""The analytic store: an SQLAlchemy engine over DuckDB (embedded, the default) or PostgreSQL.

Opened once per process (``Runtime.analytics``); the tables are created when missing. DuckDB allows one
writing process per file: several facade instances share a PostgreSQL store instead (docs/reports.md).

Readers and writers each take a connection of their own from ``engine``, so a reader sees the store as
the last committed write left it: a rebuild or a batch of changes is one transaction (:meth:`writing`),
never half applied. Writes are serialised within the process (DuckDB refuses two transactions writing
the same rows), and every committed write raises the store's version (:meth:`version`), what report
caches key on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, Table, create_engine, event, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.tables import metadata, store_state

log = logging.getLogger(__name__)

# The tables' layout (crmgraph.analytics.tables). Raise it with any change to them: a store of another layout
# holds only what a rebuild can read again, so its tables are dropped and re-created (empty) when opened.
LAYOUT = 2
# How long closing waits for reads and writes still running in worker threads (a cancelled task's thread runs
# on): a DuckDB database refuses to close under a running statement.
CLOSE_WAIT_S = 30.0
# Kept outside the tables' metadata, so that code emptying "every table" never forgets which layout they are.
_layout = Table("store_layout", MetaData(), Column("layout", Integer, nullable=False))


def default_store_url(reports: ReportsConfig, identity_url: str) -> str:
    """``reports.store_url``, else ``analytics.duckdb`` beside a file-backed SQLite identity store, else memory."""
    if reports.store_url:
        return reports.store_url
    url = make_url(identity_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return f"duckdb:///{Path(url.database).parent / 'analytics.duckdb'}"
    return "duckdb:///:memory:"


def _duckdb_engine(database: str) -> tuple[Engine, Any]:
    """An engine whose every pooled connection is a connection of its own to one DuckDB database.

    A DuckDB connection is one transaction at a time and not safe to share between threads; its cursors
    are further connections to the same database (an in-memory one too), each with its own transaction.
    """
    import duckdb
    from duckdb_engine import ConnectionWrapper

    root = duckdb.connect(database)
    engine = create_engine("duckdb://", creator=lambda: ConnectionWrapper(root.cursor()), poolclass=QueuePool)
    return engine, root


class AnalyticStore:
    def __init__(self, url: str) -> None:
        self.url = url
        backend = make_url(url).get_backend_name()
        self.backend = backend
        self._duckdb: Any = None  # the DuckDB database's first connection, closed with the store
        self.engine: Engine
        if backend == "duckdb":
            database = make_url(url).database or ":memory:"
            if database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine, self._duckdb = _duckdb_engine(database)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        self._in_use = 0  # connections checked out of the pool, by any thread
        self._returned = threading.Condition()
        event.listen(self.engine, "checkout", self._checked_out)
        event.listen(self.engine, "checkin", self._checked_in)
        self._ensure_layout()
        self._write_lock = threading.Lock()

    def _checked_out(self, *_: Any) -> None:
        with self._returned:
            self._in_use += 1

    def _checked_in(self, *_: Any) -> None:
        with self._returned:
            self._in_use -= 1
            self._returned.notify_all()

    def _ensure_layout(self) -> None:
        """Tables of this version's layout: created when missing, re-created when another version left them."""
        with self.engine.begin() as conn:
            _layout.create(conn, checkfirst=True)
            found = conn.scalar(select(_layout.c.layout))
            if found == LAYOUT:
                metadata.create_all(conn)  # a table dropped by hand comes back
                return
            if found is not None:
                log.warning("reports: the analytic store's tables are of layout %s, this version's are %s: "
                            "they are re-created empty; run `crmgraph reports rebuild`", found, LAYOUT)  # fmt: skip
            metadata.drop_all(conn, checkfirst=True)
            metadata.create_all(conn)
            conn.execute(_layout.delete())
            conn.execute(_layout.insert().values(layout=LAYOUT))

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction: readers see all of it once it commits, none of it before; the version rises."""
        with self._write_lock, self.engine.begin() as conn:
            _bump_version(conn)
            yield conn

    def version(self) -> int:
        """How many writes the store has committed (any process's): a report cache's key."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(store_state.c.version).where(store_state.c.name == "store")) or 0)

    def close(self) -> None:
        """Closed once every connection is back: a stopped task's worker thread may still be reading or writing."""
        with self._returned:
            if not self._returned.wait_for(lambda: self._in_use <= 0, CLOSE_WAIT_S):
                log.warning("reports: closing the analytic store with %d connections still in use", self._in_use)
        self.engine.dispose()
        if self._duckdb is not None:
            self._duckdb.close()


def _bump_version(conn: Connection) -> None:
    bumped = conn.execute(
        update(store_state).where(store_state.c.name == "store").values(version=store_state.c.version + 1)
    )
    if bumped.rowcount == 0:
        conn.execute(store_state.insert().values(name="store", version=1))


def open_store(reports: ReportsConfig, identity_url: str) -> AnalyticStore | None:
    """The app's store when ``reports.enabled``; None (reports off on this instance, said in the log) when its
    DuckDB file is held by another process: several instances share a PostgreSQL store instead."""
    if not reports.enabled:
        return None
    url = default_store_url(reports, identity_url)
    try:
        return AnalyticStore(url)
    except Exception as exc:  # duckdb.IOException, imported only with the store
        if "lock" not in str(exc).lower():
            raise
        log.error(
            "reports are off on this instance: the analytic store %s is held by another process (DuckDB lets one "
            "process open a file); give several instances one PostgreSQL store (reports.store_url)",
            make_url(url).render_as_string(hide_password=True),
        )
        return None
