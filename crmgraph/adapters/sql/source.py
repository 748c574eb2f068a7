"""SQL for adapters: one engine per source, statements on its own threads, every fault a typed error.

The SQL counterpart of :class:`~crmgraph.adapters.sdk.http.HttpSource`. An adapter hands
:meth:`SqlSource.rows` a SQLAlchemy Core statement and gets the rows, or a
:class:`~crmgraph.errors.SourceError` naming the source: refused or dropped connections are
``UPSTREAM_UNAVAILABLE``, a statement the database cancelled for time (or a pool with no free
connection) ``UPSTREAM_TIMEOUT``. Each statement is reported to the request's call log.

Why a synchronous engine on worker threads: every sync driver works (sqlite3, psycopg, PyMySQL, and the
ODBC and Oracle drivers legacy systems need), and threads of this source's own, one per pooled
connection, mean a slow legacy database cannot starve the threads the rest of the application shares.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy import exc as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql import Executable

from crmgraph.adapters.sdk.calls import upstream_call
from crmgraph.adapters.sdk.resilience import round_trip_permit
from crmgraph.errors import (
    AdapterContractError,
    ConfigError,
    SourceError,
    UpstreamBadResponse,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from crmgraph.sqlite_memory import limit_page_cache

logger = logging.getLogger(__name__)
T = TypeVar("T")

# How a driver says a statement ran out of time: PostgreSQL's query_canceled; MySQL / MariaDB error codes
# (interrupted, MariaDB's max_statement_time, MySQL's max_execution_time); SQLite's interrupt or busy wait.
TIMEOUT_SQLSTATES = {"57014"}
TIMEOUT_MYSQL_CODES = {1317, 1969, 3024}
TIMEOUT_SQLITE_MESSAGES = {"interrupted", "database is locked"}


def _is_statement_timeout(error: BaseException) -> bool:
    code = error.args[0] if error.args else None
    return (
        getattr(error, "sqlstate", None) in TIMEOUT_SQLSTATES
        or (type(code) is int and code in TIMEOUT_MYSQL_CODES)
        or str(error) in TIMEOUT_SQLITE_MESSAGES
    )


def _connect_args(dialect: str, seconds: float) -> dict[str, Any]:
    """Give up connecting after ``seconds``: libpq's default is to wait as long as the operating system does."""
    if dialect == "postgresql":
        return {"connect_timeout": max(2, math.ceil(seconds))}  # whole seconds; libpq treats 1 as 2
    if dialect in ("mysql", "mariadb"):
        return {"connect_timeout": max(1, math.ceil(seconds))}
    return {}  # SQLite opens a file; its "timeout" is how long to wait for a lock, a different thing


def _limit_statements(engine: Engine, seconds: float) -> None:
    """Have the database cancel a statement that runs too long: a worker thread cannot be stopped."""
    dialect = engine.dialect.name
    milliseconds = max(1, round(seconds * 1000))

    @event.listens_for(engine, "connect")
    def _set_timeout(dbapi_connection: Any, _record: Any) -> None:
        if dialect == "postgresql":
            setting = f"SET statement_timeout = {milliseconds}"
        elif dialect in ("mysql", "mariadb"):
            # MariaDB and MySQL name (and scale) the setting differently; MySQL's covers SELECT only.
            if "mariadb" in str(dbapi_connection.get_server_info()).lower():
                setting = f"SET SESSION max_statement_time = {milliseconds / 1000:.3f}"
            else:
                setting = f"SET SESSION max_execution_time = {milliseconds}"
        else:
            return
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(setting)  # numbers this module formatted, never text from outside
        finally:
            cursor.close()
        dbapi_connection.commit()  # before SQLAlchemy switches the connection to autocommit


class SqlSource:
    """The database side of an adapter for one source."""

    def __init__(
        self,
        source: str,
        url: str,
        *,
        pool_size: int = 5,
        connect_timeout_s: float = 5.0,
        statement_timeout_s: float | None = None,
        url_path: str = "url",
    ) -> None:
        """A :class:`ConfigError` at ``url_path`` when ``url`` is not a URL SQLAlchemy has a driver for."""
        self.source = source
        try:
            parsed = make_url(url)
            # Autocommit: each statement is a read of its own, so no BEGIN / ROLLBACK round trips and no
            # snapshot or lock held between calls. No pool_pre_ping: a dead connection fails one call
            # (UPSTREAM_UNAVAILABLE, retried above) and SQLAlchemy then renews the pool.
            self.engine = create_engine(
                parsed,
                pool_size=pool_size,
                max_overflow=0,
                isolation_level="AUTOCOMMIT",
                connect_args=_connect_args(parsed.get_backend_name(), connect_timeout_s),
            )
        except (sa.ArgumentError, ImportError, TypeError) as exc:
            raise ConfigError(url_path, f"not a usable database URL: {exc}") from None
        limit_page_cache(self.engine)
        if statement_timeout_s is not None:
            _limit_statements(self.engine, statement_timeout_s)
        self._threads: ThreadPoolExecutor | None = ThreadPoolExecutor(
            pool_size, thread_name_prefix=f"crmgraph-sql-{source}"
        )

    async def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None
            await asyncio.to_thread(self.engine.dispose)

    async def rows(
        self, table: str, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> list[RowMapping]:
        """Run one SELECT; ``table`` names it in the call log (``SELECT VBAK``)."""
        return await self.read(table, statement, parameters, list)

    async def read(
        self,
        table: str,
        statement: Executable,
        parameters: Mapping[str, Any] | None,
        shape: Callable[[Iterable[RowMapping]], T],
    ) -> T:
        """Run one SELECT and ``shape`` its rows, both on this source's threads.

        Reading rows into records there, rather than on the event loop, lets that work overlap the loop's
        own (other sources' answers arriving at the same moment) instead of queueing behind it.
        """

        def run(connection: Connection) -> T:
            return shape(connection.execute(statement, parameters).mappings())

        await round_trip_permit(self.source)  # the source's rate limit and 429 pause, per statement
        with upstream_call(self.source, f"SELECT {table}"):
            return await self.run(run)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """``work`` on a pooled connection, on this source's threads; a database fault as a SourceError."""
        threads = self._threads
        if threads is None:
            raise AdapterContractError(f"{self.source}: SQL used after close()")

        def connected() -> T:
            with self.engine.connect() as connection:
                return work(connection)

        try:
            # Cancelling the awaiting task (a deadline above) abandons the statement: statement_timeout_s
            # is what stops it in the database.
            return await asyncio.get_running_loop().run_in_executor(threads, connected)
        except sa.SQLAlchemyError as exc:
            raise self.fault(exc) from exc

    def fault(self, exc: sa.SQLAlchemyError) -> SourceError:
        cause: BaseException = exc.orig if isinstance(exc, sa.DBAPIError) and exc.orig is not None else exc
        name = type(cause).__name__
        # The driver's own words name hosts, tables and values: the log gets them, a client only the kind.
        logger.warning("%s: %s: %s", self.source, name, cause)
        if isinstance(exc, sa.TimeoutError) or _is_statement_timeout(cause):
            return UpstreamTimeout(self.source, f"the database did not answer in time ({name})")
        dropped = isinstance(exc, sa.DBAPIError) and exc.connection_invalidated
        if dropped or isinstance(exc, sa.OperationalError | sa.InterfaceError):
            return UpstreamUnavailable(self.source, f"cannot reach the database ({name})")
        if isinstance(exc, sa.ProgrammingError):  # a table or a grant gone since the adapter checked
            return UpstreamRejected(self.source, f"the database refused the statement ({name})")
        return UpstreamBadResponse(self.source, f"the database failed the statement ({name})")
