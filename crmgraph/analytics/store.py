"""The analytic store: an SQLAlchemy engine over DuckDB (embedded, the default) or PostgreSQL.

Opened once per process (``Runtime.analytics``); the tables are created when missing. DuckDB allows one
writing process per file: several facade instances share a PostgreSQL store instead (docs/reports.md).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.tables import metadata


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
