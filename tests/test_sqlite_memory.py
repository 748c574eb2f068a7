"""SQLite connections opened by crmgraph keep a small page cache (resident memory stays flat)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from crmgraph.adapters.sql import SqlAdapter
from crmgraph.demo.layout import EstateLayout
from crmgraph.identity.store import IdentityStore
from crmgraph.sqlite_memory import PAGE_CACHE_KIB


def test_the_identity_store_keeps_a_small_page_cache(tmp_path: Path) -> None:
    store = IdentityStore(f"sqlite:///{tmp_path / 'identity.sqlite'}")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA cache_size")).scalar() == -PAGE_CACHE_KIB
    store.close()


def test_the_sql_adapter_keeps_a_small_page_cache_on_sqlite(estate_layout: EstateLayout) -> None:
    async def cache_size() -> object:
        adapter = SqlAdapter("erp", {"url": estate_layout.erp_url})
        await adapter.open()
        try:
            with adapter._db.engine.connect() as conn:  # type: ignore[attr-defined]
                return conn.execute(text("PRAGMA cache_size")).scalar()
        finally:
            await adapter.close()

    assert asyncio.run(cache_size()) == -PAGE_CACHE_KIB
