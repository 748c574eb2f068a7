"""Every report's figures on a small fixed store (tests/reports_data.py), each checked against a hand
computation, on DuckDB and on PostgreSQL alike: the filters, the row scope, the attribution rules, and the
customers behind a figure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from crmgraph.analytics import tables as t
from crmgraph.analytics.reports import ReportFilter, ReportRequest, customer_page, customers_query, report_now
from crmgraph.analytics.reports.drilldown import encode
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.store import AnalyticStore
from crmgraph.analytics.tables import metadata
from crmgraph.errors import ClientError
from tests.reports_data import DEFAULT, NOW, SEGMENT, STAGES, Slots, at, fill

CONFIG = ReportsConfig()
A, B = DEFAULT.a, DEFAULT.b
OWN_A = ((("owner_id", (A,)),),)  # a sales rep's scope: the customers (and deals, leads) of owner A
TEAMS = {"east": (B,), "everyone": (A, B)}
JANUARY_FEBRUARY = ReportFilter(start=at(2024, 1, 1), end=at(2024, 3, 1))


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalyticStore]:
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path_factory.mktemp('reports') / 'analytics.duckdb'}"
    else:
        url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
        metadata.drop_all(engine)  # a store another run left behind
        engine.dispose()
    opened = AnalyticStore(url)
    fill(opened)
    yield opened
    opened.close()


def run(store: AnalyticStore, name: str, given: ReportFilter | None = None, scope: Any = None,
        config: ReportsConfig = CONFIG) -> Any:  # fmt: skip
    return report_now(store, name, ReportRequest(given or ReportFilter(), scope=scope, teams=TEAMS, now=NOW), config)


def behind(store: AnalyticStore, token: str, scope: Any = None) -> list[str]:
    query = customers_query(token, ReportRequest(ReportFilter(), scope=scope, teams=TEAMS, now=NOW), CONFIG)
    ids, has_next, total = customer_page(store, query, 100, None)
    assert not has_next and total == len(ids)
    return ids


def ids(*slots: str) -> list[str]:
    return sorted(DEFAULT[slot] for slot in slots)


def money(value: float | int | str) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


# --- the sales funnel ---


def test_the_funnel_counts_each_stage_reached_and_current_in_pipeline_order(store: AnalyticStore) -> None:
    funnel = run(store, "salesFunnel")
    assert [s.stage for s in funnel.stages] == list(STAGES), "inferred from the histories; lost last"
    figures = {s.stage: (s.reached, s.current, s.amount) for s in funnel.stages}
    assert figures == {
        "appointment": (7, 2, money(8600)),
        "qualified": (4, 0, money(7500)),
        "proposal": (3, 1, money(7000)),
        "closedwon": (2, 2, money(5000)),
        "closedlost": (2, 2, money(1200)),
    }
    conversion = {s.stage: s.conversion_to_next for s in funnel.stages}
    assert conversion == {"appointment": 4 / 7, "qualified": 3 / 4, "proposal": 2 / 3, "closedwon": None,
                          "closedlost": None}  # fmt: skip
    velocity = {s.stage: s.median_days_to_next for s in funnel.stages}
    assert velocity == {"appointment": 2.5, "qualified": 4.0, "proposal": 12.0, "closedwon": None, "closedlost": None}
    assert (funnel.deals, funnel.won, funnel.lost, funnel.win_rate) == (7, 2, 2, 0.5)


def test_the_funnel_by_owner_puts_the_most_won_amount_first(store: AnalyticStore) -> None:
    owners = [(o.owner_id, o.open, o.won, o.lost, o.won_amount, o.win_rate) for o in run(store, "salesFunnel").owners]
    assert owners == [(A, 0, 2, 2, money(5000), 0.5), (B, 3, 0, 0, money(0), None)]


def test_a_configured_pipeline_decides_the_order(store: AnalyticStore) -> None:
    config = ReportsConfig.model_validate({"funnel": {"stages": ["qualified", "appointment", "proposal"]}})
    funnel = run(store, "salesFunnel", config=config)
    assert [s.stage for s in funnel.stages] == ["qualified", "appointment", "proposal", "closedwon", "closedlost"]
    qualified = funnel.stages[0]
    assert qualified.conversion_to_next == 1.0, "all four that reached qualified reached appointment too"
    assert qualified.median_days_to_next is None, "none entered appointment after qualified"


@pytest.mark.parametrize(
    ("given", "deals"),
    [
        (JANUARY_FEBRUARY, 5),  # d1 d2 d3 d4 d6: d5 starts March, d7 is of 2023
        (ReportFilter(owner_id=A), 4),  # d1 d2 d5 d7 by the deal's own owner
        (ReportFilter(team="east"), 3),  # d3 d4 d6
        (ReportFilter(country="de"), 4),  # d1 d3 d5 d7: the customers' country, any case
        (ReportFilter(segment_key=SEGMENT), 3),  # d1 d3 d5
        (ReportFilter(owner_id=A, team="east"), 0),  # both must hold
    ],
)
def test_the_funnel_filters(store: AnalyticStore, given: ReportFilter, deals: int) -> None:
    assert run(store, "salesFunnel", given).deals == deals


def test_a_sales_reps_funnel_is_their_own_deals_of_their_own_customers(store: AnalyticStore) -> None:
    funnel = run(store, "salesFunnel", scope=OWN_A)
    assert (funnel.deals, funnel.won, funnel.lost) == (3, 1, 2), "d1 d2 d7; d5 is A's deal on B's customer"
    assert [(s.stage, s.reached) for s in funnel.stages] == [
        ("appointment", 3), ("qualified", 2), ("proposal", 1), ("closedwon", 1), ("closedlost", 2)
    ]  # fmt: skip
    assert [o.owner_id for o in funnel.owners] == [A]


def test_a_team_not_configured_is_refused_by_name(store: AnalyticStore) -> None:
    with pytest.raises(ClientError, match=r"filter\.team: no team 'west'; the teams are east, everyone"):
        run(store, "salesFunnel", ReportFilter(team="west"))


def test_the_funnel_is_as_fresh_as_the_oldest_part_it_read(store: AnalyticStore) -> None:
    freshness = run(store, "salesFunnel").freshness
    assert {p.name for p in freshness.parts} == {"crm.party", "crm.deal"}
    assert freshness.as_of == at(2024, 3, 31, 10)


# --- service ---


def test_service_first_reply_and_resolution_against_the_sla(store: AnalyticStore) -> None:
    service = run(store, "serviceReport")
    assert service.tickets == 7
    reply, resolution = service.first_reply, service.resolution
    # first replies 2 (HIGH 4 ok), 3 (URGENT 1 late), 30 (NORMAL 24 late), 10 (no priority: NORMAL, ok), 5 (HIGH late)
    assert (reply.measured, reply.median_hours, reply.within_sla, reply.breached) == (5, 5.0, 0.4, 3)
    assert reply.p90_hours == pytest.approx(22.0)  # between 10 and 30, 0.6 of the way
    # resolutions 30 (HIGH 72 ok), 20 (URGENT 24 ok), 200 (NORMAL 168 late), 80 (HIGH 72 late)
    assert (resolution.measured, resolution.median_hours, resolution.within_sla, resolution.breached) == (
        4,
        55.0,
        0.5,
        2,
    )
    assert resolution.p90_hours == pytest.approx(164.0)


def test_service_breakdowns_by_group_priority_and_category(store: AnalyticStore) -> None:
    service = run(store, "serviceReport")
    assert [(b.key, b.tickets) for b in service.by_group] == [("g1", 4), ("g2", 2), ("(none)", 1)]
    g1 = service.by_group[0]
    assert (g1.first_reply.measured, g1.first_reply.median_hours, g1.first_reply.within_sla) == (2, 2.5, 0.5)
    assert (g1.resolution.median_hours, g1.resolution.within_sla, g1.resolution.breached) == (25.0, 1.0, 0)
    assert [(b.key, b.tickets) for b in service.by_priority] == [
        ("HIGH", 2), ("URGENT", 2), ("(none)", 1), ("LOW", 1), ("NORMAL", 1)
    ]  # fmt: skip
    assert [(b.key, b.tickets) for b in service.by_category] == [
        ("question", 3), ("complaint", 2), ("incident", 1), ("problem", 1)
    ]  # fmt: skip


def test_the_backlog_is_the_tickets_open_now_and_those_past_their_sla(store: AnalyticStore) -> None:
    backlog = run(store, "serviceReport", JANUARY_FEBRUARY).backlog  # whatever the period
    # t5 (LOW, unanswered, 41 days) and t7 (URGENT, half an hour old) in g1; t3 (NORMAL, 60 days) in g2
    assert [(row.key, row.open, row.past_sla, row.oldest_hours) for row in backlog] == [
        ("g1", 2, 1, 41 * 24.0), ("g2", 1, 1, 60 * 24.0)
    ]  # fmt: skip


def test_service_in_a_period_and_in_a_scope(store: AnalyticStore) -> None:
    assert run(store, "serviceReport", JANUARY_FEBRUARY).tickets == 5  # t1..t5
    assert run(store, "serviceReport", ReportFilter(owner_id=B)).tickets == 3, "by the customer's owner: t3 t4 t5"
    assert run(store, "serviceReport", scope=OWN_A).tickets == 4  # t1 t2 t6 t7


# --- campaign ROI ---


def _campaigns(report: Any) -> list[tuple[Any, ...]]:
    return [(c.name, c.leads, c.customers, c.won_deals, c.won_revenue, c.invoiced_revenue, c.attributed_revenue)
            for c in report.campaigns]  # fmt: skip


def test_campaign_roi_shares_each_customers_revenue_evenly_between_its_campaigns(store: AnalyticStore) -> None:
    roi = run(store, "campaignRoi")
    # c1: 1000 won + 1500 invoiced, campaigns k1 k2 k3; c2: 300 invoiced, k2; c3: 4000 won + 4000 invoiced, k1 k2
    third, c3_half = Decimal(2500) / 3, Decimal(4000)
    assert _campaigns(roi) == [
        ("Webinar", 3, 3, 2, money(5000), money(5800), money(third + 300 + c3_half)),
        ("Spring mail", 3, 2, 2, money(5000), money(5500), money(third + c3_half)),
        ("Trade show", 1, 1, 1, money(1000), money(1500), money(third)),
        ("No cost", 1, 1, 0, money(0), money(0), money(0)),
    ]
    assert [c.roi for c in roi.campaigns] == pytest.approx([(5133.33 - 500) / 500, (4833.33 - 1000) / 1000,
                                                            (833.33 - 2000) / 2000, None])  # fmt: skip
    assert roi.cost == money(3500)
    assert roi.attributed_revenue == money("10799.99"), "each customer's 10800 once, less the campaigns' rounding"
    assert roi.attribution.startswith("Linear: each customer's revenue")


@pytest.mark.parametrize(
    ("rule", "attributed"),
    [
        ("first_touch", {"Spring mail": 8000, "Webinar": 300, "Trade show": 2500, "No cost": 0}),
        ("last_touch", {"Spring mail": 0, "Webinar": 10800, "Trade show": 0, "No cost": 0}),
    ],
)
def test_first_and_last_touch_give_a_customers_revenue_to_one_campaign(
    store: AnalyticStore, rule: str, attributed: dict[str, int]
) -> None:
    roi = run(store, "campaignRoi", config=ReportsConfig(attribution=rule))  # type: ignore[arg-type]
    assert {c.name: c.attributed_revenue for c in roi.campaigns} == {k: money(v) for k, v in attributed.items()}
    assert roi.attribution.startswith(rule.replace("_", " ").capitalize())


def test_campaign_roi_in_a_period_counts_its_campaigns_and_revenue(store: AnalyticStore) -> None:
    roi = run(store, "campaignRoi", JANUARY_FEBRUARY)
    # k3 ran in 2023; revenue of the period: c1 1000 won + 1500 invoiced (k1 k2), c2 300 (k2), c3 nothing
    assert {c.name: c.attributed_revenue for c in roi.campaigns} == {
        "Webinar": money(1550), "Spring mail": money(1250), "No cost": money(0)
    }  # fmt: skip


def test_campaign_roi_for_a_sales_rep_counts_their_leads_and_customers(store: AnalyticStore) -> None:
    roi = run(store, "campaignRoi", scope=OWN_A)
    by_name = {c.name: (c.leads, c.customers, c.attributed_revenue) for c in roi.campaigns}
    third = money(Decimal(2500) / 3)
    assert by_name == {"Webinar": (2, 2, third + 300), "Spring mail": (1, 1, third), "Trade show": (1, 1, third),
                       "No cost": (0, 0, money(0))}  # fmt: skip
    # Their campaigns' cost is their leads' share of it: Webinar 2 of 3 leads, Spring mail 1 of 3, Trade show 1 of 1.
    costs = {c.name: c.cost for c in roi.campaigns}
    assert costs == {"Webinar": money(Decimal(1000) / 3), "Spring mail": money(Decimal(1000) / 3),
                     "Trade show": money(2000), "No cost": None}  # fmt: skip
    assert roi.cost == money(Decimal(1000) / 3) * 2 + money(2000)


# --- customer value ---


def test_customer_value_bands_rank_by_predicted_value(store: AnalyticStore) -> None:
    report = run(store, "customerValueReport")
    assert (report.customers, report.lifetime_revenue, report.predicted_value) == (6, money(5850), money(8910))
    assert [(b.label, b.customers, b.lifetime_revenue, b.predicted_value) for b in report.bands] == [
        ("Top 10%", 1, money(1500), money(5000)),  # c1 of the five with a prediction
        ("Next 20%", 1, money(4000), money(3000)),  # c3
        ("Middle 30%", 1, money(0), money(800)),  # c5
        ("Bottom 40%", 2, money(350), money(110)),  # c2 c4
        ("No prediction", 1, money(0), money(0)),  # c6
    ]
    assert [(r.customer_id, r.orders) for r in report.top[:3]] == [
        (DEFAULT["c1"], 5),
        (DEFAULT["c3"], 3),
        (DEFAULT["c5"], 2),
    ]
    assert report.horizon_months == 12


def test_customer_value_within_a_scope_ranks_only_what_the_scope_holds(store: AnalyticStore) -> None:
    report = run(store, "customerValueReport", scope=OWN_A)  # c1 5000, c5 800, c2 100
    assert [(b.label, b.customers) for b in report.bands] == [
        ("Top 10%", 1), ("Next 20%", 0), ("Middle 30%", 1), ("Bottom 40%", 1), ("No prediction", 0)
    ]  # fmt: skip


# --- complaints against revenue ---


def test_complaints_against_revenue_bands(store: AnalyticStore) -> None:
    report = run(store, "complaintsAgainstRevenue")
    assert [(b.label, b.customers, b.revenue, b.complaints, b.customers_complaining) for b in report.bands] == [
        ("Top 10%", 1, money(4000), 1, 1),  # c3, t5
        ("Next 20%", 1, money(1500), 0, 0),  # c1
        ("Middle 30%", 1, money(300), 1, 1),  # c2, t2
        ("Bottom 40%", 1, money(50), 0, 0),  # c4
        ("No revenue", 2, money(0), 0, 0),  # c5 c6
    ]


def test_complaints_against_revenue_in_a_period(store: AnalyticStore) -> None:
    report = run(store, "complaintsAgainstRevenue", JANUARY_FEBRUARY)  # c1 1500, c2 300; t2 and t5
    # of two ranked, the first is within the top 10% (rounded up) and the second within the top 60%
    assert [(b.label, b.customers, b.revenue, b.complaints) for b in report.bands] == [
        ("Top 10%", 1, money(1500), 0), ("Next 20%", 0, money(0), 0), ("Middle 30%", 1, money(300), 1),
        ("Bottom 40%", 0, money(0), 0), ("No revenue", 4, money(0), 1),
    ]  # fmt: skip


# --- churn risk ---


def test_churn_risk_lists_the_customers_probably_lost_most_revenue_first(store: AnalyticStore) -> None:
    churn = run(store, "churnRisk")
    # p_alive below 0.5: c2 0.2, c3 0.4, c4 0.1; invoiced in the 365 days before now: c3 4000, c2 300, c4 50
    assert (churn.at_risk, churn.revenue_at_risk) == (3, money(4350))
    rows = [(r.customer_id, r.revenue_at_risk, r.days_since_last_order, r.open_complaints) for r in churn.customers]
    assert rows == [
        (DEFAULT["c3"], money(4000), 31, 1),
        (DEFAULT["c2"], money(300), None, 0),
        (DEFAULT["c4"], money(50), (date(2024, 4, 1) - date(2023, 5, 20)).days, 0),
    ]
    assert churn.customers[0].probability_alive == pytest.approx(0.4)


def test_churn_risk_follows_the_threshold_and_the_scope(store: AnalyticStore) -> None:
    stricter = ReportsConfig.model_validate({"value": {"churn_alive_below": 0.15}})
    assert [r.customer_id for r in run(store, "churnRisk", config=stricter).customers] == [DEFAULT["c4"]]
    assert [r.customer_id for r in run(store, "churnRisk", scope=OWN_A).customers] == [DEFAULT["c2"]]


# --- the customers behind a figure ---


def test_the_customers_behind_figures(store: AnalyticStore) -> None:
    funnel = run(store, "salesFunnel")
    proposal = next(s for s in funnel.stages if s.stage == "proposal")
    assert behind(store, proposal.drill_down) == ids("c1", "c3")
    assert behind(store, funnel.owners[1].drill_down) == ids("c3", "c4"), "B's deals: d3 d4 (d6 has no customer)"
    webinar = run(store, "campaignRoi").campaigns[0]
    assert behind(store, webinar.drill_down) == ids("c1", "c2", "c3")
    service = run(store, "serviceReport")
    assert behind(store, service.first_reply.drill_down) == ids("c1", "c2", "c3"), "the late ones: t2 t3 t6"
    assert behind(store, service.backlog[0].drill_down) == ids("c2", "c3")
    value = run(store, "customerValueReport")
    assert behind(store, value.bands[3].drill_down) == ids("c2", "c4")
    assert behind(store, run(store, "churnRisk").drill_down) == ids("c2", "c3", "c4")
    complaints = run(store, "complaintsAgainstRevenue", JANUARY_FEBRUARY)
    assert behind(store, complaints.bands[4].drill_down) == ids("c3", "c4", "c5", "c6"), "the token keeps the period"


def test_a_drill_down_applies_the_scope_of_the_one_who_presents_it(store: AnalyticStore) -> None:
    proposal = next(s for s in run(store, "salesFunnel").stages if s.stage == "proposal")
    assert behind(store, proposal.drill_down, scope=OWN_A) == ids("c1"), "d5 is on B's customer"
    forged = encode("salesFunnel", f"owner:{B}", ReportFilter(owner_id=B))
    assert behind(store, forged, scope=OWN_A) == []


def test_the_customers_behind_a_figure_come_in_pages(store: AnalyticStore) -> None:
    query = customers_query(run(store, "churnRisk").drill_down, ReportRequest(ReportFilter()), CONFIG)
    first, more, total = customer_page(store, query, 2, None)
    rest, more_after, _ = customer_page(store, query, 2, first[-1])
    assert (len(first), more, total, more_after) == (2, True, 3, False)
    assert first + rest == ids("c2", "c3", "c4")


def test_a_sales_reps_campaigns_count_the_leads_of_their_customers_whoever_owns_them_in_marketing(
    tmp_path: Path,
) -> None:
    store = AnalyticStore(f"duckdb:///{tmp_path / 'analytics.duckdb'}")
    fill(store)
    with store.writing() as conn:  # the marketing system's own user owns every lead, not a CRM owner
        conn.execute(t.leads.update().values(owner_id="mautic-user-1"))
    roi = run(store, "campaignRoi", scope=OWN_A)
    store.close()
    assert {c.name: c.leads for c in roi.campaigns} == {"Webinar": 2, "Spring mail": 1, "Trade show": 1, "No cost": 0}


def test_the_customers_behind_a_figure_come_in_the_order_of_their_ids(tmp_path: Path) -> None:
    store = AnalyticStore(f"duckdb:///{tmp_path / 'analytics.duckdb'}")
    fill(store, Slots(customers=["9", "10", "100", "2", "30", "4"]))
    query = customers_query(run(store, "churnRisk").drill_down, ReportRequest(ReportFilter()), CONFIG)
    first, more, _ = customer_page(store, query, 2, None)
    rest, _, _ = customer_page(store, query, 2, first[-1])
    store.close()
    assert (first, more, rest) == (["2", "10"], True, ["100"]), "c2 c3 c4 in numeric order, not as text"


@pytest.mark.parametrize(
    "token",
    [
        "not a token",
        encode("noSuchReport", "", ReportFilter()),
        "eyJyIjoxfQ",
        encode("salesFunnel", "nope:1", ReportFilter()),
    ],
)
def test_a_bad_drill_down_token_is_refused_by_name(token: str) -> None:
    with pytest.raises(ClientError, match=r"^drillDown: "):
        customers_query(token, ReportRequest(ReportFilter()), CONFIG)
