"""The analytic store on PostgreSQL: the same rebuild gives the same rows as on DuckDB (bulk-loaded with
COPY), a second rebuild replaces them, and a change is applied by key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from crmgraph.analytics import tables as t
from crmgraph.analytics.incremental import StoreUpdater
from crmgraph.analytics.store import AnalyticStore
from crmgraph.events.change import ChangeEvent, Entity
from crmgraph.identity.store import IdentityStore
from crmgraph.sources import OpenSources
from tests.analytics_support import rebuilt, with_reports
from tests.marketing_source import MarketingEstate

pytestmark = pytest.mark.services


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[AnalyticStore]:
    store = AnalyticStore(postgres_url)
    with store.engine.begin() as conn:  # a clean slate: the tables this test database may hold from a last run
        for table in reversed(t.metadata.sorted_tables):
            conn.execute(table.delete())
    yield store
    store.close()


def _summary(store: AnalyticStore) -> dict[str, Any]:
    with store.engine.connect() as conn:
        found: dict[str, Any] = {
            table.name: conn.scalar(select(func.count()).select_from(table))
            for table in t.metadata.sorted_tables
            if table.name not in ("store_state", "freshness")
        }
        found["deal amounts"] = conn.scalar(select(func.sum(t.deals.c.amount)))
        found["order totals"] = conn.scalar(
            select(func.sum(t.party_days.c.total)).where(t.party_days.c.entity == "order")
        )
        found["complaints"] = conn.scalar(select(func.count()).select_from(t.tickets).where(t.tickets.c.complaint))
        found["customers with an owner"] = conn.scalar(
            select(func.count()).select_from(t.customers).where(t.customers.c.owner_id.is_not(None))
        )
    return found


def test_a_rebuild_on_postgresql_equals_one_on_duckdb(
    pg_store: AnalyticStore, marketing_estate: MarketingEstate, tmp_path: Path
) -> None:
    config = with_reports(marketing_estate.config())
    duck = AnalyticStore(f"duckdb:///{tmp_path / 'analytics.duckdb'}")
    try:
        rebuilt(config, duck)
        expected = _summary(duck)
    finally:
        duck.close()
    rebuilt(config, pg_store)
    first = pg_store.version()
    assert _summary(pg_store) == expected
    rebuilt(config, pg_store)  # the second replaces the first: no row twice
    assert _summary(pg_store) == expected
    assert pg_store.version() > first


def test_a_change_is_applied_by_key_on_postgresql(pg_store: AnalyticStore, marketing_estate: MarketingEstate) -> None:
    config = with_reports(marketing_estate.config())
    rebuilt(config, pg_store)
    with pg_store.engine.begin() as conn:  # a row gone stale: the deal's stage as the store last knew it
        key, stage = conn.execute(select(t.deals.c.deal_key, t.deals.c.stage)).first() or ("", "")
        conn.execute(text("UPDATE deals SET stage = 'stale' WHERE deal_key = :key"), {"key": key})
    deal_id = key.removeprefix("crm:")

    async def apply() -> None:
        identity = IdentityStore(config.identity.url)
        try:
            async with OpenSources(config) as adapters:
                updater = StoreUpdater(config, pg_store, adapters, identity, hub=None)  # type: ignore[arg-type]
                await updater.apply([ChangeEvent("crm", Entity.DEAL, deal_id)])
        finally:
            identity.close()

    asyncio.run(apply())
    with pg_store.engine.connect() as conn:
        assert conn.execute(select(t.deals.c.stage).where(t.deals.c.deal_key == key)).scalar() == stage
        assert conn.scalar(select(func.count()).select_from(t.deals).where(t.deals.c.deal_key == key)) == 1
        changed = conn.scalar(select(t.freshness.c.changed_at).where(t.freshness.c.name == "crm.deal"))
    assert changed is not None
