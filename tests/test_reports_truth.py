"""The reports' figures equal the same figures computed straight from the systems' own data.

The store is rebuilt from the seeded test estate through the adapters (as ``crmgraph reports rebuild``
does); each report is then asked as an unscoped reader. Every expectation here is computed without
crmgraph: from the CRM's and the ticket system's own HTTP APIs, the marketing system's API and the ERP's
own database, with the demo's fixed exchange rates. What identity resolution decides (which customer a
record belongs to) is not re-derived: the figures compared are those over every record.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from crmgraph.analytics.reports import ReportFilter, ReportRequest, report_now
from crmgraph.analytics.store import AnalyticStore
from crmgraph.config import Config
from tests.analytics_support import EUR_RATES, rebuilt, with_reports
from tests.analytics_support import zendesk_tickets as export_tickets
from tests.conftest import Estate
from tests.marketing_source import MarketingEstate

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def config(marketing_estate: MarketingEstate) -> Config:
    return with_reports(marketing_estate.config())


@pytest.fixture(scope="module")
def store(config: Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalyticStore]:
    opened = AnalyticStore(f"duckdb:///{tmp_path_factory.mktemp('truth') / 'analytics.duckdb'}")
    rebuilt(config, opened)
    yield opened
    opened.close()


def ask(store: AnalyticStore, config: Config, name: str, report_filter: ReportFilter | None = None) -> Any:
    return report_now(store, name, ReportRequest(report_filter or ReportFilter()), config.reports)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _eur(amount: Decimal, currency: str) -> Decimal:
    return amount * EUR_RATES[currency]


# --- the systems' own data, read without crmgraph ----------------------------------------------------------


def _pages(client: Any, path: str, params: dict[str, Any], items: str) -> list[dict[str, Any]]:
    """Every item of a HubSpot list (``after`` paging)."""
    found: list[dict[str, Any]] = []
    while True:
        body = client.get(path, params=params).raise_for_status().json()
        found.extend(body[items])
        after = body.get("paging", {}).get("next", {}).get("after")
        if after is None:
            return found
        params = {**params, "after": after}


def crm_deals(estate: Estate) -> list[dict[str, Any]]:
    with estate.crm() as crm:
        stages = [s["id"] for s in crm.get("/crm/v3/pipelines/deals").raise_for_status().json()["results"][0]["stages"]]
        properties = ",".join(["amount", "deal_currency_code", "dealstage", *(f"hs_date_entered_{s}" for s in stages)])
        deals = _pages(crm, "/crm/v3/objects/deals", {"limit": 100, "properties": properties}, "results")
    return [{"stages": stages, **deal["properties"]} for deal in deals]


def zendesk_tickets(estate: Estate) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
    """Every ticket (the incremental export) and its metric set (Zendesk's ticket metrics API)."""
    tickets = export_tickets(estate)
    metrics: dict[int, dict[str, Any]] = {}
    with estate.tickets() as zd:
        url: str | None = "/api/v2/ticket_metrics.json?page[size]=100"  # cursor paging, as Zendesk offers
        while url:
            body = zd.get(url).raise_for_status().json()
            metrics.update({m["ticket_id"]: m for m in body["ticket_metrics"]})
            url = body["links"]["next"] if body["meta"]["has_more"] else None
    return tickets, metrics


# --- the sales funnel --------------------------------------------------------------------------------------


def test_the_funnel_counts_and_converts_the_crms_own_deals(
    store: AnalyticStore, config: Config, marketing_estate: MarketingEstate
) -> None:
    deals = crm_deals(marketing_estate.estate)
    stages = deals[0]["stages"]
    funnel = ask(store, config, "salesFunnel")
    outcome = Counter(deal["dealstage"] for deal in deals)
    assert funnel.deals == len(deals) > 50
    assert (funnel.won, funnel.lost) == (outcome["closedwon"], outcome["closedlost"])
    by_stage = {stage.stage: stage for stage in funnel.stages}
    open_stages = [s for s in stages if s not in ("closedwon", "closedlost")]
    for position, stage in enumerate(stages):
        entered = [d for d in deals if d.get(f"hs_date_entered_{stage}")]
        figure = by_stage[stage]
        assert (figure.reached, figure.current) == (len(entered), outcome[stage]), stage
        amount = sum((_eur(Decimal(d["amount"]), d["deal_currency_code"]) for d in entered if d.get("amount")),
                     Decimal(0))  # fmt: skip
        assert abs(figure.amount - amount) <= CENT * len(entered), stage
        if stage in open_stages and position + 1 < len(open_stages):
            following = open_stages[position + 1]
            onward = [d for d in entered if d.get(f"hs_date_entered_{following}")]
            assert figure.conversion_to_next == pytest.approx(len(onward) / len(entered)), stage
            days = [
                (_moment(d[f"hs_date_entered_{following}"]) - _moment(d[f"hs_date_entered_{stage}"])).total_seconds()
                / 86400
                for d in onward
            ]
            assert figure.median_days_to_next == pytest.approx(statistics.median(days), abs=1e-6), stage


# --- service against the SLA ---------------------------------------------------------------------------------


def test_service_times_and_sla_equal_the_ticket_systems_own_metrics(
    store: AnalyticStore, config: Config, marketing_estate: MarketingEstate
) -> None:
    tickets, metrics = zendesk_tickets(marketing_estate.estate)
    sla = config.reports.service.sla
    report = ask(store, config, "serviceReport")
    assert report.tickets == len(tickets) > 50

    replies: list[float] = []
    within = 0
    for ticket in tickets:
        minutes = (metrics[ticket["id"]].get("reply_time_in_minutes") or {}).get("calendar")
        if minutes is None:
            continue
        hours = minutes / 60
        replies.append(hours)
        within += hours <= sla[(ticket["priority"] or "normal").upper()].first_reply_hours
    assert report.first_reply.measured == len(replies)
    assert report.first_reply.median_hours == pytest.approx(statistics.median(replies), abs=1e-6)
    assert report.first_reply.within_sla == pytest.approx(within / len(replies))

    resolutions = [
        (_moment(metrics[t["id"]]["solved_at"]) - _moment(t["created_at"])).total_seconds() / 3600
        for t in tickets
        if metrics[t["id"]].get("solved_at")
    ]
    assert report.resolution.measured == len(resolutions) > 0
    assert report.resolution.median_hours == pytest.approx(statistics.median(resolutions), abs=1e-6)

    backlog = Counter(str(t["group_id"]) for t in tickets if t["status"] in ("new", "open", "pending", "hold"))
    assert {row.key: row.open for row in report.backlog} == dict(backlog)


# --- campaign ROI and revenue ----------------------------------------------------------------------------------


def _campaign_members(mautic: Any, campaign_id: str) -> set[str]:
    """A campaign's members as Mautic pages them (``start``/``limit``), those taken out left out."""
    found: set[str] = set()
    start = 0
    while True:
        body = mautic.get(f"/api/campaigns/{campaign_id}/contacts", params={"start": start, "limit": 100})
        rows = body.raise_for_status().json()["contacts"]
        found.update(str(row["lead_id"]) for row in rows if row["manually_removed"] != "1")
        if len(rows) < 100:
            return found
        start += len(rows)


def test_campaign_costs_and_leads_equal_the_marketing_systems_own(
    store: AnalyticStore, config: Config, marketing_estate: MarketingEstate
) -> None:
    with marketing_estate.estate.marketing() as mautic:
        campaigns = mautic.get("/api/campaigns", params={"limit": 1000}).raise_for_status().json()["campaigns"]
        members = {str(cid): _campaign_members(mautic, cid) for cid in campaigns}
    report = ask(store, config, "campaignRoi")
    by_name = {c.name: c for c in report.campaigns}
    assert len(by_name) == len(campaigns) > 0
    for cid, campaign in campaigns.items():
        figure = by_name[campaign["name"]]
        budget = campaign["budget"]  # the demo's extension of Mautic: {amount, currency}
        expected = _eur(Decimal(str(budget["amount"])), budget["currency"])
        assert figure.cost == expected.quantize(CENT, ROUND_HALF_EVEN), campaign["name"]
        assert figure.leads == len(members[str(cid)]), campaign["name"]


def test_lifetime_revenue_equals_the_erps_own_invoices(
    store: AnalyticStore, config: Config, marketing_estate: MarketingEstate
) -> None:
    with sqlite3.connect(marketing_estate.estate.layout.erp_db) as erp:
        invoices = erp.execute("SELECT NETWR, WAERK FROM VBRK WHERE FKSTO = ''").fetchall()
    by_currency: defaultdict[str, Decimal] = defaultdict(Decimal)
    for net, currency in invoices:
        by_currency[currency] += Decimal(str(net))
    expected = sum((_eur(total, currency) for currency, total in by_currency.items()), Decimal(0))
    report = ask(store, config, "customerValueReport")
    assert len(invoices) > 50
    # Each customer's total is rounded to the cent once: at most half a cent each.
    assert abs(report.lifetime_revenue - expected) <= CENT * report.customers / 2 + CENT


def test_a_period_counts_only_the_deals_and_tickets_created_in_it(
    store: AnalyticStore, config: Config, marketing_estate: MarketingEstate
) -> None:
    deals = crm_deals(marketing_estate.estate)
    tickets, _ = zendesk_tickets(marketing_estate.estate)
    created = sorted(_moment(t["created_at"]) for t in tickets)
    start, end = created[len(created) // 3], created[2 * len(created) // 3]
    period = ReportFilter(start=start, end=end)
    expected_deals = sum(1 for d in deals if start <= _moment(d["createdate"]) < end)
    assert ask(store, config, "salesFunnel", period).deals == expected_deals
    assert ask(store, config, "serviceReport", period).tickets == sum(
        1 for t in tickets if start <= _moment(t["created_at"]) < end
    )
