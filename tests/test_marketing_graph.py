"""Marketing in the customer graph: leads, campaigns, segments and touches, joined to customers and contacts.

Every expectation is derived from what the marketing source holds (tests/marketing_source.py, a stand-in
until the demo marketing system and its YAML adapter land) and from the identity store that linked it.
"""

from __future__ import annotations

from typing import Any

from crmgraph.identity.store import IdentityStore
from crmgraph.records import LeadRecord
from crmgraph.schema.ids import decode_id, encode_id
from crmgraph.schema.marketing import touch_key
from tests.facade import Facade
from tests.marketing_source import (
    SOURCE,
    MarketingEstate,
)


def _ok(result: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in result, result["errors"]
    data: dict[str, Any] = result["data"]
    return data


def _calls(result: dict[str, Any], source: str | None = None, operation: str | None = None) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = result["extensions"]["upstream"]["calls"]
    return [
        c
        for c in calls
        if (source is None or c["source"] == source) and (operation is None or operation == c["operation"])
    ]


def _lead_id(lead: LeadRecord) -> str:
    return encode_id("Lead", lead.source, lead.source_id)


def _customer_of_party(identity_url: str, source: str, party_id: str) -> int | None:
    store = IdentityStore(identity_url)
    with store.engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT customer_id FROM crmgraph_links WHERE source = ? AND source_id = ?", (source, party_id)
        ).first()
    store.close()
    return int(row[0]) if row else None


def _filed_customer(m: MarketingEstate) -> tuple[int, list[LeadRecord]]:
    """A customer whose marketing company holds leads, and those leads."""
    for party in m.truth.parties:
        customer_id = _customer_of_party(m.identity_url, SOURCE, party.source_id)
        leads = [lead for lead in m.truth.leads if lead.party_id == party.source_id]
        if customer_id is not None and leads:
            return customer_id, leads
    raise AssertionError("no marketing company is linked to a customer")


def test_a_lead_reads_its_own_fields_and_provenance(
    marketing_facade: Facade, marketing_estate: MarketingEstate
) -> None:
    lead = marketing_estate.truth.leads[0]
    query = """query($id: ID!) { node(id: $id) { ... on Lead { id name firstName lastName email phone company country
      points stage lastActiveAt tags createdAt source { system recordId } } } }"""
    node = _ok(marketing_facade.query(query, {"id": _lead_id(lead)}))["node"]
    assert node["id"] == _lead_id(lead)
    assert (node["name"], node["email"], node["company"], node["points"], node["stage"]) == (
        lead.name,
        lead.email,
        lead.company,
        lead.points,
        lead.stage,
    )
    assert node["tags"] == list(lead.tags)
    assert node["source"] == {"system": lead.source, "recordId": lead.source_id}


def _golden_person(identity_url: str, source: str, source_id: str) -> tuple[int | None, list[tuple[str, str]]]:
    """The customer of the record's golden person (None: filed under none) and every record of that person."""
    store = IdentityStore(identity_url)
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT p.customer_id, o.source, o.source_id FROM crmgraph_person_links l"
            " JOIN crmgraph_persons p ON p.id = l.person_id JOIN crmgraph_person_links o ON o.person_id = l.person_id"
            " WHERE l.source = ? AND l.source_id = ?",
            (source, source_id),
        ).fetchall()
    store.close()
    return (rows[0][0] if rows else None), [(row[1], row[2]) for row in rows]


def _expected_customer(m: MarketingEstate, lead: LeadRecord) -> int | None:
    if lead.party_id is not None:
        found = _customer_of_party(m.identity_url, lead.source, lead.party_id)
        if found is not None:
            return found
    return _golden_person(m.identity_url, lead.source, lead.source_id)[0]


LEAD_LINKS = """query($ids: [ID!]!) { nodes(ids: $ids) { ... on Lead { id customer { id }
  contact { email source { system
  recordId } } } } }"""


def test_a_lead_is_tied_to_its_customer_and_crm_contact_by_identity_resolution(
    marketing_facade: Facade, marketing_estate: MarketingEstate
) -> None:
    """Leads filed under a company the identity engine linked to a customer, leads of prospects, and leads
    with no company at all (a private address), each tied to what identity resolution found for it."""
    m = marketing_estate
    leads = m.truth.leads
    nodes = _ok(marketing_facade.query(LEAD_LINKS, {"ids": [_lead_id(lead) for lead in leads]}))["nodes"]
    tied = 0
    for lead, node in zip(leads, nodes, strict=True):
        expected = _expected_customer(m, lead)
        assert node["customer"] == ({"id": encode_id("Customer", str(expected))} if expected else None), lead
        others = [link for link in _golden_person(m.identity_url, lead.source, lead.source_id)[1] if link[0] != SOURCE]
        if others:
            assert node["contact"] is not None and node["contact"]["source"]["system"] != SOURCE
            assert (node["contact"]["source"]["system"], node["contact"]["source"]["recordId"]) in others
            tied += 1
        else:
            assert node["contact"] is None
    unfiled = [lead for lead in leads if lead.party_id is None and _expected_customer(m, lead) is None]
    assert tied and unfiled and len(unfiled) < len(leads), "the source holds linked leads and leads of nobody"


def test_a_leads_campaigns_segments_and_touches_are_what_the_source_says(
    marketing_facade: Facade, marketing_estate: MarketingEstate
) -> None:
    truth = marketing_estate.truth
    lead = max(truth.leads, key=lambda lead: (len(truth.touches_of(lead.source_id)), lead.source_id))
    query = """query($id: ID!, $after: String) { node(id: $id) { ... on Lead {
      campaigns { id name channel cost { amount currencyCode } } segments { id name alias }
      touches(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor }
        nodes { kind occurredAt title detail campaign { id } lead { id } } } } } }"""
    node = _ok(marketing_facade.query(query, {"id": _lead_id(lead)}))["node"]
    assert {c["id"] for c in node["campaigns"]} == {
        encode_id("Campaign", c.source, c.source_id) for c in truth.campaigns_of(lead.source_id)
    }
    assert {s["name"] for s in node["segments"]} == {s.name for s in truth.segments_of(lead.source_id)}
    touches = sorted(truth.touches_of(lead.source_id), key=touch_key)  # newest first, then by id
    page = node["touches"]
    assert page["totalCount"] == len(touches) and len(touches) > 2
    assert [t["title"] for t in page["nodes"]] == [t.title for t in touches[:2]], "newest first"
    assert all(t["lead"]["id"] == _lead_id(lead) for t in page["nodes"])
    first = touches[0]
    assert page["nodes"][0]["kind"] == first.kind.value
    assert page["nodes"][0]["campaign"] == (
        {"id": encode_id("Campaign", SOURCE, first.campaign_id)} if first.campaign_id else None
    )
    rest = _ok(marketing_facade.query(query, {"id": _lead_id(lead), "after": page["pageInfo"]["endCursor"]}))
    assert [t["title"] for t in rest["node"]["touches"]["nodes"]] == [t.title for t in touches[2:4]]


def test_a_campaign_lists_its_leads_and_the_distinct_customers_they_belong_to(
    marketing_facade: Facade, marketing_estate: MarketingEstate
) -> None:
    m = marketing_estate
    campaign = max(m.truth.campaigns, key=lambda c: (len(m.truth.leads_of_campaign(c.source_id)), c.source_id))
    leads = m.truth.leads_of_campaign(campaign.source_id)
    customers = {c for c in (_expected_customer(m, lead) for lead in leads) if c is not None}
    query = """query($id: ID!) { node(id: $id) { ... on Campaign { name channel active startsAt endsAt
      cost { amount currencyCode }
      leads(first: 200) { totalCount nodes { id name } }
      customers(first: 100) { totalCount nodes { id name deals(first: 5) { nodes { stage amount { amount } } }
        invoices(first: 5) { nodes { gross { amount } } } lifetimeRevenue { amount currencyCode } } } } } }"""
    node = _ok(marketing_facade.query(query, {"id": encode_id("Campaign", campaign.source, campaign.source_id)}))[
        "node"
    ]
    assert (node["name"], node["channel"], node["active"]) == (campaign.name, campaign.channel, campaign.active)
    assert campaign.cost is not None and node["cost"]["amount"] == str(campaign.cost.amount)
    assert {n["id"] for n in node["leads"]["nodes"]} == {_lead_id(lead) for lead in leads}
    assert [n["name"] for n in node["leads"]["nodes"]] == sorted(
        (n["name"] for n in node["leads"]["nodes"]), key=str.lower
    )
    assert node["customers"]["totalCount"] == len(customers) < len(leads), "once each; prospects count for none"
    assert {n["id"] for n in node["customers"]["nodes"]} == {encode_id("Customer", str(c)) for c in customers}


def test_the_campaigns_list_is_one_cached_scan_and_filters_by_channel(
    marketing_facade: Facade, marketing_estate: MarketingEstate
) -> None:
    truth = marketing_estate.truth
    query = """query($channel: String) { campaigns(first: 50, channel: $channel) { totalCount nodes { id name } } }"""
    every = marketing_facade.query(query, explain=True)
    assert _ok(every)["campaigns"]["totalCount"] == len(truth.campaigns)
    assert len(_calls(every, SOURCE)) == 1
    starts = {encode_id("Campaign", c.source, c.source_id): c.starts_at for c in truth.campaigns}
    listed = [starts[n["id"]] for n in every["data"]["campaigns"]["nodes"]]
    assert listed == sorted(listed, reverse=True), "newest start first"
    channel = truth.campaigns[0].channel
    assert channel is not None
    again = marketing_facade.query(query, {"channel": channel.upper()}, explain=True)
    expected = {encode_id("Campaign", c.source, c.source_id) for c in truth.campaigns if c.channel == channel}
    assert {n["id"] for n in _ok(again)["campaigns"]["nodes"]} == expected
    assert _calls(again, SOURCE) == [], "the list came from the cache"


def test_segments_and_campaigns_are_nodes(marketing_facade: Facade, marketing_estate: MarketingEstate) -> None:
    truth = marketing_estate.truth
    segment, campaign = truth.segments[0], truth.campaigns[0]
    ids = [encode_id("Segment", segment.source, segment.source_id),
           encode_id("Campaign", campaign.source, campaign.source_id),
           encode_id("Lead", "crm", "1"), encode_id("Segment", SOURCE, "no-such-segment")]  # fmt: skip
    query = """query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Segment { name alias description }
      ... on Campaign { name } } }"""
    nodes = _ok(marketing_facade.query(query, {"ids": ids}))["nodes"]
    assert nodes[0] == {"id": ids[0], "name": segment.name, "alias": segment.alias, "description": segment.description}
    assert nodes[1] == {"id": ids[1], "name": campaign.name}
    assert nodes[2] is None, "a CRM contact is no lead"
    assert nodes[3] is None
    assert decode_id(ids[0])[0] == "Segment"


def test_the_customer_360_shows_its_leads_and_their_touches_in_the_timeline(
    marketing_facade: Facade, marketing_estate: MarketingEstate
) -> None:
    m = marketing_estate
    customer_id, filed = _filed_customer(m)
    expected = {lead.source_id for lead in m.truth.leads if _expected_customer(m, lead) == customer_id}
    assert {lead.source_id for lead in filed} <= expected
    query = """query($id: ID!) { customer(id: $id) { leads { id name contact { id } }
      timeline(first: 200) { totalCount nodes { kind occurredAt title source { system recordId } } } } }"""
    result = marketing_facade.query(query, {"id": encode_id("Customer", str(customer_id))}, explain=True)
    customer = _ok(result)["customer"]
    assert {decode_id(lead["id"])[1][1] for lead in customer["leads"]} == expected
    touches = [t for lead_id in expected for t in m.truth.touches_of(lead_id)]
    shown = [e for e in customer["timeline"]["nodes"] if e["source"]["system"] == SOURCE]
    assert {e["source"]["recordId"] for e in shown} == {t.source_id for t in touches}
    assert {e["kind"] for e in shown} == {t.kind.value for t in touches}
    at = [e["occurredAt"] for e in customer["timeline"]["nodes"]]
    assert at == sorted(at, reverse=True), "marketing touches take their place among the other systems' events"
    touch_calls = [c["request"] for c in _calls(result, SOURCE, "fetch_related touch by person")]
    assert len(touch_calls) == len(set(touch_calls)) == len(expected), "each lead's activity, once"


def test_a_page_of_leads_reads_each_path_below_it_once_per_lead_at_most_and_batched_where_mautic_can(
    marketing_facade: Facade, marketing_estate: MarketingEstate
) -> None:
    """Mautic lists a contact's activity, campaigns and segments one contact a call; the leads, the campaigns'
    records and the CRM contacts come in batches. Nothing is asked twice."""
    truth = marketing_estate.truth
    campaign = max(truth.campaigns, key=lambda c: (len(truth.leads_of_campaign(c.source_id)), c.source_id))
    members = len(truth.leads_of_campaign(campaign.source_id))
    assert members >= 20
    query = """query($id: ID!) { node(id: $id) { ... on Campaign { leads(first: 20) { nodes { name
      touches(first: 5) { nodes { kind campaign { name } } } campaigns { name } segments { name }
      customer { id } contact { id } } } } } }"""
    result = marketing_facade.query(
        query, {"id": encode_id("Campaign", campaign.source, campaign.source_id)}, explain=True
    )
    assert len(_ok(result)["node"]["leads"]["nodes"]) == 20
    membership = _calls(result, SOURCE, "fetch_related person by campaign")
    assert len(membership) == 2, "the campaign's membership, then all its members by id in one call"
    touches = [c["request"] for c in _calls(result, SOURCE, "fetch_related touch by person")]
    assert len(touches) == len(set(touches)) == 20, "each lead's activity, one call a lead"
    for operation in ("fetch_related campaign by person", "fetch_related segment by person"):
        requests = [c["request"] for c in _calls(result, SOURCE, operation)]
        # each lead's membership list, then the records of all of them together
        assert len(requests) == len(set(requests)) == 20 + 1, operation
    assert len(_calls(result, SOURCE, "fetch campaign")) == 2, "the campaign asked for, then the touches' in one batch"
    crm = _calls(result, "crm")
    assert crm and {(c["operation"], c["keys"]) for c in crm} == {("fetch person", crm[0]["keys"])}
    assert len({c["request"] for c in crm}) == len(crm), "the leads' CRM contacts: one batch (its requests once each)"
    assert sorted(c["request"] for c in _calls(result, "identity")) == [
        "SELECT customer by link",
        "SELECT person links",
    ]


def test_graphiqls_campaign_example_shows_leads_customers_won_deals_and_invoiced_revenue(
    marketing_facade: Facade, marketing_estate: MarketingEstate
) -> None:
    """The acceptance query of issue 13, as GraphiQL offers it: campaigns -> leads -> customers -> deals, revenue."""
    from crmgraph.graphiql.examples import CAMPAIGN_RESULTS, CUSTOMER_360

    campaigns = _ok(marketing_facade.query(CAMPAIGN_RESULTS))["campaigns"]["nodes"]
    assert campaigns and all(c["cost"] is not None for c in campaigns)
    customers = [customer for c in campaigns for customer in c["customers"]["nodes"]]
    assert any(lead["customer"] for c in campaigns for lead in c["leads"]["nodes"])
    assert any(deal["stage"] == "WON" for customer in customers for deal in customer["deals"]["nodes"])
    assert any(customer["lifetimeRevenue"] for customer in customers), "invoiced revenue of the customers won"
    customer_id, _ = _filed_customer(marketing_estate)
    view = _ok(marketing_facade.query(CUSTOMER_360, {"id": encode_id("Customer", str(customer_id))}))["customer"]
    assert view["leads"] and {e["source"]["system"] for e in view["timeline"]["nodes"]} >= {SOURCE}


def test_a_page_of_customers_leads_reads_the_marketing_systems_people_alone(marketing_facade: Facade) -> None:
    """`leads` starts the reads of the marketing companies' people with the page, not every system's people."""
    result = marketing_facade.query("{ customers(first: 20) { nodes { leads { name } } } }", explain=True)
    assert any(customer["leads"] for customer in _ok(result)["customers"]["nodes"])
    people = {c["source"] for c in _calls(result) if c["operation"].startswith("fetch_related person")}
    assert people == {SOURCE}
