"""A report's answer as one table (one row per figure row) and one chart: what the exports write.

Columns are named as the GraphQL fields they repeat (``firstReply.medianHours``), so that a CSV row and
the report's figure read the same. Each column names the ``Type.field`` keys it shows, so that a role's
field policy (deny, mask) applies to an export as it does to the graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from crmgraph.analytics.reports import campaigns, churn, complaints, funnel, service, value


@dataclass(frozen=True)
class Column:
    name: str
    guards: tuple[str, ...]  # the Type.field keys whose policy applies to it
    read: Callable[[Any], Any]


@dataclass(frozen=True)
class Section:
    name: str  # the value of the table's `section` column
    key_guards: tuple[str, ...]
    key: Callable[[Any], str]
    columns: tuple[Column, ...]
    rows: Sequence[Any]


@dataclass(frozen=True)
class Chart:
    title: str
    labels: list[str]
    values: list[float]
    unit: str


@dataclass
class Table:
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def _col(name: str, type_name: str) -> Column:
    head, _, figure = name.partition(".")
    guards: tuple[str, ...] = (f"{type_name}.{head}",)
    if figure:  # an SLA figure's field: SlaFigure's policy applies too
        guards += (f"SlaFigure.{figure}",)
    return Column(name, guards, lambda row: _attr(row, name))


def _attr(row: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        row = getattr(row, _snake(part))
    return row


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


SLA_FIELDS = (
    "tickets",
    *(
        f"{which}.{figure}"
        for which in ("firstReply", "resolution")
        for figure in ("measured", "medianHours", "p90Hours", "withinSla", "breached")
    ),
)
TOTAL = ""  # the key of a report's total row


def _rows(section: str, type_name: str, key: str | None, fields: Sequence[str], rows: Sequence[Any]) -> Section:
    """A section whose rows are of ``type_name``, keyed by its field ``key`` (None: the total row)."""
    if key is None:
        return Section(section, (), lambda _: TOTAL, tuple(_col(n, type_name) for n in fields), rows)
    return Section(
        section,
        (f"{type_name}.{key}",),
        lambda row: str(_attr(row, key) or ""),
        tuple(_col(n, type_name) for n in fields),
        rows,
    )


def sections(name: str, answer: Any) -> list[Section]:
    """The sections of a report's table."""
    if name == funnel.NAME:
        stage = ("reached", "current", "amount", "conversionToNext", "medianDaysToNext")
        return [
            _rows("stage", "FunnelStage", "stage", stage, answer.stages),
            _rows("owner", "FunnelOwner", "ownerId", ("open", "won", "lost", "wonAmount", "winRate"), answer.owners),
            _rows("total", "SalesFunnel", None, ("deals", "won", "lost", "winRate"), [answer]),
        ]
    if name == service.NAME:
        return [
            _rows("total", "ServiceReport", None, SLA_FIELDS, [answer]),
            _rows("group", "ServiceBreakdown", "key", SLA_FIELDS, answer.by_group),
            _rows("priority", "ServiceBreakdown", "key", SLA_FIELDS, answer.by_priority),
            _rows("category", "ServiceBreakdown", "key", SLA_FIELDS, answer.by_category),
            _rows("backlog", "BacklogRow", "key", ("open", "pastSla", "oldestHours"), answer.backlog),
        ]
    if name == campaigns.NAME:
        campaign = ("channel", "cost", "leads", "customers", "wonDeals", "wonRevenue", "invoicedRevenue",
                    "attributedRevenue", "roi")  # fmt: skip
        return [
            _rows("campaign", "CampaignRoi", "name", campaign, answer.campaigns),
            _rows("total", "CampaignRoiReport", None, ("cost", "attributedRevenue", "roi"), [answer]),
        ]
    if name == value.NAME:
        sums = ("customers", "lifetimeRevenue", "predictedValue")
        top = ("lifetimeRevenue", "predictedValue", "probabilityAlive", "expectedPurchases", "orders")
        return [
            _rows("band", "ValueBand", "label", sums, answer.bands),
            _rows("top", "CustomerValueRow", "name", top, answer.top[:20]),
            _rows("total", "CustomerValueReport", None, sums, [answer]),
        ]
    if name == complaints.NAME:
        band = ("customers", "revenue", "complaints", "customersComplaining")
        return [_rows("band", "ComplaintBand", "label", band, answer.bands)]
    if name == churn.NAME:
        row = ("probabilityAlive", "lifetimeRevenue", "revenueAtRisk", "daysSinceLastOrder", "openComplaints")
        return [
            _rows("customer", "ChurnRiskRow", "name", row, answer.customers[:20]),
            _rows("total", "ChurnRisk", None, ("atRisk", "revenueAtRisk"), [answer]),
        ]
    raise KeyError(name)


def chart(name: str, answer: Any) -> Chart:
    """The report's one chart: its headline figure by its main breakdown."""
    if name == funnel.NAME:
        return Chart("Deals that reached each stage", [s.stage for s in answer.stages],
                     [float(s.reached) for s in answer.stages], "deals")  # fmt: skip
    if name == service.NAME:
        return Chart("First replies within SLA, by priority", [b.key for b in answer.by_priority],
                     [100.0 * (b.first_reply.within_sla or 0.0) for b in answer.by_priority], "%")  # fmt: skip
    if name == campaigns.NAME:
        return Chart("Attributed revenue by campaign", [c.name for c in answer.campaigns],
                     [float(c.attributed_revenue) for c in answer.campaigns], answer.currency)  # fmt: skip
    if name == value.NAME:
        return Chart("Predicted value by band", [b.label for b in answer.bands],
                     [float(b.predicted_value) for b in answer.bands], answer.currency)  # fmt: skip
    if name == complaints.NAME:
        return Chart("Complaints by revenue band", [b.label for b in answer.bands],
                     [float(b.complaints) for b in answer.bands], "complaints")  # fmt: skip
    if name == churn.NAME:
        return Chart("Revenue at risk by customer", [r.name or r.customer_id for r in answer.customers[:10]],
                     [float(r.revenue_at_risk) for r in answer.customers[:10]], answer.currency)  # fmt: skip
    raise KeyError(name)


def cell(found: Any) -> Any:
    """A figure as a table cell: amounts as their decimal text, shares and hours as they are, null as blank."""
    if found is None:
        return ""
    if isinstance(found, Decimal):
        return str(found)
    return found


def table(name: str, answer: Any, hidden: Callable[[str], bool], shown: Callable[[str, Any], Any]) -> Table:
    """The report as one table; ``hidden(Type.field)`` drops a column (a denied field), ``shown(Type.field,
    value)`` gives what a cell may show (a masked field's masked value)."""
    parts = sections(name, answer)
    result = Table(columns=["section", "key"])
    for part in parts:
        for column in part.columns:
            if column.name not in result.columns and not any(hidden(g) for g in column.guards):
                result.columns.append(column.name)
    for part in parts:
        key_hidden = any(hidden(g) for g in part.key_guards)
        for row in part.rows:
            key = "" if key_hidden else part.key(row)
            for guard in part.key_guards:
                key = shown(guard, key)
            cells: dict[str, Any] = {"section": part.name, "key": key}
            for column in part.columns:
                if column.name in result.columns and not any(hidden(g) for g in column.guards):
                    cells[column.name] = cell(column.read(row))
            result.rows.append(cells)
    return result
