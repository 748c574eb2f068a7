"""The sales funnel: deals by pipeline stage and by owner, conversion and velocity between stages.

Deals are those created in the period (``deals.created_at``), of the owner or team asked (the deal's own
owner), of customers in the country or segment asked, within the asker's scope. A deal *reached* a stage
when its stage history (``deal_stages``) records it entering it, or it is in that stage now. Stages come
in pipeline order: ``reports.funnel.stages`` when configured (stages seen but not configured follow),
else the order deals entered them (by the mean time from a deal's creation to its entering the stage); the
won and the lost stage are last, and no stage converts into the lost one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection, Select, Subquery, case, func, null, select, union, union_all

from crmgraph.analytics.reports import drilldown
from crmgraph.analytics.reports.filters import ReportRequest, in_period, record_conditions
from crmgraph.analytics.reports.freshness import DEAL, PARTY, Freshness
from crmgraph.analytics.reports.sql import epoch_seconds, hours_between, money, optional_money, percentile, share
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.tables import deal_stages, deals

NAME = "salesFunnel"
PARTS = (*PARTY, *DEAL)


@dataclass(frozen=True)
class FunnelStage:
    stage: str
    reached: int
    current: int
    amount: Decimal | None
    conversion_to_next: float | None
    median_days_to_next: float | None
    drill_down: str


@dataclass(frozen=True)
class FunnelOwner:
    owner_id: str
    owner_source: str  # the system whose owner it is (the deals' source)
    open: int
    won: int
    lost: int
    won_amount: Decimal
    win_rate: float | None
    drill_down: str


@dataclass(frozen=True)
class SalesFunnel:
    currency: str
    stages: tuple[FunnelStage, ...]
    owners: tuple[FunnelOwner, ...]
    deals: int
    won: int
    lost: int
    win_rate: float | None
    drill_down: str
    freshness: Freshness


def _deal_conditions(request: ReportRequest) -> list:  # type: ignore[type-arg]
    return [
        *in_period(deals.c.created_at, request.filter),
        *record_conditions(request, deals.c.customer_id, deals.c.owner_id),
    ]


def _reached(request: ReportRequest) -> Subquery:
    """(deal_key, stage) of every stage a chosen deal reached: its history and its stage now."""
    chosen = _deal_conditions(request)
    history = select(deal_stages.c.deal_key, deal_stages.c.stage).join(
        deals, deals.c.deal_key == deal_stages.c.deal_key
    )
    now = select(deals.c.deal_key, deals.c.stage)
    return union(history.where(*chosen), now.where(*chosen)).subquery("reached")


def _entries(request: ReportRequest) -> Subquery:
    """(deal_key, stage, entered_at, amount, created_at) of every stage a chosen deal reached: a row per entry
    in its history, and one for its stage now (entered_at NULL: the history may lack it)."""
    chosen = _deal_conditions(request)
    history = (
        select(deals.c.deal_key, deal_stages.c.stage, deal_stages.c.entered_at, deals.c.amount, deals.c.created_at)
        .join(deals, deals.c.deal_key == deal_stages.c.deal_key)
        .where(*chosen)
    )
    now = select(deals.c.deal_key, deals.c.stage, null().label("entered_at"), deals.c.amount, deals.c.created_at).where(
        *chosen
    )
    return union_all(history, now).subquery("entries")


def stage_order(conn: Connection, entries: Subquery, config: ReportsConfig) -> list[str]:
    """The stages in pipeline order (see the module's docstring)."""
    funnel = config.funnel
    offset = epoch_seconds(entries.c.entered_at) - epoch_seconds(entries.c.created_at)
    mean = {
        row.stage: (float(row.mean) if row.mean is not None else float("inf"))
        for row in conn.execute(select(entries.c.stage, func.avg(offset).label("mean")).group_by(entries.c.stage))
    }
    inferred = sorted(mean, key=lambda stage: (mean[stage], stage))
    order = [*funnel.stages, *(stage for stage in inferred if stage not in funnel.stages)]
    ends = [stage for stage in (funnel.won_stage, funnel.lost_stage) if stage in order]
    return [*(stage for stage in order if stage not in ends), *ends]


def _per_stage(conn: Connection, entries: Subquery, order: list[str], following: dict[str, str]) -> dict[str, Any]:
    """Per stage: reached, amount, converted to the next, median days to the next; in one pass over the
    chosen deals (a row per deal, a column per stage)."""
    columns: list[Any] = [entries.c.deal_key, func.max(entries.c.amount).label("amount")]
    for n, stage in enumerate(order):
        is_stage = entries.c.stage == stage
        columns.append(func.max(case((is_stage, 1), else_=0)).label(f"r{n}"))
        columns.append(func.min(case((is_stage, entries.c.entered_at))).label(f"e{n}"))
    per_deal = select(*columns).group_by(entries.c.deal_key).subquery("per_deal")
    index = {stage: n for n, stage in enumerate(order)}
    figures: list[Any] = []
    for n, stage in enumerate(order):
        reached = per_deal.c[f"r{n}"]
        figures += [func.sum(reached).label(f"reached{n}"), func.sum(reached * per_deal.c.amount).label(f"amount{n}")]
        if stage in following:
            m = index[following[stage]]
            entered, entered_next = per_deal.c[f"e{n}"], per_deal.c[f"e{m}"]
            days = hours_between(entered, entered_next) / 24.0
            figures.append(func.sum(reached * per_deal.c[f"r{m}"]).label(f"converted{n}"))
            figures.append(percentile(0.5, case((entered_next >= entered, days))).label(f"days{n}"))
    return dict(conn.execute(select(*figures)).one()._mapping)


def compute(conn: Connection, request: ReportRequest, config: ReportsConfig) -> SalesFunnel:
    report_filter = request.filter
    chosen = _deal_conditions(request)
    entries = _entries(request)
    current = {
        row.stage: int(row.n)
        for row in conn.execute(select(deals.c.stage, func.count().label("n")).where(*chosen).group_by(deals.c.stage))
    }
    order = stage_order(conn, entries, config)
    chain = [stage for stage in order if stage != config.funnel.lost_stage]
    following = dict(pairwise(chain))
    figures = _per_stage(conn, entries, order, following) if order else {}
    stages = []
    for n, stage in enumerate(order):
        reached = int(figures[f"reached{n}"] or 0)
        days = figures.get(f"days{n}")
        stages.append(
            FunnelStage(
                stage=stage,
                reached=reached,
                current=current.get(stage, 0),
                amount=optional_money(figures[f"amount{n}"]) if reached else None,
                conversion_to_next=share(figures[f"converted{n}"] or 0, reached) if stage in following else None,
                median_days_to_next=float(days) if days is not None else None,
                drill_down=drilldown.encode(NAME, f"stage:{stage}", report_filter),
            )
        )
    won_amount = func.sum(case((deals.c.outcome == "WON", deals.c.amount)))
    owners = [
        FunnelOwner(
            owner_id=row.owner_id,
            owner_source=row.source,
            open=int(row.open or 0),
            won=int(row.won or 0),
            lost=int(row.lost or 0),
            won_amount=money(row.won_amount),
            win_rate=share(row.won or 0, (row.won or 0) + (row.lost or 0)),
            drill_down=drilldown.encode(NAME, f"owner:{row.owner_id}", report_filter),
        )
        for row in conn.execute(
            select(
                deals.c.owner_id,
                func.min(deals.c.source).label("source"),
                func.sum(case((deals.c.outcome == "OPEN", 1), else_=0)).label("open"),
                func.sum(case((deals.c.outcome == "WON", 1), else_=0)).label("won"),
                func.sum(case((deals.c.outcome == "LOST", 1), else_=0)).label("lost"),
                won_amount.label("won_amount"),
            )
            .where(*chosen, deals.c.owner_id.is_not(None))
            .group_by(deals.c.owner_id)
        )
    ]
    owners.sort(key=lambda owner: (-owner.won_amount, -owner.won, owner.owner_id))
    outcomes = conn.execute(
        select(
            func.sum(case((deals.c.outcome == "WON", 1), else_=0)).label("won"),
            func.sum(case((deals.c.outcome == "LOST", 1), else_=0)).label("lost"),
        ).where(*chosen)
    ).one()
    won, lost = int(outcomes.won or 0), int(outcomes.lost or 0)
    return SalesFunnel(
        currency=config.currency,
        stages=tuple(stages),
        owners=tuple(owners),
        deals=sum(current.values()),  # every deal is in one stage now
        won=won,
        lost=lost,
        win_rate=share(won, won + lost),
        drill_down=drilldown.encode(NAME, "", report_filter),
        freshness=Freshness(None, ()),  # filled by the runner
    )


def customers_behind(key: str, request: ReportRequest, config: ReportsConfig) -> Select[Any] | None:
    """The customers behind a figure: those of the deals it counts (None: no such figure)."""
    chosen = [*_deal_conditions(request), deals.c.customer_id.is_not(None)]
    if key == "":
        return select(deals.c.customer_id).where(*chosen)
    kind, _, value = key.partition(":")
    if kind == "owner":
        return select(deals.c.customer_id).where(*chosen, deals.c.owner_id == value)
    if kind == "stage":
        reached = _reached(request)
        return (
            select(deals.c.customer_id)
            .join(reached, reached.c.deal_key == deals.c.deal_key)
            .where(deals.c.customer_id.is_not(None), reached.c.stage == value)
        )
    return None
