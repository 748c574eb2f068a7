"""The engine of the facade's own store (identity links, audit trail, idempotency records, sagas, feed
positions, webhook deliveries): SQLite by default, PostgreSQL or any SQLAlchemy database by URL.

An in-memory SQLite database (``sqlite://``) exists once per connection, so its engine keeps one
connection for every thread (the stores write from worker threads); a SQLite file gets a modest page
cache per connection (:mod:`crmgraph.sqlite_memory`).
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from crmgraph.sqlite_memory import limit_page_cache


def store_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = create_engine(url)
    limit_page_cache(engine)
    return engine
