"""Customer value: lifetime revenue and the predicted customer lifetime value, in bands and the top customers.

The figures are the value model's answers (``customer_value``: BG/NBD for the purchases to come and
Gamma-Gamma for their value, over each customer's order history, ``reports.value``) for the customers of
the owner, team, country or segment asked, within the asker's scope. The model looks at the whole history
up to its last run, so the period does not apply. Bands rank the customers with a prediction by predicted
value (:mod:`crmgraph.analytics.reports.bands`); those without one are "No prediction".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, func, select

from crmgraph.analytics.reports import drilldown
from crmgraph.analytics.reports.bands import band_of, labels
from crmgraph.analytics.reports.filters import ReportRequest, record_conditions
from crmgraph.analytics.reports.freshness import MODEL, PARTY, REVENUE, Freshness
from crmgraph.analytics.reports.sql import money, optional_money
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.tables import customer_value, customers

NAME = "customerValueReport"
PARTS = (*PARTY, *REVENUE, *MODEL)
UNRANKED = ("none", "No prediction")
MAX_TOP = 100  # the most `top` rows an answer keeps (a page's cap)


@dataclass(frozen=True)
class ValueBand:
    key: str
    label: str
    customers: int
    lifetime_revenue: Decimal
    predicted_value: Decimal
    drill_down: str


@dataclass(frozen=True)
class CustomerValueRow:
    customer_id: str
    name: str | None
    lifetime_revenue: Decimal | None
    predicted_value: Decimal | None
    probability_alive: float | None
    expected_purchases: float | None
    orders: int


@dataclass(frozen=True)
class CustomerValueReport:
    currency: str
    horizon_months: int
    customers: int
    lifetime_revenue: Decimal
    predicted_value: Decimal
    bands: tuple[ValueBand, ...]
    top: tuple[CustomerValueRow, ...]  # the first MAX_TOP by predicted value
    freshness: Freshness


def _banded(request: ReportRequest) -> object:
    value = customer_value.c.predicted_clv
    band = band_of(value, value.is_not(None), customer_value.c.customer_id, UNRANKED[0])
    return (
        select(
            customer_value.c.customer_id,
            customer_value.c.lifetime_revenue,
            value.label("predicted"),
            band.label("band"),
        )
        .where(*record_conditions(request, customer_value.c.customer_id))
        .subquery("banded")
    )


def compute(conn: Connection, request: ReportRequest, config: ReportsConfig) -> CustomerValueReport:
    banded = _banded(request)
    sums = {
        row.band: row
        for row in conn.execute(
            select(
                banded.c.band,  # type: ignore[attr-defined]
                func.count().label("customers"),
                func.sum(banded.c.lifetime_revenue).label("revenue"),  # type: ignore[attr-defined]
                func.sum(banded.c.predicted).label("predicted"),  # type: ignore[attr-defined]
            ).group_by(banded.c.band)  # type: ignore[attr-defined]
        )
    }
    bands = tuple(
        ValueBand(
            key=key,
            label=label,
            customers=int(sums[key].customers) if key in sums else 0,
            lifetime_revenue=money(sums[key].revenue if key in sums else None),
            predicted_value=money(sums[key].predicted if key in sums else None),
            drill_down=drilldown.encode(NAME, f"band:{key}", request.filter),
        )
        for key, label in labels(UNRANKED)
    )
    top = tuple(
        CustomerValueRow(
            customer_id=row.customer_id,
            name=row.name,
            lifetime_revenue=optional_money(row.lifetime_revenue),
            predicted_value=optional_money(row.predicted_clv),
            probability_alive=row.p_alive,
            expected_purchases=row.expected_purchases,
            orders=int(row.orders),
        )
        for row in conn.execute(
            select(customer_value, customers.c.name)
            .outerjoin(customers, customers.c.customer_id == customer_value.c.customer_id)
            .where(*record_conditions(request, customer_value.c.customer_id))
            .order_by(customer_value.c.predicted_clv.desc().nulls_last(), customer_value.c.customer_id)
            .limit(MAX_TOP)
        )
    )
    return CustomerValueReport(
        currency=config.currency,
        horizon_months=config.value.horizon_months,
        customers=sum(band.customers for band in bands),
        lifetime_revenue=sum((band.lifetime_revenue for band in bands), Decimal("0.00")),
        predicted_value=sum((band.predicted_value for band in bands), Decimal("0.00")),
        bands=bands,
        top=top,
        freshness=Freshness(None, ()),
    )


def customers_behind(key: str, request: ReportRequest, config: ReportsConfig) -> Select[Any] | None:
    kind, _, band = key.partition(":")
    if kind != "band" or band not in dict(labels(UNRANKED)):
        return None
    banded = _banded(request)
    return select(banded.c.customer_id).where(banded.c.band == band)  # type: ignore[attr-defined]
