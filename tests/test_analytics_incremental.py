"""The analytic store follows the systems' changes without a rebuild: a deal moved in the CRM (its webhook)
and an order booked straight in the ERP (its change feed, polled) show in the store's rows."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select

from crmgraph.analytics import tables as t
from crmgraph.analytics.incremental import StoreUpdater
from crmgraph.analytics.store import AnalyticStore
from tests.analytics_support import rebuilt, with_reports
from tests.conftest import Estate
from tests.facade import TEST_AUTH, facade_config, store_copy
from tests.realtime import WAIT_S, Instance, instance

T = TypeVar("T")
SECRET = "analytics-test-webhook-secret"


def _eventually(probe: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + WAIT_S
    while True:
        found = probe()
        if found is not None and found is not False:
            return found
        assert time.monotonic() < deadline, f"not within {WAIT_S} s: {what}"
        time.sleep(0.05)


@pytest.fixture
def running(writable_estate: Estate, linked_identity: str, tmp_path: Path) -> Iterator[tuple[Instance, str]]:
    """The facade over the writable estate with reports on: its store rebuilt first, the CRM's webhooks on."""
    identity = store_copy(linked_identity, tmp_path)
    webhooks = {"sources": {"crm": {"secret": SECRET}, "tickets": {"secret": SECRET}}}
    governance = (
        f"{TEST_AUTH}\n        webhooks: {json.dumps(webhooks)}\n"
        "        feeds: {follow: [{source: erp, entity: order, every_s: 0.3}], lease_s: 5}"
    )
    base = facade_config(writable_estate.crm_url, writable_estate.tickets_url, writable_estate.layout.erp_url,
                         identity, governance=governance)  # fmt: skip
    config = with_reports(base, store_url=f"duckdb:///{tmp_path / 'analytics.duckdb'}", apply_every_s=0.2)
    store = AnalyticStore(str(config.reports.store_url))
    try:
        rebuilt(config, store)
    finally:
        store.close()
    with instance(config) as running:
        updater: StoreUpdater = running.app.state.reports
        _eventually(lambda: updater.following, "the store's updater follows the change events")
        for system in ("crm", "tickets"):
            hook = {"url": f"{running.url}/webhooks/{system}", "secret": SECRET, "retry_base_s": 0.2}
            httpx.post(f"{writable_estate.base(system)}/_control/webhooks", json=hook, timeout=10).raise_for_status()
        yield running, identity


def _store(running: Instance) -> AnalyticStore:
    updater: StoreUpdater = running.app.state.reports
    return updater.store


def _one(store: AnalyticStore, query: Any) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(query).first()


def test_a_deal_moved_in_the_crm_shows_in_the_store(running: tuple[Instance, str], writable_estate: Estate) -> None:
    facade, _ = running
    store = _store(facade)
    deal = _one(store, select(t.deals.c.source_id, t.deals.c.stage).where(t.deals.c.stage == "qualifiedtobuy"))
    assert deal is not None
    version = store.version()
    with writable_estate.crm() as crm:
        crm.patch(f"/crm/v3/objects/deals/{deal.source_id}",
                  json={"properties": {"dealstage": "contractsent"}}).raise_for_status()  # fmt: skip

    def moved() -> Any:
        row = _one(store, select(t.deals.c.stage).where(t.deals.c.source_id == deal.source_id))
        return row is not None and row.stage == "contractsent"

    _eventually(moved, "the deal's new stage in the store")
    stages = _one(store, select(t.deal_stages).where(t.deal_stages.c.deal_key == f"crm:{deal.source_id}",
                                                       t.deal_stages.c.stage == "contractsent"))  # fmt: skip
    assert stages is not None
    fresh = _one(store, select(t.freshness.c.changed_at).where(t.freshness.c.name == "crm.deal"))
    assert fresh is not None and fresh.changed_at is not None
    assert store.version() > version


def _followed(identity_url: str) -> bool:
    with sqlite3.connect(identity_url.removeprefix("sqlite:///")) as conn:
        found = conn.execute("SELECT count(*) FROM crmgraph_feed_positions WHERE source = 'erp' AND entity = 'order'")
        return bool(found.fetchone()[0])


def test_an_order_booked_in_the_erp_shows_in_the_stores_daily_totals(
    running: tuple[Instance, str], writable_estate: Estate
) -> None:
    facade, identity = running
    store = _store(facade)
    debtor = _one(store, select(t.party_days.c.party_id).where(t.party_days.c.entity == "order")).party_id
    _eventually(lambda: _followed(identity), "the facade follows the ERP's order feed")
    now = datetime.now(UTC)
    day = t.party_days.c

    def today() -> Any:
        query = select(day.count, day.total_original).where(
            day.entity == "order", day.party_id == debtor, day.day == now.date(), day.currency == "EUR"
        )
        return _one(store, query)

    before = today()
    with sqlite3.connect(writable_estate.layout.erp_db) as conn:
        number = str(int(conn.execute("SELECT MAX(VBELN) FROM VBAK").fetchone()[0]) + 1).zfill(10)
        conn.execute(
            "INSERT INTO VBAK (VBELN, ERDAT, ERZET, AUART, KUNNR, NETWR, WAERK, GBSTK) "
            "VALUES (?, ?, ?, 'TA', ?, 250, 'EUR', 'A')",
            (number, f"{now:%Y%m%d}", f"{now:%H%M%S}", debtor),
        )
    expected = (before.count + 1) if before is not None else 1

    def booked() -> Any:
        row = today()
        return row is not None and row.count == expected

    _eventually(booked, "the order in the store's daily totals")
    customer = _one(store, select(day.customer_id).where(day.party_id == debtor, day.day == now.date())).customer_id
    if customer is not None:
        value = _one(store, select(t.customer_value.c.computed_at).where(t.customer_value.c.customer_id == customer))
        assert value is not None and value.computed_at >= now.replace(microsecond=0)


def test_a_ticket_solved_in_the_ticket_system_shows_in_the_store(
    running: tuple[Instance, str], writable_estate: Estate
) -> None:
    facade, _ = running
    store = _store(facade)
    ticket = _one(store, select(t.tickets.c.source_id).where(t.tickets.c.status == "OPEN"))
    assert ticket is not None
    with writable_estate.tickets() as zendesk:
        zendesk.put(f"/api/v2/tickets/{ticket.source_id}.json",
                    json={"ticket": {"status": "solved"}}).raise_for_status()  # fmt: skip

    def solved() -> Any:
        row = _one(
            store, select(t.tickets.c.status, t.tickets.c.solved_at).where(t.tickets.c.source_id == ticket.source_id)
        )
        return row is not None and row.status == "SOLVED" and row.solved_at is not None

    _eventually(solved, "the solved ticket in the store")


def test_a_companys_industry_changed_in_the_crm_shows_in_its_customers_row(
    running: tuple[Instance, str], writable_estate: Estate
) -> None:
    facade, identity_url = running
    store = _store(facade)
    with sqlite3.connect(identity_url.removeprefix("sqlite:///")) as conn:
        customer, company = conn.execute(
            "SELECT customer_id, source_id FROM crmgraph_links WHERE source = 'crm' AND entity = 'party' "
            "ORDER BY customer_id LIMIT 1"
        ).fetchone()
    before = _one(store, select(t.customers.c.industry).where(t.customers.c.customer_id == str(customer)))
    assert before is not None and before.industry != "RENEWABLES_ENVIRONMENT"
    with writable_estate.crm() as crm:
        crm.patch(f"/crm/v3/objects/companies/{company}",
                  json={"properties": {"industry": "RENEWABLES_ENVIRONMENT"}}).raise_for_status()  # fmt: skip

    def changed() -> Any:
        row = _one(store, select(t.customers.c.industry).where(t.customers.c.customer_id == str(customer)))
        return row is not None and row.industry == "RENEWABLES_ENVIRONMENT"

    _eventually(changed, "the customer's new industry in the store")
