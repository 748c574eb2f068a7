"""Complaints against revenue: do the customers that bring the most revenue complain more, or less?

The customers are those of the owner, team, country or segment asked, within the asker's scope. Their
revenue is what they were invoiced in the period (``party_days``, by invoice day); bands rank the customers
with revenue by it (:mod:`crmgraph.analytics.reports.bands`), the others are "No revenue". A complaint is a
ticket created in the period whose tags, or whose category (the triage classifier's, else the ticket
system's type), ``reports.service.complaint_tags`` names (``tickets.complaint``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, case, func, select

from crmgraph.analytics.reports import drilldown
from crmgraph.analytics.reports.bands import band_of, labels
from crmgraph.analytics.reports.filters import ReportRequest, in_day_period, in_period, record_conditions
from crmgraph.analytics.reports.freshness import PARTY, REVENUE, TICKET, Freshness
from crmgraph.analytics.reports.sql import money
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.tables import customers, party_days, tickets

NAME = "complaintsAgainstRevenue"
PARTS = (*PARTY, *REVENUE, *TICKET)
UNRANKED = ("none", "No revenue")


@dataclass(frozen=True)
class ComplaintBand:
    key: str
    label: str
    customers: int
    revenue: Decimal
    complaints: int
    customers_complaining: int
    drill_down: str


@dataclass(frozen=True)
class ComplaintsAgainstRevenue:
    currency: str
    bands: tuple[ComplaintBand, ...]
    freshness: Freshness


def _banded(request: ReportRequest) -> Any:
    report_filter = request.filter
    revenue = (
        select(party_days.c.customer_id, func.sum(party_days.c.total).label("total"))
        .where(
            party_days.c.entity == "invoice",
            party_days.c.customer_id.is_not(None),
            *in_day_period(party_days.c.day, report_filter),
        )
        .group_by(party_days.c.customer_id)
        .subquery("revenue")
    )
    complaints = (
        select(tickets.c.customer_id, func.count().label("n"))
        .where(
            tickets.c.complaint.is_(True),
            tickets.c.customer_id.is_not(None),
            *in_period(tickets.c.created_at, report_filter),
        )
        .group_by(tickets.c.customer_id)
        .subquery("complaints")
    )
    total = func.coalesce(revenue.c.total, 0)
    band = band_of(total, total > 0, customers.c.customer_id, UNRANKED[0])
    return (
        select(
            customers.c.customer_id,
            total.label("revenue"),
            func.coalesce(complaints.c.n, 0).label("complaints"),
            band.label("band"),
        )
        .outerjoin(revenue, revenue.c.customer_id == customers.c.customer_id)
        .outerjoin(complaints, complaints.c.customer_id == customers.c.customer_id)
        .where(*record_conditions(request, customers.c.customer_id))
        .subquery("banded")
    )


def compute(conn: Connection, request: ReportRequest, config: ReportsConfig) -> ComplaintsAgainstRevenue:
    banded = _banded(request)
    sums = {
        row.band: row
        for row in conn.execute(
            select(
                banded.c.band,
                func.count().label("customers"),
                func.sum(banded.c.revenue).label("revenue"),
                func.sum(banded.c.complaints).label("complaints"),
                func.sum(case((banded.c.complaints > 0, 1), else_=0)).label("complaining"),
            ).group_by(banded.c.band)
        )
    }
    bands = tuple(
        ComplaintBand(
            key=key,
            label=label,
            customers=int(sums[key].customers) if key in sums else 0,
            revenue=money(sums[key].revenue if key in sums else None),
            complaints=int(sums[key].complaints or 0) if key in sums else 0,
            customers_complaining=int(sums[key].complaining or 0) if key in sums else 0,
            drill_down=drilldown.encode(NAME, f"band:{key}", request.filter),
        )
        for key, label in labels(UNRANKED)
    )
    return ComplaintsAgainstRevenue(currency=config.currency, bands=bands, freshness=Freshness(None, ()))


def customers_behind(key: str, request: ReportRequest, config: ReportsConfig) -> Select[Any] | None:
    """The customers a band counts."""
    kind, _, band = key.partition(":")
    if kind != "band" or band not in dict(labels(UNRANKED)):
        return None
    banded = _banded(request)
    return select(banded.c.customer_id).where(banded.c.band == band)
