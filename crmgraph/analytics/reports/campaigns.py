"""Campaign ROI: what each campaign cost against the revenue of the customers its leads became.

The campaigns are those running in the period (started before its end, not ended before its start; a
campaign without dates always). A campaign's leads are its members (``campaign_members``) whose customers
are of the owner, team, country or segment asked, within the asker's scope (a lead's own owner is the
marketing system's user, not a CRM owner: the customer's owner decides);
its customers are the golden customers those leads belong to. A customer's revenue is that of the period:
its won deals by close date (``deals``, of the owner or team asked) plus its invoices by invoice day
(``party_days``). How that revenue is shared between a customer's campaigns is ``reports.attribution``
(:data:`RULES`, stated in every answer). A campaign's won deals, won revenue and invoiced revenue are its
customers' in full (a customer of two campaigns counts in both); only the attributed revenue is shared,
so the report's attributed total counts each customer's revenue once. A report narrowed to some leads (an
owner, team, country or segment asked, or the asker's row scope) counts a campaign's cost for those leads
only: its cost times the share of its leads kept, so that a sales rep's campaigns are not charged in full
against the revenue of their own customers alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Double, Select, case, cast, func, literal, or_, select

from crmgraph.analytics.reports import drilldown
from crmgraph.analytics.reports.filters import ReportRequest, in_day_period, in_period, record_conditions
from crmgraph.analytics.reports.freshness import DEAL, MARKETING, PARTY, REVENUE, Freshness
from crmgraph.analytics.reports.sql import money, optional_money, share
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.tables import campaign_members, campaigns, deals, leads, party_days

NAME = "campaignRoi"
PARTS = (*PARTY, *MARKETING, *DEAL, *REVENUE)
_REVENUE = "its won deals in the period (by close date) plus its invoices in the period (by invoice day)"
RULES = {
    "linear": f"Linear: each customer's revenue ({_REVENUE}) is split evenly between the campaigns of the period "
    "its leads were members of.",
    "first_touch": f"First touch: each customer's revenue ({_REVENUE}) goes wholly to the earliest-starting "
    "campaign of the period its leads were members of.",
    "last_touch": f"Last touch: each customer's revenue ({_REVENUE}) goes wholly to the latest-starting campaign "
    "of the period its leads were members of.",
}


@dataclass(frozen=True)
class CampaignRoi:
    campaign_key: str  # "source:id"
    source: str
    source_id: str
    name: str
    channel: str | None
    cost: Decimal | None
    leads: int
    customers: int
    won_deals: int
    won_revenue: Decimal
    invoiced_revenue: Decimal
    attributed_revenue: Decimal
    roi: float | None
    drill_down: str


@dataclass(frozen=True)
class CampaignRoiReport:
    currency: str
    attribution: str
    campaigns: tuple[CampaignRoi, ...]
    cost: Decimal
    attributed_revenue: Decimal
    roi: float | None
    freshness: Freshness


def _running(request: ReportRequest) -> list[Any]:
    report_filter = request.filter
    conditions: list[Any] = []
    if report_filter.end is not None:
        conditions.append(or_(campaigns.c.starts_at.is_(None), campaigns.c.starts_at < report_filter.end))
    if report_filter.start is not None:
        conditions.append(or_(campaigns.c.ends_at.is_(None), campaigns.c.ends_at >= report_filter.start))
    return conditions


def _lead_conditions(request: ReportRequest) -> list[Any]:
    running = select(campaigns.c.campaign_key).where(*_running(request))
    return [
        campaign_members.c.campaign_key.in_(running),
        *record_conditions(request, leads.c.customer_id),
    ]


def _members() -> Any:
    return campaign_members.join(leads, leads.c.lead_key == campaign_members.c.lead_key)


def _pairs(request: ReportRequest) -> Any:
    """(campaign, customer): the customers each running campaign's chosen leads became."""
    return (
        select(campaign_members.c.campaign_key, leads.c.customer_id)
        .select_from(_members())
        .where(*_lead_conditions(request), leads.c.customer_id.is_not(None))
        .distinct()
        .subquery("pairs")
    )


def _weighted(request: ReportRequest, rule: str) -> Any:
    pairs = _pairs(request)
    if rule == "linear":
        weight = 1.0 / cast(func.count().over(partition_by=pairs.c.customer_id), Double)
    else:
        starts = select(campaigns.c.starts_at).where(campaigns.c.campaign_key == pairs.c.campaign_key).scalar_subquery()
        first = starts.asc().nulls_last() if rule == "first_touch" else starts.desc().nulls_last()
        rank = func.row_number().over(partition_by=pairs.c.customer_id, order_by=(first, pairs.c.campaign_key))
        weight = case((rank == 1, literal(1.0)), else_=literal(0.0))
    return select(pairs.c.campaign_key, pairs.c.customer_id, weight.label("weight")).subquery("weighted")


def compute(conn: Connection, request: ReportRequest, config: ReportsConfig) -> CampaignRoiReport:
    report_filter = request.filter
    weighted = _weighted(request, config.attribution)
    customers_of = select(weighted.c.customer_id).distinct().scalar_subquery()
    won = (
        select(deals.c.customer_id, func.count().label("deals"), func.sum(deals.c.amount).label("amount"))
        .where(
            deals.c.outcome == "WON",
            *in_period(deals.c.close_date, report_filter),
            *record_conditions(request, deals.c.customer_id, deals.c.owner_id),
            deals.c.customer_id.in_(customers_of),
        )
        .group_by(deals.c.customer_id)
        .subquery("won")
    )
    invoiced = (
        select(party_days.c.customer_id, func.sum(party_days.c.total).label("total"))
        .where(
            party_days.c.entity == "invoice",
            *in_day_period(party_days.c.day, report_filter),
            *record_conditions(request, party_days.c.customer_id),
            party_days.c.customer_id.in_(customers_of),
        )
        .group_by(party_days.c.customer_id)
        .subquery("invoiced")
    )
    revenue = cast(func.coalesce(won.c.amount, 0), Double) + cast(func.coalesce(invoiced.c.total, 0), Double)
    per_campaign = {
        row.campaign_key: row
        for row in conn.execute(
            select(
                weighted.c.campaign_key,
                func.count(weighted.c.customer_id.distinct()).label("customers"),
                func.sum(won.c.deals).label("won_deals"),
                func.sum(won.c.amount).label("won_revenue"),
                func.sum(invoiced.c.total).label("invoiced"),
                func.sum(weighted.c.weight * revenue).label("attributed"),
            )
            .select_from(weighted)
            .outerjoin(won, won.c.customer_id == weighted.c.customer_id)
            .outerjoin(invoiced, invoiced.c.customer_id == weighted.c.customer_id)
            .group_by(weighted.c.campaign_key)
        )
    }
    lead_counts = {
        row.campaign_key: int(row.leads)
        for row in conn.execute(
            select(campaign_members.c.campaign_key, func.count(campaign_members.c.lead_key.distinct()).label("leads"))
            .select_from(_members())
            .where(*_lead_conditions(request))
            .group_by(campaign_members.c.campaign_key)
        )
    }
    narrowed = bool(record_conditions(request, leads.c.customer_id))
    all_leads = _all_lead_counts(conn) if narrowed else lead_counts
    found = []
    for campaign in conn.execute(select(campaigns).where(*_running(request))):
        row = per_campaign.get(campaign.campaign_key)
        attributed = money(row.attributed if row is not None else None)
        kept, everyone = lead_counts.get(campaign.campaign_key, 0), all_leads.get(campaign.campaign_key, 0)
        cost = optional_money(campaign.cost)
        if narrowed and cost is not None:
            cost = optional_money(cost * kept / everyone if everyone else Decimal(0))
        found.append(
            CampaignRoi(
                campaign_key=campaign.campaign_key,
                source=campaign.source,
                source_id=campaign.source_id,
                name=campaign.name,
                channel=campaign.channel,
                cost=cost,
                leads=lead_counts.get(campaign.campaign_key, 0),
                customers=int(row.customers) if row is not None else 0,
                won_deals=int(row.won_deals or 0) if row is not None else 0,
                won_revenue=money(row.won_revenue if row is not None else None),
                invoiced_revenue=money(row.invoiced if row is not None else None),
                attributed_revenue=attributed,
                roi=_roi(attributed, cost),
                drill_down=drilldown.encode(NAME, f"campaign:{campaign.campaign_key}", report_filter),
            )
        )
    found.sort(key=lambda item: (item.roi is None, -(item.roi or 0.0), item.name, item.campaign_key))
    cost = sum((item.cost for item in found if item.cost is not None), Decimal("0.00"))
    attributed = sum((item.attributed_revenue for item in found), Decimal("0.00"))
    return CampaignRoiReport(
        currency=config.currency,
        attribution=RULES[config.attribution],
        campaigns=tuple(found),
        cost=cost,
        attributed_revenue=attributed,
        roi=_roi(attributed, cost),
        freshness=Freshness(None, ()),
    )


def _all_lead_counts(conn: Connection) -> dict[str, int]:
    """Every campaign's members, whoever asks: the denominator of a narrowed report's cost share."""
    counts = select(campaign_members.c.campaign_key, func.count(campaign_members.c.lead_key.distinct()))
    return {key: int(count) for key, count in conn.execute(counts.group_by(campaign_members.c.campaign_key))}


def _roi(revenue: Decimal, cost: Decimal | None) -> float | None:
    """(revenue - cost) / cost; None without a cost to return on."""
    if not cost:
        return None
    return share(revenue - cost, cost)


def customers_behind(key: str, request: ReportRequest, config: ReportsConfig) -> Select[Any] | None:
    """The customers a campaign's chosen leads became."""
    kind, _, campaign_key = key.partition(":")
    if kind != "campaign" or not campaign_key:
        return None
    pairs = _pairs(request)
    return select(pairs.c.customer_id).where(pairs.c.campaign_key == campaign_key)
