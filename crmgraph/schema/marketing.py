"""Marketing in the graph: leads, campaigns, segments and the touches of a lead (a marketing-automation
system's records), joined to customers and contacts by identity resolution.

Every field reads through the request's loaders, so the campaigns, segments or touches of a page of leads
are one upstream call per path. A lead is customer data: a principal with a row scope sees only the leads
whose customer is in scope (a prospect, held by no customer, by none). Campaigns and segments are the
marketing team's own records, visible to every role; what they lead to (leads, customers) is scoped.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from crmgraph import records
from crmgraph.resolvers import marketing as mkt
from crmgraph.resolvers import records as read
from crmgraph.resolvers.scope import customer_in_scope
from crmgraph.schema.follow_up import DEFAULT_PAGE, newest_first
from crmgraph.schema.ids import encode_id
from crmgraph.schema.nodes import _CUSTOMER_TYPE, Contact, CustomerRef, Info
from crmgraph.schema.pagination import Connection, paginate
from crmgraph.schema.scalars import Money, Node, SourceLink

if TYPE_CHECKING:
    from crmgraph.schema.customer import Customer

# The record's enum is the schema's enum (as in crmgraph.schema.scalars), under a name that says whose.
strawberry.enum(records.TouchKind, name="MarketingTouchKind", description="How a lead met a campaign's content.")
TouchKind = records.TouchKind


def _source(record: records.Record) -> SourceLink:
    return SourceLink(system=record.source, record_id=record.source_id)


def lead_key(lead: records.LeadRecord) -> tuple[str, str, str]:
    return lead.name.lower(), lead.source, lead.source_id


def touch_key(touch: records.TouchRecord) -> tuple[float, str, str]:
    return newest_first(touch.occurred_at), touch.source, touch.source_id


def campaign_key(campaign: records.CampaignRecord) -> tuple[float, str, str]:
    return newest_first(campaign.starts_at), campaign.source, campaign.source_id


@strawberry.type(description="A named list of leads in the marketing system (a static or dynamic segment).")
class Segment(Node):
    record: strawberry.Private[records.SegmentRecord]
    id: strawberry.ID
    name: str = strawberry.field(description="The segment's name as marketing wrote it.")
    alias: str | None = strawberry.field(description="The segment's short, stable name (its alias).")
    description: str | None = strawberry.field(description="What the segment gathers.")
    source: SourceLink = strawberry.field(description="The record the segment comes from.")

    @classmethod
    def of(cls, r: records.SegmentRecord) -> Segment:
        return cls(
            record=r, id=strawberry.ID(encode_id("Segment", r.source, r.source_id)), name=r.name, alias=r.alias,
            description=r.description, source=_source(r),
        )  # fmt: skip


@strawberry.type(
    description="A marketing campaign: what it cost, when it ran, whom it reached (`leads`) and which customers "
    "those leads belong to (`customers`, whose deals and invoices show what the campaign led to)."
)
class Campaign(Node):
    record: strawberry.Private[records.CampaignRecord]
    id: strawberry.ID
    name: str = strawberry.field(description="The campaign's name.")
    channel: str | None = strawberry.field(
        description="How it reached people, as the marketing system says (email, webinar, trade_show, ...)."
    )
    description: str | None = strawberry.field(description="What the campaign is about.")
    active: bool = strawberry.field(description="Whether the campaign is running (published) now.")
    cost: Money | None = strawberry.field(description="What the campaign cost; null where nobody recorded it.")
    starts_at: datetime | None = strawberry.field(description="When the campaign started.")
    ends_at: datetime | None = strawberry.field(description="When the campaign ended (or will end).")
    source: SourceLink = strawberry.field(description="The record the campaign comes from.")

    @classmethod
    def of(cls, r: records.CampaignRecord) -> Campaign:
        return cls(
            record=r, id=strawberry.ID(encode_id("Campaign", r.source, r.source_id)), name=r.name, channel=r.channel,
            description=r.description, active=r.active, cost=Money.of(r.cost), starts_at=r.starts_at,
            ends_at=r.ends_at, source=_source(r),
        )  # fmt: skip

    @strawberry.field(
        description="The leads the campaign reached, by name. With a row scope, only those of customers in scope. "
        "Null, with the error, when the marketing system fails."
    )
    async def leads(self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None) -> Connection[Lead] | None:
        loaders = info.context.loaders
        leads = await mkt.campaign_leads(loaders, self.record.source, self.record.source_id)
        visible = await mkt.visible_leads(loaders, info.context.access, leads)
        return paginate(visible, lead_key, first=first, after=after, cap=info.context.max_page_size,
                        wrap=Lead.of)  # type: ignore[return-value]  # fmt: skip

    @strawberry.field(
        description="The customers the campaign's leads belong to, once each, in a stable order: with their deals, "
        "invoices and lifetimeRevenue, what the campaign led to. Leads no customer holds (prospects) count for "
        "none; with a row scope, only customers in scope."
    )
    async def customers(
        self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[CustomerRef] | None:
        loaders = info.context.loaders
        ids = await mkt.campaign_customers(loaders, info.context.access, self.record.source, self.record.source_id)
        customer_type = _CUSTOMER_TYPE.resolve_type()
        return paginate(ids, lambda customer_id: (customer_id,), first=first, after=after,
                        cap=info.context.max_page_size, wrap=customer_type.of)  # type: ignore[return-value]  # fmt: skip


@strawberry.type(
    description="One marketing engagement of a lead: an e-mail sent, opened or clicked, a form submitted, a page "
    "visited, a campaign joined, points changed."
)
class MarketingTouch:
    record: strawberry.Private[records.TouchRecord]
    kind: TouchKind = strawberry.field(description="What happened.")
    occurred_at: datetime = strawberry.field(description="When it happened.")
    title: str | None = strawberry.field(description="The e-mail's subject, the form's or the page's name.")
    detail: str | None = strawberry.field(description="The link clicked, the page's address, the points' reason.")
    source: SourceLink = strawberry.field(description="The record the touch comes from.")

    @classmethod
    def of(cls, r: records.TouchRecord) -> MarketingTouch:
        return cls(record=r, kind=r.kind, occurred_at=r.occurred_at, title=r.title, detail=r.detail, source=_source(r))

    @strawberry.field(description="The campaign the touch belongs to, if any.")
    async def campaign(self, info: Info) -> Campaign | None:
        if self.record.campaign_id is None:
            return None
        found = await read.record(info.context.loaders, self.record.source, "campaign", self.record.campaign_id)
        return Campaign.of(found) if isinstance(found, records.CampaignRecord) else None

    @strawberry.field(description="The lead who was touched (null outside the principal's row scope).")
    async def lead(self, info: Info) -> Lead | None:
        loaders = info.context.loaders
        found = await read.record(loaders, self.record.source, "person", self.record.person_id)
        if not isinstance(found, records.LeadRecord):
            return None
        return Lead.of(found) if await mkt.visible_leads(loaders, info.context.access, [found]) else None


@strawberry.type(
    description="A person the marketing system knows (a lead): the marketing facts about them, and through "
    "identity resolution the CRM contact and the customer they are."
)
class Lead(Node):
    record: strawberry.Private[records.LeadRecord]
    id: strawberry.ID
    name: str = strawberry.field(description="The lead's full name.")
    first_name: str | None = strawberry.field(description="Given name.")
    last_name: str | None = strawberry.field(description="Family name.")
    email: str | None = strawberry.field(description="E-mail address (personal data).")
    phone: str | None = strawberry.field(description="Phone number (personal data).")
    company: str | None = strawberry.field(description="The company name as the lead gave it (free text).")
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 country code.")
    points: int = strawberry.field(description="The lead score.")
    stage: str | None = strawberry.field(description="The marketing funnel stage (Lead, MQL, SQL, ...).")
    last_active_at: datetime | None = strawberry.field(description="When the lead last engaged with anything.")
    tags: list[str] = strawberry.field(description="The marketing system's tags.")
    created_at: datetime | None = strawberry.field(description="When the marketing system first knew the lead.")
    source: SourceLink = strawberry.field(description="The record the lead's fields come from.")

    @classmethod
    def of(cls, r: records.LeadRecord) -> Lead:
        return cls(
            record=r, id=strawberry.ID(encode_id("Lead", r.source, r.source_id)), name=r.name,
            first_name=r.first_name, last_name=r.last_name, email=r.email, phone=r.phone, company=r.company,
            country=r.country, points=r.points, stage=r.stage, last_active_at=r.last_active_at, tags=list(r.tags),
            created_at=r.created_at, source=_source(r),
        )  # fmt: skip

    @strawberry.field(
        description="The customer the lead belongs to: the one its company in the marketing system is linked to, "
        "else the one of the person identity resolution linked it to. Null for a prospect, and outside the "
        "principal's row scope."
    )
    async def customer(self, info: Info) -> CustomerRef | None:
        loaders = info.context.loaders
        customer_id = await mkt.lead_customer(loaders, self.record)
        if customer_id is None or not await customer_in_scope(loaders, info.context.access, customer_id):
            return None
        customer_type: type[Customer] = _CUSTOMER_TYPE.resolve_type()
        return customer_type.of(customer_id)

    @strawberry.field(
        description="The contact in another system (the CRM first, in configured order) that identity resolution "
        "found to be the same person; null if none was."
    )
    async def contact(self, info: Info) -> Contact | None:
        loaders = info.context.loaders
        links = await loaders.person_links.load((self.record.source, self.record.source_id))
        other = next((link for link in read.in_precedence(loaders, links) if link.source != self.record.source), None)
        if other is None:
            return None
        found = await read.record(loaders, other.source, "person", other.source_id)
        return Contact.of(found, links) if isinstance(found, records.PersonRecord) else None

    @strawberry.field(description="The campaigns the lead is a member of, by name.")
    async def campaigns(self, info: Info) -> list[Campaign] | None:
        found = await read.related(
            info.context.loaders, self.record.source, "campaign", "person", self.record.source_id
        )
        campaigns = read.of_type(found, records.CampaignRecord)
        return [Campaign.of(c) for c in sorted(campaigns, key=lambda c: (c.name.lower(), c.source_id))]

    @strawberry.field(description="The segments the lead is in, by name.")
    async def segments(self, info: Info) -> list[Segment] | None:
        found = await read.related(info.context.loaders, self.record.source, "segment", "person", self.record.source_id)
        segments = read.of_type(found, records.SegmentRecord)
        return [Segment.of(s) for s in sorted(segments, key=lambda s: (s.name.lower(), s.source_id))]

    @strawberry.field(description="What the lead did with the campaigns' content, newest first.")
    async def touches(
        self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None
    ) -> Connection[MarketingTouch] | None:
        found = await read.related(info.context.loaders, self.record.source, "touch", "person", self.record.source_id)
        touches = read.of_type(found, records.TouchRecord)
        return paginate(touches, touch_key, first=first, after=after, cap=info.context.max_page_size,
                        wrap=MarketingTouch.of)  # type: ignore[return-value]  # fmt: skip


async def campaigns_page(info: Info, first: int, after: str | None, channel: str | None) -> Connection[Campaign]:
    """The root list: every campaign of every marketing source, newest start first, optionally of a channel."""
    found = read.of_type(await mkt.every_campaign(info.context.loaders), records.CampaignRecord)
    wanted = channel.strip().lower() if channel is not None else None
    campaigns = [c for c in found if wanted is None or (c.channel or "").lower() == wanted]
    return paginate(campaigns, campaign_key, first=first, after=after, cap=info.context.max_page_size,
                    wrap=Campaign.of)  # type: ignore[return-value]  # fmt: skip


def record_node(type_name: str, record: records.Record) -> Node | None:
    """The node of a marketing record read by id for ``node(id:)``; None for a record of another kind."""
    if type_name == "Lead" and isinstance(record, records.LeadRecord):
        return Lead.of(record)
    if type_name == "Campaign" and isinstance(record, records.CampaignRecord):
        return Campaign.of(record)
    if type_name == "Segment" and isinstance(record, records.SegmentRecord):
        return Segment.of(record)
    return None
