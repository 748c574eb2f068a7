"""Churn risk: the customers the value model thinks have probably stopped buying, and what they brought.

A customer is at risk when the model's probability that it still buys (``customer_value.p_alive``) is below
``reports.value.churn_alive_below`` (a customer the model has no answer for is not counted), among the
customers of the owner, team, country or segment asked, within the asker's scope. The revenue at risk is
what they were invoiced in the period (by invoice day), or in the 365 days before now without one. Days
since the last order count from the last day with an order (``party_days``) to today; open complaints are
complaint tickets not yet solved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, func, select

from crmgraph.analytics.reports import drilldown
from crmgraph.analytics.reports.filters import ReportFilter, ReportRequest, in_day_period, record_conditions
from crmgraph.analytics.reports.freshness import MODEL, PARTY, REVENUE, TICKET, Freshness
from crmgraph.analytics.reports.service import OPEN_STATUSES
from crmgraph.analytics.reports.sql import money, optional_money
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.tables import customer_value, customers, party_days, tickets

NAME = "churnRisk"
PARTS = (*PARTY, *REVENUE, *TICKET, *MODEL)
MAX_ROWS = 100  # the most rows an answer keeps (a page's cap)
TRAILING_DAYS = 365


@dataclass(frozen=True)
class ChurnRiskRow:
    customer_id: str
    name: str | None
    probability_alive: float | None
    lifetime_revenue: Decimal | None
    revenue_at_risk: Decimal
    days_since_last_order: int | None
    open_complaints: int


@dataclass(frozen=True)
class ChurnRisk:
    currency: str
    at_risk: int
    revenue_at_risk: Decimal
    customers: tuple[ChurnRiskRow, ...]  # the first MAX_ROWS, most revenue at risk first
    drill_down: str
    freshness: Freshness


def _at_risk(request: ReportRequest, config: ReportsConfig) -> list[Any]:
    return [
        customer_value.c.p_alive < config.value.churn_alive_below,
        *record_conditions(request, customer_value.c.customer_id),
    ]


def revenue_period(request: ReportRequest) -> ReportFilter:
    """The period the revenue at risk is counted over: the filter's, else the 365 days before now."""
    report_filter = request.filter
    if report_filter.start is not None or report_filter.end is not None:
        return report_filter
    now = request.moment()
    return ReportFilter(start=now - timedelta(days=TRAILING_DAYS), end=now)


def compute(conn: Connection, request: ReportRequest, config: ReportsConfig) -> ChurnRisk:
    period = revenue_period(request)
    risky = select(customer_value.c.customer_id).where(*_at_risk(request, config)).scalar_subquery()
    revenue = (
        select(party_days.c.customer_id, func.sum(party_days.c.total).label("total"))
        .where(
            party_days.c.entity == "invoice",
            party_days.c.customer_id.in_(risky),
            *in_day_period(party_days.c.day, period),
        )
        .group_by(party_days.c.customer_id)
        .subquery("revenue")
    )
    last_order = (
        select(party_days.c.customer_id, func.max(party_days.c.day).label("day"))
        .where(party_days.c.entity == "order", party_days.c.customer_id.in_(risky))
        .group_by(party_days.c.customer_id)
        .subquery("last_order")
    )
    complaints = (
        select(tickets.c.customer_id, func.count().label("n"))
        .where(tickets.c.complaint.is_(True), tickets.c.status.in_(OPEN_STATUSES), tickets.c.customer_id.in_(risky))
        .group_by(tickets.c.customer_id)
        .subquery("complaints")
    )
    at_risk_revenue = func.coalesce(revenue.c.total, 0)
    rows = (
        select(
            customer_value.c.customer_id,
            customers.c.name,
            customer_value.c.p_alive,
            customer_value.c.lifetime_revenue,
            at_risk_revenue.label("at_risk"),
            last_order.c.day.label("last_order"),
            func.coalesce(complaints.c.n, 0).label("complaints"),
        )
        .outerjoin(customers, customers.c.customer_id == customer_value.c.customer_id)
        .outerjoin(revenue, revenue.c.customer_id == customer_value.c.customer_id)
        .outerjoin(last_order, last_order.c.customer_id == customer_value.c.customer_id)
        .outerjoin(complaints, complaints.c.customer_id == customer_value.c.customer_id)
        .where(*_at_risk(request, config))
    )
    whole = rows.subquery("at_risk_customers")
    totals = conn.execute(select(func.count(), func.sum(whole.c.at_risk))).one()
    today = request.moment().date()
    ordered = rows.order_by(
        at_risk_revenue.desc(), customer_value.c.lifetime_revenue.desc().nulls_last(), customer_value.c.customer_id
    ).limit(MAX_ROWS)
    found = tuple(
        ChurnRiskRow(
            customer_id=row.customer_id,
            name=row.name,
            probability_alive=row.p_alive,
            lifetime_revenue=optional_money(row.lifetime_revenue),
            revenue_at_risk=money(row.at_risk),
            days_since_last_order=_days_since(row.last_order, today),
            open_complaints=int(row.complaints),
        )
        for row in conn.execute(ordered)
    )
    return ChurnRisk(
        currency=config.currency,
        at_risk=int(totals[0] or 0),
        revenue_at_risk=money(totals[1]),
        customers=found,
        drill_down=drilldown.encode(NAME, "", request.filter),
        freshness=Freshness(None, ()),
    )


def _days_since(day: date | None, today: date) -> int | None:
    return None if day is None else (today - day).days


def customers_behind(key: str, request: ReportRequest, config: ReportsConfig) -> Select[Any] | None:
    if key != "":
        return None
    return select(customer_value.c.customer_id).where(*_at_risk(request, config))
