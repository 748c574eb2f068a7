"""Reading marketing records for the schema: a customer's leads, a lead's customer, a campaign's leads.

A marketing source is found by what it serves, never by its name: one whose people can be listed by
campaign (``person`` by ``campaign``) keeps leads, and its ``person`` records are :class:`LeadRecord`.
Its companies are ``party`` records and its leads ``person`` records, so identity resolution links them
like any other source's: a lead belongs to the customer of its company's link or, for a lead filed under
no company of the marketing system, to the customer of the golden person it was linked to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from crmgraph.policy.roles import Access
from crmgraph.records import LeadRecord, Record
from crmgraph.resolvers import records as read
from crmgraph.resolvers.eager import gathered
from crmgraph.resolvers.loaders import Loaders
from crmgraph.resolvers.scope import customer_in_scope


def lead_sources(loaders: Loaders) -> list[str]:
    """The sources that keep leads (their people can be listed by campaign), in precedence order."""
    return loaders.sources_serving("person", "campaign")


def is_lead_source(loaders: Loaders, source: str) -> bool:
    adapter = loaders.adapters.get(source)
    return adapter is not None and adapter.serves("person", "campaign")


async def customer_leads(loaders: Loaders, customer_id: int) -> list[LeadRecord]:
    """The customer's leads, once each: those filed under its companies in a marketing system, and those
    identity resolution linked as persons to the customer (to one of its people, or to it by company name
    or e-mail domain). A marketing system that fails fails the list (with its error)."""
    links = [link for link in await loaders.links.load(customer_id) if is_lead_source(loaders, link.source)]
    loads: list[asyncio.Future[list[Record]] | asyncio.Future[Record | None]] = [
        loaders.related(link.source, "person", "party").load(link.source_id)
        for link in links
        if link.entity == "party" and loaders.adapters[link.source].serves("person", "party")
    ]
    loads += [loaders.by_id(link.source, "person").load(link.source_id) for link in links if link.entity == "person"]
    results = await gathered(loads, return_exceptions=True)
    found: dict[tuple[str, str], LeadRecord] = {}
    for result in results:
        if isinstance(result, BaseException):
            raise result
        for lead in result if isinstance(result, list) else [result]:
            if isinstance(lead, LeadRecord):
                found.setdefault((lead.source, lead.source_id), lead)
    return list(found.values())


async def lead_customer(loaders: Loaders, lead: LeadRecord) -> int | None:
    """The golden customer of the lead: its company's, else its golden person's; None for a prospect."""
    if lead.party_id is not None:
        customer_id = await loaders.customer_of_party.load((lead.source, lead.party_id))
        if customer_id is not None:
            return customer_id
    links = await loaders.person_links.load((lead.source, lead.source_id))
    return next((link.customer_id for link in links if link.customer_id), None)  # 0: filed under no customer


async def lead_customers(loaders: Loaders, leads: Sequence[LeadRecord]) -> list[int | None]:
    """:func:`lead_customer` of many leads: asked together, one identity look-up per kind for all of them."""
    return list(await gathered([lead_customer(loaders, lead) for lead in leads]))


async def visible_leads(loaders: Loaders, access: Access | None, leads: Sequence[LeadRecord]) -> list[LeadRecord]:
    """The leads the principal's row scope admits: those whose customer is in scope. A prospect (a lead no
    customer holds) is outside every scope, as any record no customer holds is."""
    if access is None or not access.scoped:
        return list(leads)
    customers = await lead_customers(loaders, leads)
    admitted = await gathered([_admits(loaders, access, customer_id) for customer_id in customers])
    return [lead for lead, yes in zip(leads, admitted, strict=True) if yes]


async def _admits(loaders: Loaders, access: Access, customer_id: int | None) -> bool:
    return customer_id is not None and await customer_in_scope(loaders, access, customer_id)


async def campaign_leads(loaders: Loaders, source: str, campaign_id: str) -> list[LeadRecord]:
    return read.of_type(await read.related(loaders, source, "person", "campaign", campaign_id), LeadRecord)


async def campaign_customers(loaders: Loaders, access: Access | None, source: str, campaign_id: str) -> list[int]:
    """The distinct golden customers the campaign's leads belong to (prospects have none), in scope."""
    leads = await campaign_leads(loaders, source, campaign_id)
    customers = list(dict.fromkeys(c for c in await lead_customers(loaders, leads) if c is not None))
    admitted = await gathered([_admits(loaders, access, c) for c in customers]) if access else None
    return [c for n, c in enumerate(customers) if admitted is None or admitted[n]]


async def every_campaign(loaders: Loaders) -> list[Record]:
    """Every campaign of every source that can list them (each list read once and cached); a source that
    fails fails the list."""
    sources = [name for name, adapter in loaders.adapters.items() if "campaign" in adapter.scannable]
    results = await gathered([loaders.every(source, "campaign") for source in sources], return_exceptions=True)
    found: list[Record] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        found.extend(result)
    return found
