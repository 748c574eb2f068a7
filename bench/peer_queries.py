"""The peer benchmark's queries: each page as crmgraph asks it and as the peer gateway asks it.

The peer's supergraph is the demo CRM's and ticket system's REST APIs as GraphQL Mesh composes them, so
its queries name REST operations (``listCompanies``, ``getCompany``) where crmgraph's name the domain. Each
pair reads the same fields from the same systems, except where the peer cannot: it has no ERP (orders,
invoices, revenue) and no identity resolution, so it cannot join a CRM company to its ticket-system
organization inside a list (the demo's Zendesk offers no organization search by ``external_id``). The
customer-360 pair gets the organization's id from crmgraph's identity store, a join the peer is handed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from customer360 import QUERY as CUSTOMER_360

PAGE = 50

LIST_OWNER = f"{{ customers(first: {PAGE}) {{ nodes {{ name owner {{ name email }} }} }} }}"
LIST_CONTACTS = f"""{{ customers(first: {PAGE}) {{ nodes {{
  name owner {{ name email }} contacts(first: 5) {{ nodes {{ name email }} }}
}} }} }}"""
LIST_FULL = f"""{{ customers(first: {PAGE}) {{ nodes {{
  name owner {{ name email }} contacts(first: 5) {{ nodes {{ name email }} }}
  orders(first: 5) {{ nodes {{ number status total {{ amount currencyCode }} }} }}
  tickets(first: 5) {{ nodes {{ subject status }} }}
}} }} }}"""

PEER_LIST_OWNER = f"""{{ listCompanies(limit: {PAGE}, properties: "name,hubspot_owner_id") {{
  results {{ id properties {{ name }} owner {{ firstName lastName email }} }}
}} }}"""
PEER_LIST_CONTACTS = f"""{{
  listCompanies(limit: {PAGE}, properties: "name,hubspot_owner_id", associations: "contacts") {{ results {{
    id properties {{ name }} owner {{ firstName lastName email }}
    contacts(first: 5) {{ results {{ id properties {{ firstname lastname email }} }} }}
  }}
}} }}"""
PEER_CUSTOMER_360 = """query($company: String!, $organization: String!) {
  getCompany(companyId: $company, properties: "name,domain,country,hubspot_owner_id", associations: "contacts,deals") {
    properties { name domain country } owner { firstName lastName }
    contacts(first: 20) { results { properties { firstname lastname email phone } } }
    deals(first: 10) { results { properties { dealname dealstage amount deal_currency_code } } }
  }
  organizationTickets(organizationId: $organization, page_LEFT_SQUARE_BRACE_size_RIGHT_SQUARE_BRACE_: 10) {
    tickets { subject status comments { comments { body created_at } } }
  }
}"""


@dataclass(frozen=True)
class Request:
    query: str
    variables: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {"query": self.query, "variables": self.variables}


@dataclass(frozen=True)
class Case:
    """One page, asked of both: the requests cycled through (one, or one per sampled customer)."""

    name: str
    crmgraph: list[Request]
    peer: list[Request]
    note: str = ""


def list_cases() -> list[Case]:
    return [
        Case("list: 50 with owner", [Request(LIST_OWNER, {})], [Request(PEER_LIST_OWNER, {})]),
        Case(
            "list: 50 with owner + 5 contacts",
            [Request(LIST_CONTACTS, {})],
            [Request(PEER_LIST_CONTACTS, {})],
        ),
        Case(
            "customers(first: 50): owner, contacts, orders, tickets",
            [Request(LIST_FULL, {})],
            [Request(PEER_LIST_CONTACTS, {})],
            "peer: owner + contacts only (no ERP; no company-to-organization join for tickets)",
        ),
    ]


def customer_360_case(customers: list[tuple[str, str, int]]) -> Case:
    """``customers``: (crmgraph global id, CRM company id, ticket-system organization id) of each sampled one."""
    return Case(
        "customer-360",
        [Request(CUSTOMER_360, {"id": golden}) for golden, _, _ in customers],
        [Request(PEER_CUSTOMER_360, {"company": company, "organization": str(org)}) for _, company, org in customers],
        "peer: CRM company + deals + contacts, Zendesk tickets + comments (no ERP orders, invoices, timeline)",
    )
