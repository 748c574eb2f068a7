"""Reports in the graph: the sales funnel, service against SLA, campaign ROI, customer value, complaints against
revenue and churn risk (docs/reports.md), read from the analytic store (:mod:`crmgraph.analytics.reports`).

Any role may read a report; it answers within the role's row scope (a sales rep's funnel is their own
deals), and the field policies (deny, mask) apply to these types as to any other. Every figure that counts
customers or records carries an opaque ``drillDown`` token; ``reportCustomers(drillDown:)`` lists the
customers behind it as the graph's own ``Customer`` objects, under the asker's scope again. Every amount is
nullable, so that a role's policy can deny it (a service agent reads the service report, not revenue).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from crmgraph.analytics.reports import (
    ReportFilter,
    ReportRequest,
    churn,
    customer_page,
    customers_query,
    freshness,
    funnel,
    report,
    scope_of,
    service,
    value,
)
from crmgraph.analytics.reports import campaigns as campaign_report
from crmgraph.analytics.reports import complaints as complaint_report
from crmgraph.errors import ClientError
from crmgraph.resolvers import records as read
from crmgraph.schema.customer import Customer, prefetch_for
from crmgraph.schema.ids import decode_id, not_issued
from crmgraph.schema.marketing import Campaign as CampaignNode
from crmgraph.schema.marketing import record_node
from crmgraph.schema.nodes import Info, Owner
from crmgraph.schema.pagination import (
    TEXT,
    Connection,
    Edge,
    PageInfo,
    check_deadline,
    check_first,
    decode_position,
)
from crmgraph.schema.scalars import instant


@strawberry.input(
    name="ReportFilter",
    description="Which records a report counts. Every field is optional; those given must all hold.",
)
class ReportFilterInput:
    from_: datetime | None = strawberry.field(
        default=None,
        name="from",
        description="The period's start, inclusive: deals and tickets by their creation, revenue by invoice or order "
        "day, won deals (campaign ROI) by close date.",
    )
    to: datetime | None = strawberry.field(default=None, description="The period's end, exclusive.")
    owner_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A CRM owner's id: deals by their own owner, everything else by its customer's owner.",
    )
    team: str | None = strawberry.field(
        default=None, description="A team of workflows.assignment.leads.teams: as ownerId, for any of its members."
    )
    country: str | None = strawberry.field(default=None, description="The customer's country, ISO 3166-1 alpha-2.")
    segment_id: strawberry.ID | None = strawberry.field(
        default=None, description="A marketing segment's id (Segment.id): customers with a lead in it."
    )


def report_filter(given: ReportFilterInput | None) -> ReportFilter:
    """The analytic filter of a ``filter`` argument; a :class:`ClientError` naming the field at fault."""
    if given is None:
        return ReportFilter()
    segment_key = None
    if given.segment_id is not None:
        _, parts = decode_id(given.segment_id, "Segment", argument="filter.segmentId")
        if len(parts) < 2 or not parts[0] or not ":".join(parts[1:]):
            raise not_issued("filter.segmentId", given.segment_id)
        segment_key = f"{parts[0]}:{':'.join(parts[1:])}"
    return ReportFilter(
        start=instant(given.from_, "filter.from") if given.from_ is not None else None,
        end=instant(given.to, "filter.to") if given.to is not None else None,
        owner_id=str(given.owner_id) if given.owner_id is not None else None,
        team=given.team,
        country=given.country,
        segment_key=segment_key,
    )


def teams(assignment: Any) -> Mapping[str, tuple[str, ...]]:
    """Team name -> its members' owner ids, from the running lead distribution (none when it is off)."""
    leads = getattr(assignment, "leads", None)
    rules = getattr(leads, "rules", None)
    return {team.name: tuple(rep.owner_id for rep in team.members) for team in getattr(rules, "teams", ())}


def request_of(info: Info, given: ReportFilter) -> ReportRequest:
    access = info.context.access
    scope = scope_of(access.scope_clauses()) if access is not None else None
    return ReportRequest(filter=given, scope=scope, teams=teams(info.context.assignment))


async def _answer(info: Info, name: str, given: ReportFilterInput | None) -> Any:
    store = info.context.analytics
    if store is None:
        raise ClientError(f"{name}: reports are off on this server (reports.enabled is false)")
    return await report(store, name, request_of(info, report_filter(given)), info.context.reports)


# --- freshness ---


@strawberry.type(description="One part of the analytic store a report read, and how current it is.")
class ReportPart:
    name: str = strawberry.field(description="`source.entity` (crm.deal) or a derived table (model.customer_value).")
    loaded_at: datetime | None = strawberry.field(description="Its last full load (`crmgraph reports rebuild`).")
    changed_at: datetime | None = strawberry.field(description="The last change event applied to it.")
    rows: int


@strawberry.type(description="How current a report's data is.")
class ReportFreshness:
    as_of: datetime | None = strawberry.field(
        description="The oldest moment every part the report read is known current (null: a part never loaded)."
    )
    parts: list[ReportPart]

    @classmethod
    def of(cls, found: freshness.Freshness) -> ReportFreshness:
        return cls(
            as_of=found.as_of,
            parts=[
                ReportPart(name=p.name, loaded_at=p.loaded_at, changed_at=p.changed_at, rows=p.rows)
                for p in found.parts
            ],
        )


async def _customer(info: Info, customer_id: str) -> Customer | None:
    from crmgraph.schema.query import visible_customer  # the root imports this module's types

    if not customer_id.isdigit():
        return None
    return await visible_customer(info, int(customer_id))


# --- the sales funnel ---


@strawberry.type(description="One pipeline stage of the funnel.")
class FunnelStage:
    stage: str = strawberry.field(description="The CRM's stage id.")
    reached: int = strawberry.field(description="Deals that entered this stage (or are in it).")
    current: int = strawberry.field(description="Deals in this stage now.")
    amount: Decimal | None = strawberry.field(description="The reached deals' amount, in the report's currency.")
    conversion_to_next: float | None = strawberry.field(
        description="Of the deals that reached this stage, the share that reached the next (null for the last)."
    )
    median_days_to_next: float | None = strawberry.field(
        description="Velocity: the median days from entering this stage to entering the next."
    )
    drill_down: strawberry.ID = strawberry.field(description="The customers of the deals that reached this stage.")

    @classmethod
    def of(cls, s: funnel.FunnelStage) -> FunnelStage:
        return cls(stage=s.stage, reached=s.reached, current=s.current, amount=s.amount,
                   conversion_to_next=s.conversion_to_next, median_days_to_next=s.median_days_to_next,
                   drill_down=strawberry.ID(s.drill_down))  # fmt: skip


@strawberry.type(description="One owner's deals in the funnel.")
class FunnelOwner:
    source: strawberry.Private[str]
    owner_id: strawberry.ID = strawberry.field(description="The CRM owner's id.")
    open: int
    won: int
    lost: int
    won_amount: Decimal | None
    win_rate: float | None = strawberry.field(description="won / (won + lost); null before any is closed.")
    drill_down: strawberry.ID = strawberry.field(description="The customers of this owner's deals.")

    @strawberry.field(description="The owner, from the CRM (null when it cannot be read).")
    async def owner(self, info: Info) -> Owner | None:
        found = await read.record(info.context.loaders, self.source, "owner", str(self.owner_id))
        return Owner.of(found) if found is not None else None  # type: ignore[arg-type]

    @classmethod
    def of(cls, o: funnel.FunnelOwner) -> FunnelOwner:
        return cls(source=o.owner_source, owner_id=strawberry.ID(o.owner_id), open=o.open, won=o.won, lost=o.lost,
                   won_amount=o.won_amount, win_rate=o.win_rate, drill_down=strawberry.ID(o.drill_down))  # fmt: skip


@strawberry.type(description="Deals by pipeline stage and by owner: conversion and velocity between stages.")
class SalesFunnel:
    currency: str
    stages: list[FunnelStage] = strawberry.field(description="In pipeline order.")
    owners: list[FunnelOwner] = strawberry.field(description="By owner, most won amount first.")
    deals: int
    won: int
    lost: int
    win_rate: float | None = strawberry.field(description="won / (won + lost).")
    drill_down: strawberry.ID = strawberry.field(description="The customers of every deal counted.")
    freshness: ReportFreshness

    @classmethod
    def of(cls, r: funnel.SalesFunnel) -> SalesFunnel:
        return cls(currency=r.currency, stages=[FunnelStage.of(s) for s in r.stages],
                   owners=[FunnelOwner.of(o) for o in r.owners], deals=r.deals, won=r.won, lost=r.lost,
                   win_rate=r.win_rate, drill_down=strawberry.ID(r.drill_down),
                   freshness=ReportFreshness.of(r.freshness))  # fmt: skip


# --- service ---


@strawberry.type(description="Hours to a moment (first reply, resolution) against the SLA targets by priority.")
class SlaFigure:
    measured: int = strawberry.field(description="Tickets that reached the moment (the others are not measured).")
    median_hours: float | None
    p90_hours: float | None
    within_sla: float | None = strawberry.field(description="Of the measured tickets, the share within their target.")
    breached: int = strawberry.field(description="Measured tickets later than their target.")
    drill_down: strawberry.ID = strawberry.field(description="The customers of the breaching tickets.")

    @classmethod
    def of(cls, f: service.SlaFigure) -> SlaFigure:
        return cls(measured=f.measured, median_hours=f.median_hours, p90_hours=f.p90_hours, within_sla=f.within_sla,
                   breached=f.breached, drill_down=strawberry.ID(f.drill_down))  # fmt: skip


@strawberry.type(description="The service figures of the tickets of one group, priority or category.")
class ServiceBreakdown:
    key: str = strawberry.field(description="The group id, priority or category; `(none)` for tickets without.")
    tickets: int
    first_reply: SlaFigure
    resolution: SlaFigure
    drill_down: strawberry.ID

    @classmethod
    def of(cls, b: service.ServiceBreakdown) -> ServiceBreakdown:
        return cls(key=b.key, tickets=b.tickets, first_reply=SlaFigure.of(b.first_reply),
                   resolution=SlaFigure.of(b.resolution), drill_down=strawberry.ID(b.drill_down))  # fmt: skip


@strawberry.type(description="Tickets open now in one group.")
class BacklogRow:
    key: str = strawberry.field(description="The group id; `(none)` for tickets without a group.")
    open: int
    past_sla: int = strawberry.field(
        description="Open tickets older than their resolution target, or unanswered past their first-reply target."
    )
    oldest_hours: float | None
    drill_down: strawberry.ID

    @classmethod
    def of(cls, b: service.BacklogRow) -> BacklogRow:
        return cls(key=b.key, open=b.open, past_sla=b.past_sla, oldest_hours=b.oldest_hours,
                   drill_down=strawberry.ID(b.drill_down))  # fmt: skip


@strawberry.type(description="First reply and resolution against the SLA, by group, priority and category; backlog.")
class ServiceReport:
    tickets: int
    first_reply: SlaFigure
    resolution: SlaFigure
    by_group: list[ServiceBreakdown]
    by_priority: list[ServiceBreakdown]
    by_category: list[ServiceBreakdown]
    backlog: list[BacklogRow] = strawberry.field(description="Open tickets now, by group (the period does not apply).")
    drill_down: strawberry.ID
    freshness: ReportFreshness

    @classmethod
    def of(cls, r: service.ServiceReport) -> ServiceReport:
        return cls(tickets=r.tickets, first_reply=SlaFigure.of(r.first_reply), resolution=SlaFigure.of(r.resolution),
                   by_group=[ServiceBreakdown.of(b) for b in r.by_group],
                   by_priority=[ServiceBreakdown.of(b) for b in r.by_priority],
                   by_category=[ServiceBreakdown.of(b) for b in r.by_category],
                   backlog=[BacklogRow.of(b) for b in r.backlog], drill_down=strawberry.ID(r.drill_down),
                   freshness=ReportFreshness.of(r.freshness))  # fmt: skip


# --- campaign ROI ---


@strawberry.type(description="One campaign's cost against the revenue of the customers its leads became.")
class CampaignRoi:
    row: strawberry.Private[campaign_report.CampaignRoi]
    name: str
    channel: str | None
    cost: Decimal | None
    leads: int
    customers: int = strawberry.field(description="The customers its leads became.")
    won_deals: int = strawberry.field(description="Those customers' deals won in the period.")
    won_revenue: Decimal | None = strawberry.field(description="Their amount (in full, not attributed).")
    invoiced_revenue: Decimal | None = strawberry.field(
        description="Those customers' invoices in the period (in full)."
    )
    attributed_revenue: Decimal | None = strawberry.field(description="The campaign's share by the attribution rule.")
    roi: float | None = strawberry.field(description="(attributed revenue - cost) / cost; null without a cost.")
    drill_down: strawberry.ID = strawberry.field(description="The customers its leads became.")

    @strawberry.field(description="The graph's campaign (null when the marketing system cannot be read).")
    async def campaign(self, info: Info) -> CampaignNode | None:
        found = await read.record(info.context.loaders, self.row.source, "campaign", self.row.source_id)
        node = record_node("Campaign", found) if found is not None else None
        return node if isinstance(node, CampaignNode) else None

    @classmethod
    def of(cls, c: campaign_report.CampaignRoi) -> CampaignRoi:
        return cls(row=c, name=c.name, channel=c.channel, cost=c.cost, leads=c.leads, customers=c.customers,
                   won_deals=c.won_deals, won_revenue=c.won_revenue, invoiced_revenue=c.invoiced_revenue,
                   attributed_revenue=c.attributed_revenue, roi=c.roi,
                   drill_down=strawberry.ID(c.drill_down))  # fmt: skip


@strawberry.type(description="What campaigns cost against the revenue of the customers their leads became.")
class CampaignRoiReport:
    currency: str
    attribution: str = strawberry.field(description="The attribution rule (reports.attribution), in words.")
    campaigns: list[CampaignRoi] = strawberry.field(description="Best ROI first.")
    cost: Decimal | None
    attributed_revenue: Decimal | None
    roi: float | None

    freshness: ReportFreshness

    @classmethod
    def of(cls, r: campaign_report.CampaignRoiReport) -> CampaignRoiReport:
        return cls(currency=r.currency, attribution=r.attribution, campaigns=[CampaignRoi.of(c) for c in r.campaigns],
                   cost=r.cost, attributed_revenue=r.attributed_revenue, roi=r.roi,
                   freshness=ReportFreshness.of(r.freshness))  # fmt: skip


# --- customer value ---


@strawberry.type(description="Customers of one band of predicted value.")
class ValueBand:
    label: str
    customers: int
    lifetime_revenue: Decimal | None
    predicted_value: Decimal | None
    drill_down: strawberry.ID

    @classmethod
    def of(cls, b: value.ValueBand) -> ValueBand:
        return cls(label=b.label, customers=b.customers, lifetime_revenue=b.lifetime_revenue,
                   predicted_value=b.predicted_value, drill_down=strawberry.ID(b.drill_down))  # fmt: skip


@strawberry.type(description="One customer's value: what it brought and what the model expects of it.")
class CustomerValueRow:
    customer_id: strawberry.Private[str]
    name: str | None
    lifetime_revenue: Decimal | None
    predicted_value: Decimal | None = strawberry.field(description="Predicted lifetime value over the horizon.")
    probability_alive: float | None = strawberry.field(description="The model's probability it still buys.")
    expected_purchases: float | None = strawberry.field(description="Purchases expected over the horizon.")
    orders: int

    @strawberry.field(description="The customer (null outside the asker's scope).")
    async def customer(self, info: Info) -> Customer | None:
        return await _customer(info, self.customer_id)

    @classmethod
    def of(cls, r: value.CustomerValueRow) -> CustomerValueRow:
        return cls(customer_id=r.customer_id, name=r.name, lifetime_revenue=r.lifetime_revenue,
                   predicted_value=r.predicted_value, probability_alive=r.probability_alive,
                   expected_purchases=r.expected_purchases, orders=r.orders)  # fmt: skip


@strawberry.type(description="Lifetime revenue and predicted customer lifetime value (BG/NBD + Gamma-Gamma).")
class CustomerValueReport:
    report: strawberry.Private[value.CustomerValueReport]
    currency: str
    horizon_months: int
    customers: int
    lifetime_revenue: Decimal | None
    predicted_value: Decimal | None
    bands: list[ValueBand] = strawberry.field(description="By predicted value, highest first.")
    freshness: ReportFreshness

    @strawberry.field(description="The customers of highest predicted value.")
    def top(self, info: Info, first: int = 10) -> list[CustomerValueRow]:
        check_first(first, value.MAX_TOP)
        return [CustomerValueRow.of(r) for r in self.report.top[:first]]

    @classmethod
    def of(cls, r: value.CustomerValueReport) -> CustomerValueReport:
        return cls(report=r, currency=r.currency, horizon_months=r.horizon_months, customers=r.customers,
                   lifetime_revenue=r.lifetime_revenue, predicted_value=r.predicted_value,
                   bands=[ValueBand.of(b) for b in r.bands], freshness=ReportFreshness.of(r.freshness))  # fmt: skip


# --- complaints against revenue ---


@strawberry.type(description="Customers of one revenue band and their complaints.")
class ComplaintBand:
    label: str
    customers: int
    revenue: Decimal | None
    complaints: int = strawberry.field(description="Complaint tickets created in the period.")
    customers_complaining: int
    drill_down: strawberry.ID

    @classmethod
    def of(cls, b: complaint_report.ComplaintBand) -> ComplaintBand:
        return cls(label=b.label, customers=b.customers, revenue=b.revenue, complaints=b.complaints,
                   customers_complaining=b.customers_complaining, drill_down=strawberry.ID(b.drill_down))  # fmt: skip


@strawberry.type(description="Complaints by the revenue the customers bring.")
class ComplaintsAgainstRevenue:
    currency: str
    bands: list[ComplaintBand] = strawberry.field(description="Revenue bands, highest first.")
    freshness: ReportFreshness

    @classmethod
    def of(cls, r: complaint_report.ComplaintsAgainstRevenue) -> ComplaintsAgainstRevenue:
        return cls(currency=r.currency, bands=[ComplaintBand.of(b) for b in r.bands],
                   freshness=ReportFreshness.of(r.freshness))  # fmt: skip


# --- churn risk ---


@strawberry.type(description="A customer at risk of churning.")
class ChurnRiskRow:
    customer_id: strawberry.Private[str]
    name: str | None
    probability_alive: float | None
    lifetime_revenue: Decimal | None
    revenue_at_risk: Decimal | None = strawberry.field(
        description="Its invoiced revenue in the period (without one: the last 365 days)."
    )
    days_since_last_order: int | None
    open_complaints: int

    @strawberry.field(description="The customer (null outside the asker's scope).")
    async def customer(self, info: Info) -> Customer | None:
        return await _customer(info, self.customer_id)

    @classmethod
    def of(cls, r: churn.ChurnRiskRow) -> ChurnRiskRow:
        return cls(customer_id=r.customer_id, name=r.name, probability_alive=r.probability_alive,
                   lifetime_revenue=r.lifetime_revenue, revenue_at_risk=r.revenue_at_risk,
                   days_since_last_order=r.days_since_last_order, open_complaints=r.open_complaints)  # fmt: skip


@strawberry.type(description="Customers whose probability of still buying is below reports.value.churn_alive_below.")
class ChurnRisk:
    report: strawberry.Private[churn.ChurnRisk]
    currency: str
    at_risk: int
    revenue_at_risk: Decimal | None
    drill_down: strawberry.ID
    freshness: ReportFreshness

    @strawberry.field(description="Most revenue at risk first.")
    def customers(self, info: Info, first: int = 20) -> list[ChurnRiskRow]:
        check_first(first, churn.MAX_ROWS)
        return [ChurnRiskRow.of(r) for r in self.report.customers[:first]]

    @classmethod
    def of(cls, r: churn.ChurnRisk) -> ChurnRisk:
        return cls(report=r, currency=r.currency, at_risk=r.at_risk, revenue_at_risk=r.revenue_at_risk,
                   drill_down=strawberry.ID(r.drill_down), freshness=ReportFreshness.of(r.freshness))  # fmt: skip


# --- the root fields ---


async def report_customers(info: Info, drill_down: str, first: int, after: str | None) -> Connection[Customer]:
    check_first(first, info.context.max_page_size)
    check_deadline()
    store = info.context.analytics
    if store is None:
        raise ClientError("drillDown: reports are off on this server (reports.enabled is false)")
    position = decode_position(after, TEXT) if after else None
    request = request_of(info, ReportFilter())
    query = customers_query(drill_down, request, info.context.reports)
    ids, has_next, total = await asyncio.to_thread(
        customer_page, store, query, first, str(position[0]) if position else None
    )
    found = await asyncio.gather(*(_customer(info, customer_id) for customer_id in ids))
    edges = [Edge(node=c, key=(i,)) for i, c in zip(ids, found, strict=True) if c is not None]
    await asyncio.gather(
        prefetch_for(info, [e.node.customer_id for e in edges], "nodes"),
        prefetch_for(info, [e.node.customer_id for e in edges], "edges", "node"),
    )
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=position is not None,
            start_key=edges[0].key if edges else None,
            end_key=(ids[-1],) if ids else None,
        ),
        total_count=total,
    )


@strawberry.type
class ReportsQuery:
    @strawberry.field(description="The sales funnel: deals by stage and owner, conversion and velocity.")
    async def sales_funnel(self, info: Info, filter: ReportFilterInput | None = None) -> SalesFunnel:
        return SalesFunnel.of(await _answer(info, funnel.NAME, filter))

    @strawberry.field(description="Service: first reply and resolution against SLA, by group, priority, category.")
    async def service_report(self, info: Info, filter: ReportFilterInput | None = None) -> ServiceReport:
        return ServiceReport.of(await _answer(info, service.NAME, filter))

    @strawberry.field(description="Campaign ROI: cost against the revenue of the customers the leads became.")
    async def campaign_roi(self, info: Info, filter: ReportFilterInput | None = None) -> CampaignRoiReport:
        return CampaignRoiReport.of(await _answer(info, campaign_report.NAME, filter))

    @strawberry.field(description="Customer value: lifetime revenue and predicted lifetime value.")
    async def customer_value_report(self, info: Info, filter: ReportFilterInput | None = None) -> CustomerValueReport:
        return CustomerValueReport.of(await _answer(info, value.NAME, filter))

    @strawberry.field(description="Complaints against revenue: complaint tickets by revenue band.")
    async def complaints_against_revenue(
        self, info: Info, filter: ReportFilterInput | None = None
    ) -> ComplaintsAgainstRevenue:
        return ComplaintsAgainstRevenue.of(await _answer(info, complaint_report.NAME, filter))

    @strawberry.field(description="Churn risk: customers probably lost, their revenue, open complaints.")
    async def churn_risk(self, info: Info, filter: ReportFilterInput | None = None) -> ChurnRisk:
        return ChurnRisk.of(await _answer(info, churn.NAME, filter))

    @strawberry.field(
        description="The customers behind a report's figure (its `drillDown` token), within the asker's scope, in a "
        "stable order."
    )
    async def report_customers(
        self, info: Info, drill_down: strawberry.ID, first: int = 20, after: str | None = None
    ) -> Connection[Customer]:
        return await report_customers(info, str(drill_down), first, after)
