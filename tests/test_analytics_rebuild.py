"""``crmgraph reports rebuild``: the analytic store holds what the systems hold, read through their adapters.

Every expectation is read from the systems themselves (the CRM's and the ticket system's HTTP APIs, the
ERP's database, the marketing source) and from the identity store that linked them, never from the store.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from crmgraph.analytics import tables as t
from crmgraph.analytics.store import AnalyticStore
from crmgraph.errors import SourceError
from crmgraph.identity.store import IdentityStore
from tests.analytics_support import rebuilt, with_reports, zendesk_tickets
from tests.conftest import Estate
from tests.marketing_source import MarketingEstate


@pytest.fixture(scope="module")
def store(marketing_estate: MarketingEstate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalyticStore]:
    """The store rebuilt once from the estate (DuckDB, a file, as the demo keeps it)."""
    opened = AnalyticStore(f"duckdb:///{tmp_path_factory.mktemp('analytics') / 'analytics.duckdb'}")
    rebuilt(with_reports(marketing_estate.config()), opened)
    yield opened
    opened.close()


def _rows(store: AnalyticStore, query: Any) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(query))


def _crm_deals(estate: Estate) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100, "properties": "amount,deal_currency_code,dealstage"}
    with estate.crm() as crm:
        while True:
            body = crm.get("/crm/v3/objects/deals", params=params).raise_for_status().json()
            found.extend(body["results"])
            after = body.get("paging", {}).get("next", {}).get("after")
            if after is None:
                return found
            params["after"] = after


def test_deals_count_and_amounts_equal_the_crms(store: AnalyticStore, marketing_estate: MarketingEstate) -> None:
    deals = _crm_deals(marketing_estate.estate)
    expected: defaultdict[str, Decimal] = defaultdict(Decimal)
    for deal in deals:
        props = deal["properties"]
        if props.get("amount"):
            expected[props["deal_currency_code"]] += Decimal(props["amount"])
    stored = _rows(store, select(t.deals.c.currency, func.sum(t.deals.c.amount_original)).group_by(t.deals.c.currency))
    assert len(deals) > 0
    assert _rows(store, select(func.count()).select_from(t.deals))[0][0] == len(deals)
    assert {currency: Decimal(total) for currency, total in stored if currency} == dict(expected)
    stages = Counter(deal["properties"]["dealstage"] for deal in deals)
    assert dict(_rows(store, select(t.deals.c.stage, func.count()).group_by(t.deals.c.stage))) == dict(stages)


def test_amounts_are_in_the_reporting_currency_at_the_configured_rate(store: AnalyticStore) -> None:
    from tests.analytics_support import EUR_RATES

    rows = _rows(store, select(t.deals.c.amount, t.deals.c.amount_original, t.deals.c.currency))
    converted = [(a, o, c) for a, o, c in rows if o is not None]
    assert converted
    for amount, original, currency in converted:
        assert Decimal(amount) == (Decimal(original) * EUR_RATES[currency]).quantize(Decimal("0.01"))


def test_every_won_deal_has_its_stage_history(store: AnalyticStore) -> None:
    won = {key for (key,) in _rows(store, select(t.deals.c.deal_key).where(t.deals.c.outcome == "WON"))}
    entered_won = {
        key for (key,) in _rows(store, select(t.deal_stages.c.deal_key).where(t.deal_stages.c.stage == "closedwon"))
    }
    assert won and won == entered_won


def test_tickets_equal_the_ticket_systems(store: AnalyticStore, marketing_estate: MarketingEstate) -> None:
    tickets = zendesk_tickets(marketing_estate.estate)
    assert len(tickets) > 0
    stored = _rows(store, select(t.tickets.c.source_id, t.tickets.c.status, t.tickets.c.complaint, t.tickets.c.kind))
    assert sorted(str(ticket["id"]) for ticket in tickets) == sorted(row.source_id for row in stored)
    statuses = Counter(str(ticket["status"]).upper().replace("HOLD", "ON_HOLD") for ticket in tickets)
    assert Counter(row.status for row in stored) == statuses
    complaints = {str(ticket["id"]) for ticket in tickets if "complaint" in (ticket.get("tags") or [])}
    assert {row.source_id for row in stored if row.complaint} >= complaints


def test_records_are_filed_under_the_identity_stores_customers(
    store: AnalyticStore, marketing_estate: MarketingEstate
) -> None:
    identity = IdentityStore(marketing_estate.identity_url)
    try:
        parties, _ = identity.golden_of_records()
        with identity.engine.connect() as conn:
            golden = conn.execute(text("SELECT count(*) FROM crmgraph_customers")).scalar()
    finally:
        identity.close()
    assert _rows(store, select(func.count()).select_from(t.customers))[0][0] == golden
    deals = _rows(store, select(t.deals.c.source, t.deals.c.party_id, t.deals.c.customer_id))
    for source, party, customer in deals:
        expected = parties.get((source, party)) if party else None
        assert customer == (str(expected) if expected is not None else None)


def test_campaigns_leads_and_members_equal_the_marketing_systems(
    store: AnalyticStore, marketing_estate: MarketingEstate
) -> None:
    truth = marketing_estate.truth
    assert _rows(store, select(func.count()).select_from(t.campaigns))[0][0] == len(truth.campaigns)
    assert _rows(store, select(func.count()).select_from(t.leads))[0][0] == len(truth.leads)
    members = {(f"marketing:{c}", f"marketing:{lead}") for c, leads in truth.campaign_members.items() for lead in leads}
    stored = {tuple(row) for row in _rows(store, select(t.campaign_members))}
    assert stored == members
    # A customer is in a segment when one of its leads is (the truth read each lead's segments, one by one).
    lead_customers = dict(_rows(store, select(t.leads.c.source_id, t.leads.c.customer_id)))
    in_segments = {
        (customer, f"marketing:{segment}")
        for segment, leads in truth.segment_members.items()
        for lead in leads
        if (customer := lead_customers.get(lead)) is not None
    }
    assert in_segments
    assert {tuple(row) for row in _rows(store, select(t.customer_segments.c.customer_id,
                                                      t.customer_segments.c.segment_key))} == in_segments  # fmt: skip


def _erp_totals(erp: Path, query: str) -> dict[str, tuple[int, Decimal]]:
    with sqlite3.connect(erp) as conn:
        # Summed here as decimals (SQLite's own sum of text amounts is a float).
        found: defaultdict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
        for currency, amount in conn.execute(query):
            found[currency][0] += 1
            found[currency][1] += Decimal(str(amount))
    return {currency: (n, total) for currency, (n, total) in found.items()}


def _stored_totals(store: AnalyticStore, entity: str) -> dict[str, tuple[int, Decimal]]:
    days = t.party_days.c
    query = select(days.currency, func.sum(days.count), func.sum(days.total_original)).where(days.entity == entity)
    return {currency: (int(n), Decimal(total)) for currency, n, total in _rows(store, query.group_by(days.currency))}


def test_order_and_invoice_totals_equal_the_erps_database(
    store: AnalyticStore, marketing_estate: MarketingEstate
) -> None:
    erp = Path(marketing_estate.estate.layout.erp_db)
    # The ERP's own tables: orders not cancelled (ABSTK C), bills not cancelled (FKSTO X), net amounts.
    orders = _erp_totals(erp, "SELECT WAERK, NETWR FROM VBAK WHERE coalesce(ABSTK, '') <> 'C'")
    invoices = _erp_totals(erp, "SELECT WAERK, NETWR FROM VBRK WHERE coalesce(FKSTO, '') = ''")
    assert orders and invoices
    assert _stored_totals(store, "order") == orders
    assert _stored_totals(store, "invoice") == invoices


def test_the_value_model_scores_every_customer_with_orders(store: AnalyticStore) -> None:
    with_orders = _rows(
        store,
        select(t.party_days.c.customer_id)
        .where(t.party_days.c.entity == "order", t.party_days.c.customer_id.is_not(None))
        .distinct(),
    )
    scored = _rows(store, select(t.customer_value.c.customer_id, t.customer_value.c.p_alive))
    assert {row[0] for row in with_orders} <= {row.customer_id for row in scored}
    assert any(row.p_alive is not None for row in scored)  # the seeded estate has history enough to fit


def test_freshness_names_every_part_read(store: AnalyticStore) -> None:
    from crmgraph.analytics.freshness import as_of, parts

    names = {row.name for row in _rows(store, select(t.freshness))}
    assert {"crm.deal", "tickets.ticket", "marketing.campaign", "identity.customer", "model.customer_value"} <= names
    assert store.version() >= 1
    with store.engine.connect() as conn:
        known = parts(conn)
        assert as_of(conn, ["*.deal", "identity.customer"]) == min(known["crm.deal"], known["identity.customer"])
        assert as_of(conn, ["nowhere.deal"]) is None


def test_a_source_down_leaves_the_old_store(marketing_estate: MarketingEstate, estate: Estate, tmp_path: Path) -> None:
    opened = AnalyticStore(f"duckdb:///{tmp_path / 'analytics.duckdb'}")
    try:
        config = with_reports(marketing_estate.config(tickets_resilience={"retries": 0}))
        rebuilt(config, opened)
        before = (opened.version(), _rows(opened, select(func.count()).select_from(t.tickets))[0][0])
        estate.faults("tickets", down=True)
        with pytest.raises(SourceError) as failed:
            rebuilt(config, opened)
        assert failed.value.source == "tickets"
        assert (opened.version(), _rows(opened, select(func.count()).select_from(t.tickets))[0][0]) == before
    finally:
        opened.close()
