"""Role policies over marketing data: row scopes reach leads through their customers; the marketing role
reads its own leads in clear while the CRM's people stay masked for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmgraph.identity.store import IdentityStore
from crmgraph.identity.tables import match_keys
from crmgraph.schema.ids import encode_id
from tests.facade import Facade, serve_facade
from tests.marketing_source import (
    MarketingEstate,
)
from tests.test_governance import GOVERNANCE, Estate360, token
from tests.test_marketing_graph import _expected_customer, _lead_id, _ok


@pytest.fixture(scope="module")
def governed_marketing(marketing_estate: MarketingEstate) -> Iterator[Facade]:
    with serve_facade(marketing_estate.config(namespace="mkt-governed", governance=GOVERNANCE)) as facade:
        yield facade


class LeadOwner(Estate360):
    """The sales rep whose customers hold the most leads (the busiest owner's may hold none)."""

    def __init__(self, m: MarketingEstate) -> None:
        super().__init__(m.identity_url)
        store = IdentityStore(m.identity_url)
        with store.engine.connect() as conn:
            rows = conn.execute(match_keys.select().where(match_keys.c.kind == "owner_id")).all()
        store.close()
        owners: dict[str, set[int]] = {}
        for row in rows:
            owners.setdefault(row.value, set()).add(row.customer_id)
        with_leads = {_expected_customer(m, lead) for lead in m.truth.leads} - {None}
        self.owner, self.owned = max(owners.items(), key=lambda item: (len(item[1] & with_leads), item[0]))
        self.outside = sorted(self.all_customers - self.owned)
        assert self.owned & with_leads and self.outside


@pytest.fixture(scope="module")
def owned(marketing_estate: MarketingEstate) -> Estate360:
    return LeadOwner(marketing_estate)


CAMPAIGN = """query($id: ID!) { node(id: $id) { ... on Campaign {
  leads(first: 200) { totalCount nodes { id customer { id } } }
  customers(first: 100) { totalCount nodes { id } } } } }"""


def test_a_scoped_role_sees_only_the_leads_and_customers_in_its_scope(
    governed_marketing: Facade, marketing_estate: MarketingEstate, owned: Estate360
) -> None:
    m = marketing_estate
    rep = token("sales_rep", "rita.rep", owner_id=owned.owner)
    checked_outside = False
    for campaign in m.truth.campaigns:
        leads = m.truth.leads_of_campaign(campaign.source_id)
        customer_of = {lead.source_id: _expected_customer(m, lead) for lead in leads}
        mine = {_lead_id(lead) for lead in leads if customer_of[lead.source_id] in owned.owned}
        variables = {"id": encode_id("Campaign", campaign.source, campaign.source_id)}
        seen = _ok(governed_marketing.query(CAMPAIGN, variables, headers=rep))["node"]
        assert {n["id"] for n in seen["leads"]["nodes"]} == mine and seen["leads"]["totalCount"] == len(mine)
        assert {n["id"] for n in seen["customers"]["nodes"]} == {
            encode_id("Customer", str(c)) for c in customer_of.values() if c in owned.owned
        }
        everything = _ok(governed_marketing.query(CAMPAIGN, variables, headers=token("admin")))["node"]
        assert everything["leads"]["totalCount"] == len(leads)
        checked_outside |= len(mine) < len(leads)
    assert checked_outside, "some leads lie outside the rep's scope"


def test_a_lead_outside_the_scope_and_a_prospect_are_answered_as_missing(
    governed_marketing: Facade, marketing_estate: MarketingEstate, owned: Estate360
) -> None:
    m = marketing_estate
    rep = token("sales_rep", "rita.rep", owner_id=owned.owner)
    customer_of = {lead.source_id: _expected_customer(m, lead) for lead in m.truth.leads}
    inside = next(lead for lead in m.truth.leads if customer_of[lead.source_id] in owned.owned)
    outside = next(lead for lead in m.truth.leads if customer_of[lead.source_id] not in (None, *owned.owned))
    prospect = next(lead for lead in m.truth.leads if customer_of[lead.source_id] is None)
    query = """query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Lead { customer { id } } } }"""
    ids = [_lead_id(inside), _lead_id(outside), _lead_id(prospect)]
    nodes = _ok(governed_marketing.query(query, {"ids": ids}, headers=rep))["nodes"]
    assert nodes[0] == {"id": ids[0], "customer": {"id": encode_id("Customer", str(customer_of[inside.source_id]))}}
    assert nodes[1:] == [None, None]
    everything = _ok(governed_marketing.query(query, {"ids": ids}, headers=token("admin")))["nodes"]
    assert [n["id"] for n in everything] == ids and everything[2]["customer"] is None


def test_the_marketing_role_reads_leads_in_clear_and_contacts_masked(
    governed_marketing: Facade, marketing_estate: MarketingEstate
) -> None:
    lead = next(lead for lead in marketing_estate.truth.leads if lead.email and lead.party_id)
    query = """query($id: ID!) { node(id: $id) { ... on Lead { email contact { email } } } }"""
    node = _ok(governed_marketing.query(query, {"id": _lead_id(lead)}, headers=token("marketing")))["node"]
    assert node["email"] == lead.email
    assert node["contact"] is not None and node["contact"]["email"] != lead.email and "•" in node["contact"]["email"]
