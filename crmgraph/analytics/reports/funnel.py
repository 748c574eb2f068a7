"""The sales funnel: deals by pipeline stage and by owner, conversion and velocity between stages.

Deals are those created in the period (``deals.created_at``), of the owner or team asked (the deal's own
owner), of customers in the country or segment asked, within the asker's scope. A deal *reached* a stage
when its stage history (``deal_stages``) records it entering it, or it is in that stage now. Stages come
in pipeline order: ``reports.funnel.stages`` when configured (stages seen but not configured follow),
else the order deals entered them (their mean position in the deals' histories); the lost stage is last,
and no stage converts into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection, Select, Subquery, and_, case, func, select, union

from crmgraph.analytics.reports import drilldown
from crmgraph.analytics.reports.filters import ReportRequest, in_period, record_conditions
from crmgraph.analytics.reports.freshness import DEAL, PARTY, Freshness
from crmgraph.analytics.reports.sql import hours_between, money, optional_money, percentile, share
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


def stage_order(conn: Connection, request: ReportRequest, config: ReportsConfig, seen: Sequence[str]) -> list[str]:
    """The stages in pipeline order (see the module's docstring)."""
    funnel = config.funnel
    position = func.row_number().over(
        partition_by=deal_stages.c.deal_key, order_by=(deal_stages.c.entered_at, deal_stages.c.stage)
    )
    ranked = (
        select(deal_stages.c.stage, position.label("position"))
        .join(deals, deals.c.deal_key == deal_stages.c.deal_key)
        .where(*_deal_conditions(request))
        .subquery()
    )
    mean = {
        row.stage: float(row.mean)
        for row in conn.execute(
            select(ranked.c.stage, func.avg(ranked.c.position).label("mean")).group_by(ranked.c.stage)
        )
    }
    inferred = sorted(set(seen) | set(mean), key=lambda stage: (mean.get(stage, float("inf")), stage))
    order = [*funnel.stages, *(stage for stage in inferred if stage not in funnel.stages)]
    ends = [stage for stage in (funnel.won_stage, funnel.lost_stage) if stage in order]
    return [*(stage for stage in order if stage not in ends), *ends]


def compute(conn: Connection, request: ReportRequest, config: ReportsConfig) -> SalesFunnel:
    report_filter = request.filter
    chosen = _deal_conditions(request)
    reached = _reached(request)
    counted = {
        row.stage: (int(row.reached), row.amount)
        for row in conn.execute(
            select(reached.c.stage, func.count().label("reached"), func.sum(deals.c.amount).label("amount"))
            .join(deals, deals.c.deal_key == reached.c.deal_key)
            .group_by(reached.c.stage)
        )
    }
    current = {
        row.stage: int(row.n)
        for row in conn.execute(select(deals.c.stage, func.count().label("n")).where(*chosen).group_by(deals.c.stage))
    }
    order = stage_order(conn, request, config, [*counted, *current])
    chain = [stage for stage in order if stage != config.funnel.lost_stage]
    following = dict(pairwise(chain))
    converted, median_days = _transitions(conn, request, following)
    stages = tuple(
        FunnelStage(
            stage=stage,
            reached=counted.get(stage, (0, None))[0],
            current=current.get(stage, 0),
            amount=optional_money(counted.get(stage, (0, None))[1]),
            conversion_to_next=share(converted.get(stage, 0), counted.get(stage, (0, None))[0])
            if stage in following
            else None,
            median_days_to_next=median_days.get(stage),
            drill_down=drilldown.encode(NAME, f"stage:{stage}", report_filter),
        )
        for stage in order
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
    totals = conn.execute(
        select(
            func.count().label("deals"),
            func.sum(case((deals.c.outcome == "WON", 1), else_=0)).label("won"),
            func.sum(case((deals.c.outcome == "LOST", 1), else_=0)).label("lost"),
        ).where(*chosen)
    ).one()
    won, lost = int(totals.won or 0), int(totals.lost or 0)
    return SalesFunnel(
        currency=config.currency,
        stages=stages,
        owners=tuple(owners),
        deals=int(totals.deals or 0),
        won=won,
        lost=lost,
        win_rate=share(won, won + lost),
        drill_down=drilldown.encode(NAME, "", report_filter),
        freshness=Freshness(None, ()),  # filled by the runner
    )


def _transitions(
    conn: Connection, request: ReportRequest, following: dict[str, str]
) -> tuple[dict[str, int], dict[str, float]]:
    """Per stage with a next one: how many deals that reached it reached the next, and the median days between
    entering the two (deals whose history records both, the next entered no earlier)."""
    if not following:
        return {}, {}
    reached = _reached(request)
    later = reached.alias("later")
    next_of = case(following, value=reached.c.stage)
    converted = {
        row.stage: int(row.n)
        for row in conn.execute(
            select(reached.c.stage, func.count().label("n"))
            .join(later, and_(later.c.deal_key == reached.c.deal_key, later.c.stage == next_of))
            .group_by(reached.c.stage)
        )
    }
    entered = deal_stages.alias("entered")
    entered_next = deal_stages.alias("entered_next")
    days = hours_between(entered.c.entered_at, entered_next.c.entered_at) / 24.0
    median_days = {
        row.stage: float(row.days)
        for row in conn.execute(
            select(entered.c.stage, percentile(0.5, days).label("days"))
            .join(deals, deals.c.deal_key == entered.c.deal_key)
            .join(
                entered_next,
                and_(
                    entered_next.c.deal_key == entered.c.deal_key,
                    entered_next.c.stage == case(following, value=entered.c.stage),
                    entered_next.c.entered_at >= entered.c.entered_at,
                ),
            )
            .where(*_deal_conditions(request))
            .group_by(entered.c.stage)
        )
        if row.days is not None
    }
    return converted, median_days


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
