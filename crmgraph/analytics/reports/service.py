"""The service report: first reply and resolution against the SLA, by group, priority and category; backlog.

Tickets are those created in the period (``tickets.created_at``) whose customer is of the owner, team,
country or segment asked, within the asker's scope. A ticket's first reply takes the hours from its
creation to the first public agent reply (``first_reply_at``), its resolution the hours to its solving
(``solved_at``); a ticket without that moment is not measured for it. The SLA target is the one of
``reports.service.sla`` for the ticket's priority (a ticket without a priority is held to NORMAL's).
The backlog is the tickets open now (NEW, OPEN, PENDING, ON_HOLD), whatever the period: one is past its
SLA when it is older than its resolution target, or has no first reply and is older than its first-reply
target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Select, and_, case, func, literal, or_, select

from crmgraph.analytics.reports import drilldown
from crmgraph.analytics.reports.filters import ReportRequest, in_period, record_conditions
from crmgraph.analytics.reports.freshness import PARTY, TICKET, Freshness
from crmgraph.analytics.reports.sql import epoch_seconds, hours_between, percentile, share
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.tables import tickets

NAME = "serviceReport"
PARTS = (*PARTY, *TICKET)
OPEN_STATUSES = ("NEW", "OPEN", "PENDING", "ON_HOLD")
DEFAULT_PRIORITY = "NORMAL"
DIMENSIONS = {"group": tickets.c.group_id, "priority": tickets.c.priority, "category": tickets.c.category}
METRICS = ("firstReply", "resolution")


@dataclass(frozen=True)
class SlaFigure:
    measured: int
    median_hours: float | None
    p90_hours: float | None
    within_sla: float | None  # of the measured tickets with a target, the share that met it
    breached: int
    drill_down: str  # the customers of the breaching tickets


@dataclass(frozen=True)
class ServiceBreakdown:
    key: str
    tickets: int
    first_reply: SlaFigure
    resolution: SlaFigure
    drill_down: str


@dataclass(frozen=True)
class BacklogRow:
    key: str
    open: int
    past_sla: int
    oldest_hours: float | None
    drill_down: str


@dataclass(frozen=True)
class ServiceReport:
    tickets: int
    first_reply: SlaFigure
    resolution: SlaFigure
    by_group: tuple[ServiceBreakdown, ...]
    by_priority: tuple[ServiceBreakdown, ...]
    by_category: tuple[ServiceBreakdown, ...]
    backlog: tuple[BacklogRow, ...]
    drill_down: str
    freshness: Freshness


NONE_KEY = "(none)"  # the key of the tickets without a group, priority or category


def figure_key(dimension: str | None, value: str | None, metric: str | None) -> str:
    return orjson.dumps([dimension, value, metric]).decode()


def _target(config: ReportsConfig, which: str) -> ColumnElement[Any]:
    sla = config.service.sla
    hours = {priority: getattr(target, which) for priority, target in sla.items()}
    default = hours.get(DEFAULT_PRIORITY)
    return case(hours, value=tickets.c.priority, else_=literal(default)) if hours else literal(default)


def _hours(metric: str) -> ColumnElement[Any]:
    end = tickets.c.first_reply_at if metric == "firstReply" else tickets.c.solved_at
    return hours_between(tickets.c.created_at, end)


def _target_of(config: ReportsConfig, metric: str) -> ColumnElement[Any]:
    return _target(config, "first_reply_hours" if metric == "firstReply" else "resolution_hours")


def _breaching(config: ReportsConfig, metric: str) -> ColumnElement[bool]:
    return _hours(metric) > _target_of(config, metric)


def _chosen(request: ReportRequest) -> list[ColumnElement[bool]]:
    return [*in_period(tickets.c.created_at, request.filter), *record_conditions(request, tickets.c.customer_id)]


def _aggregates(config: ReportsConfig) -> list[Any]:
    columns: list[Any] = [func.count().label("tickets")]
    for metric in METRICS:
        hours, target = _hours(metric), _target_of(config, metric)
        columns += [
            func.count(hours).label(f"{metric}_measured"),
            percentile(0.5, hours).label(f"{metric}_median"),
            percentile(0.9, hours).label(f"{metric}_p90"),
            func.sum(case((hours <= target, 1), else_=0)).label(f"{metric}_within"),
            func.sum(case((hours > target, 1), else_=0)).label(f"{metric}_breached"),
        ]
    return columns


def _figure(row: Any, metric: str, dimension: str | None, value: str | None, request: ReportRequest) -> SlaFigure:
    within, breached = int(getattr(row, f"{metric}_within") or 0), int(getattr(row, f"{metric}_breached") or 0)
    median, p90 = getattr(row, f"{metric}_median"), getattr(row, f"{metric}_p90")
    return SlaFigure(
        measured=int(getattr(row, f"{metric}_measured") or 0),
        median_hours=None if median is None else float(median),
        p90_hours=None if p90 is None else float(p90),
        within_sla=share(within, within + breached),
        breached=breached,
        drill_down=drilldown.encode(NAME, figure_key(dimension, value, metric), request.filter),
    )


def _breakdown(
    conn: Connection, request: ReportRequest, config: ReportsConfig, dimension: str
) -> tuple[ServiceBreakdown, ...]:
    column = DIMENSIONS[dimension]
    rows = conn.execute(
        select(column.label("key"), *_aggregates(config)).where(*_chosen(request)).group_by(column)
    ).all()
    found = [
        ServiceBreakdown(
            key=NONE_KEY if row.key is None else str(row.key),
            tickets=int(row.tickets),
            first_reply=_figure(row, "firstReply", dimension, row.key, request),
            resolution=_figure(row, "resolution", dimension, row.key, request),
            drill_down=drilldown.encode(NAME, figure_key(dimension, row.key, None), request.filter),
        )
        for row in rows
    ]
    return tuple(sorted(found, key=lambda item: (-item.tickets, item.key)))


def _age_hours(now: datetime) -> ColumnElement[float]:
    return (literal(now.timestamp()) - epoch_seconds(tickets.c.created_at)) / 3600.0


def _past_sla(config: ReportsConfig, now: datetime) -> ColumnElement[bool]:
    age = _age_hours(now)
    return or_(
        age > _target(config, "resolution_hours"),
        and_(tickets.c.first_reply_at.is_(None), age > _target(config, "first_reply_hours")),
    )


def _backlog(conn: Connection, request: ReportRequest, config: ReportsConfig) -> tuple[BacklogRow, ...]:
    now = request.moment()
    chosen = [tickets.c.status.in_(OPEN_STATUSES), *record_conditions(request, tickets.c.customer_id)]
    rows = conn.execute(
        select(
            tickets.c.group_id.label("key"),
            func.count().label("open"),
            func.sum(case((_past_sla(config, now), 1), else_=0)).label("past"),
            func.max(_age_hours(now)).label("oldest"),
        )
        .where(*chosen)
        .group_by(tickets.c.group_id)
    ).all()
    found = [
        BacklogRow(
            key=NONE_KEY if row.key is None else str(row.key),
            open=int(row.open),
            past_sla=int(row.past or 0),
            oldest_hours=None if row.oldest is None else float(row.oldest),
            drill_down=drilldown.encode(NAME, figure_key("backlog", row.key, None), request.filter),
        )
        for row in rows
    ]
    return tuple(sorted(found, key=lambda item: (-item.open, item.key)))


def compute(conn: Connection, request: ReportRequest, config: ReportsConfig) -> ServiceReport:
    whole = conn.execute(select(*_aggregates(config)).where(*_chosen(request))).one()
    return ServiceReport(
        tickets=int(whole.tickets),
        first_reply=_figure(whole, "firstReply", None, None, request),
        resolution=_figure(whole, "resolution", None, None, request),
        by_group=_breakdown(conn, request, config, "group"),
        by_priority=_breakdown(conn, request, config, "priority"),
        by_category=_breakdown(conn, request, config, "category"),
        backlog=_backlog(conn, request, config),
        drill_down=drilldown.encode(NAME, figure_key(None, None, None), request.filter),
        freshness=Freshness(None, ()),
    )


def customers_behind(key: str, request: ReportRequest, config: ReportsConfig) -> Select[Any] | None:
    """The customers of the tickets a figure counts: a breakdown's, a backlog row's, or the breaching ones of an
    SLA figure."""
    try:
        dimension, value, metric = orjson.loads(key)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        return None
    if dimension not in (None, "backlog", *DIMENSIONS) or metric not in (None, *METRICS):
        return None
    if value is not None and not isinstance(value, str):
        return None
    if dimension == "backlog":
        chosen = [tickets.c.status.in_(OPEN_STATUSES), *record_conditions(request, tickets.c.customer_id)]
        column: Any = tickets.c.group_id
    else:
        chosen = _chosen(request)
        column = DIMENSIONS[dimension] if dimension is not None else None
    if column is not None:
        chosen.append(column.is_(None) if value is None else column == value)
    if metric is not None:
        chosen.append(_breaching(config, metric))
    return select(tickets.c.customer_id).where(*chosen, tickets.c.customer_id.is_not(None))
