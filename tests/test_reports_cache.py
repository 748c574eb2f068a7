"""The reports' answer cache: an answer is computed once per store version, and a change the data path
records in the freshness table is seen by the next request."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update

from crmgraph.analytics.reports import ReportFilter, ReportRequest, report_now
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.store import AnalyticStore
from crmgraph.analytics.tables import deals, freshness
from tests.reports_data import NOW, at, fill


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AnalyticStore]:
    opened = AnalyticStore(f"duckdb:///{tmp_path / 'analytics.duckdb'}")
    fill(opened)
    yield opened
    opened.close()


def funnel(store: AnalyticStore, config: ReportsConfig | None = None) -> object:
    return report_now(store, "salesFunnel", ReportRequest(ReportFilter(), now=NOW), config or ReportsConfig())


def _add_deal(store: AnalyticStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(deals.insert().values(deal_key="crm:d8", source="crm", source_id="d8", stage="appointment",
                                           outcome="OPEN", amount=Decimal(1), created_at=at(2024, 3, 30)))  # fmt: skip


def test_an_answer_is_computed_once_per_store_version(store: AnalyticStore) -> None:
    first = funnel(store)
    _add_deal(store)  # written, but not yet recorded as applied
    assert funnel(store) is first, "the store version (its freshness rows) did not move"
    assert funnel(store, ReportsConfig(currency="USD")) is not first, "another configuration, another answer"


def test_a_recorded_change_is_seen_by_the_next_request(store: AnalyticStore) -> None:
    assert funnel(store).deals == 7  # type: ignore[attr-defined]
    _add_deal(store)
    with store.engine.begin() as conn:
        conn.execute(update(freshness).where(freshness.c.name == "crm.deal").values(changed_at=at(2024, 3, 31, 11)))
    after = funnel(store)
    assert after.deals == 8  # type: ignore[attr-defined]
    assert after.freshness.as_of == at(2024, 3, 31, 11)  # type: ignore[attr-defined]
