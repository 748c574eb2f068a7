"""Marketing in the customer graph: leads, campaigns, segments and touches, joined to customers and contacts.

Every expectation is derived from what the marketing source holds (tests/marketing_source.py, a stand-in
until the demo marketing system and its YAML adapter land) and from the identity store that linked it.
"""

from __future__ import annotations

from typing import Any

import pytest

from crmgraph.identity.store import IdentityStore
from crmgraph.records import LeadRecord
from crmgraph.schema.ids import decode_id, encode_id
from tests.facade import Facade
from tests.marketing_source import (
    SOURCE,
    MarketingEstate,
    MarketingTruth,
    marketing_estate,  # noqa: F401 - a fixture
    marketing_facade,  # noqa: F401 - a fixture
)


def _ok(result: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in result, result["errors"]
    data: dict[str, Any] = result["data"]
    return data


def _calls(result: dict[str, Any], source: str | None = None, operation: str | None = None) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = result["extensions"]["upstream"]["calls"]
    return [c for c in calls if (source is None or c["source"] == source) and (operation is None or operation == c["operation"])]


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


def test_a_lead_reads_its_own_fields_and_provenance(marketing_facade: Facade, marketing_estate: MarketingEstate) -> None:
    lead = marketing_estate.truth.leads[0]
    query = """query($id: ID!) { node(id: $id) { ... on Lead { id name firstName lastName email phone company country
      points stage lastActiveAt tags createdAt source { system recordId } } } }"""
    node = _ok(marketing_facade.query(query, {"id": _lead_id(lead)}))["node"]
    assert node["id"] == _lead_id(lead)
    assert (node["name"], node["email"], node["company"], node["points"], node["stage"]) == (
        lead.name, lead.email, lead.company, lead.points, lead.stage
    )
    assert node["tags"] == list(lead.tags)
    assert node["source"] == {"system": lead.source, "recordId": lead.source_id}
