"""The analytic store: an SQLAlchemy engine over DuckDB (embedded, the default) or PostgreSQL.

Opened once per process (``Runtime.analytics``); the tables are created when missing. DuckDB allows one
writing process per file: several facade instances share a PostgreSQL store instead (docs/reports.md).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.tables import metadata

logger = logging.getLogger(__name__)


def default_store_url(reports: ReportsConfig, identity_url: str) -> str:
    """``reports.store_url``, else ``analytics.duckdb`` beside a file-backed SQLite identity store, else memory."""
    if reports.store_url:
        return reports.store_url
    url = make_url(identity_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return f"duckdb:///{Path(url.database).parent / 'analytics.duckdb'}"
    return "duckdb:///:memory:"


class AnalyticStore:
    def __init__(self, url: str) -> None:
        self.url = url
        backend = make_url(url).get_backend_name()
        self.backend = backend
        if backend == "duckdb":
            database = make_url(url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            # One connection shared by the process: DuckDB runs queries in parallel inside it, and an
            # in-memory database exists only within its connection.
            self.engine: Engine = create_engine(url, poolclass=StaticPool)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def open_analytic_store(reports: ReportsConfig, identity_url: str) -> AnalyticStore | None:
    """The store reports read, or None when reports are off or an embedded store is held by another process.

    DuckDB lets one process write a database file. A second facade instance over the same SQLite files
    (a test, a blue/green switch on one host) serves everything but reports, and says why once; instances
    that should all serve reports share a PostgreSQL store (``reports.store_url``).
    """
    if not reports.enabled:
        return None
    url = default_store_url(reports, identity_url)
    try:
        return AnalyticStore(url)
    except DBAPIError as exc:
        if "lock" not in str(exc.orig).lower():
            raise
        logger.warning(
            "reports: the analytic store %s is held by another process (an embedded DuckDB file has one "
            "writer); this instance serves no reports. Share a PostgreSQL store (reports.store_url) to "
            "serve them from every instance.",
            url,
        )
        return None
