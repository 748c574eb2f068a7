"""Keeping SQLite's memory per connection modest.

SQLite keeps a page cache of up to 2 MB in every connection. A pool of eight connections to the same file
fills up to sixteen copies' worth of it over hours, which a soak shows as resident memory growing by a
fifth (docs/benchmarks.md). The operating system's file cache holds those pages anyway, so each
connection keeps a small cache instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event

PAGE_CACHE_KIB = 256


def limit_page_cache(engine: Engine, kib: int = PAGE_CACHE_KIB) -> None:
    """Give every new connection of a SQLite engine a page cache of ``kib``; other databases are untouched."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _small_cache(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA cache_size = -{int(kib)}")  # negative: a size in KiB, not in pages
        cursor.close()
