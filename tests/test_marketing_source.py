"""The demo's marketing source, configured in YAML only (crmgraph/demo/marketing.yaml over the demo's Mautic API):
it passes the adapter contract suite, maps what the API says, batches and caches like the Python sources, and
writes leads back through the API."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import crmgraph.adapters
from crmgraph.adapters import Adapter
from crmgraph.adapters.rest import RestAdapter
from crmgraph.adapters.sdk.testing import AdapterContract, ContractSamples, run_with
from crmgraph.adapters.sdk.writes import WriteOp, WriteRefused
from crmgraph.cli import app
from crmgraph.cli_graph import demo_config_dir, demo_config_text
from crmgraph.config import parse_config
from crmgraph.records import CampaignRecord, LeadRecord, Money, PartyRecord
from crmgraph.schema.ids import encode_id
from tests.conftest import Estate
from tests.facade import Facade
from tests.marketing_source import SOURCE, SPEC, MarketingEstate, marketing_sources


def test_the_marketing_source_is_yaml_only() -> None:
    """The demo's marketing source is the rest adapter and a spec: no adapter module of its own."""
    config = parse_config(demo_config_text(), environ={}, base_dir=demo_config_dir())
    settings = config.sources[SOURCE].settings()
    assert config.sources[SOURCE].adapter == "rest" and settings["spec"] == str(SPEC)
    adapters = Path(crmgraph.adapters.__file__).parent
    assert not [p for p in adapters.rglob("*") if "mautic" in p.name.lower() or "marketing" in p.name.lower()]


def _make(estate: Estate) -> Callable[[], Adapter]:
    """The adapter the facade builds for the source (its settings without the `adapter` key)."""
    configured = marketing_sources(estate.marketing_url)[SOURCE]
    settings = {key: value for key, value in configured.items() if key != "adapter"}
    return lambda: RestAdapter(SOURCE, settings)


def _rows(estate: Estate, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(estate.layout.marketing_db) as conn:
        return conn.execute(sql).fetchall()


class TestTheMarketingSpecPassesTheContract(AdapterContract):
    @pytest.fixture
    def make_adapter(self, estate: Estate) -> Callable[[], Adapter]:
        return _make(estate)

    @pytest.fixture
    def make_unreachable_adapter(self) -> Callable[[], Adapter]:
        unreachable = Estate.__new__(Estate)
        unreachable.marketing_url = "http://127.0.0.1:9"
        return _make(unreachable)

    @pytest.fixture
    def contract_samples(self, estate: Estate) -> ContractSamples:
        def ids(table: str, where: str = "1 = 1") -> list[str]:
            return [str(row[0]) for row in _rows(estate, f"SELECT id FROM {table} WHERE {where} ORDER BY id LIMIT 4")]

        count = {table: _rows(estate, f"SELECT count(*) FROM {table}")[0][0] for table in ("companies", "contacts")}
        members = "id IN (SELECT contact_id FROM contact_companies)"
        return ContractSamples(
            known_ids={
                "party": ids("companies"), "person": ids("contacts"), "campaign": ids("campaigns"),
                "segment": ids("segments"),
            },
            related_keys={
                ("person", "party"): ids("companies"), ("person", "campaign"): ids("campaigns"),
                ("campaign", "person"): ids("contacts", members), ("segment", "person"): ids("contacts"),
                ("touch", "person"): ids("contacts"),
            },
            scan_totals={"party": count["companies"], "person": count["contacts"]},
        )  # fmt: skip


def test_a_lead_says_what_the_marketing_api_says(estate: Estate) -> None:
    (contact_id,) = _rows(estate, "SELECT min(contact_id) FROM contact_companies")[0]
    with estate.marketing() as api:
        contact = api.get(f"/api/contacts/{contact_id}").raise_for_status().json()["contact"]
        company = api.get(f"/api/companies/{contact['primaryCompany']['id']}").raise_for_status().json()["company"]
    (lead, party), _ = run_with(_make(estate), _lead_and_company(str(contact_id), str(company["id"])))
    every = contact["fields"]["all"]
    assert isinstance(lead, LeadRecord) and isinstance(party, PartyRecord)
    assert (lead.first_name, lead.last_name, lead.email) == (every["firstname"], every["lastname"], every["email"])
    assert lead.points == int(contact["points"]) and lead.stage == (contact["stage"] or {}).get("name")
    assert lead.party_id == str(company["id"]) and lead.company == every["company"]
    assert lead.tags == tuple(tag["tag"] for tag in contact["tags"])
    assert lead.updated_at == datetime.fromisoformat(contact["dateModified"]).astimezone(UTC)
    assert party.name == company["fields"]["all"]["companyname"]
    assert party.country is not None and len(party.country) == 2, "Mautic's country names become ISO codes"


def _lead_and_company(contact_id: str, company_id: str) -> Callable[[Adapter], Any]:
    async def scenario(adapter: Adapter) -> tuple[object, object]:
        lead = (await adapter.fetch("person", [contact_id]))[0]
        party = (await adapter.fetch("party", [company_id]))[0]
        return lead, party

    return scenario


def test_a_campaign_has_its_channel_cost_and_run(estate: Estate) -> None:
    with estate.marketing() as api:
        raw = api.get("/api/campaigns/1").raise_for_status().json()["campaign"]
    (campaign,), _ = run_with(_make(estate), lambda adapter: adapter.fetch("campaign", ["1"]))
    assert isinstance(campaign, CampaignRecord)
    assert campaign.cost == Money(Decimal(raw["budget"]["amount"]), raw["budget"]["currency"])
    assert campaign.channel == raw["category"]["alias"] and campaign.active == raw["isPublished"]


def test_many_leads_cost_one_call_and_a_malformed_id_costs_none(estate: Estate) -> None:
    ids = [str(n) for n in range(1, 41)] + ["no-such-lead", "3"]
    results, log = run_with(_make(estate), lambda adapter: adapter.fetch("person", ids))
    assert all(isinstance(r, LeadRecord) for r in results[:40]) and results[40] is None
    assert [call.request for call in log.calls] == ["GET /contacts"], "one ids: search for 40 distinct leads"


LEADS_OF_CUSTOMER = """query($id: ID!) { customer(id: $id) { leads { id name email points stage
  campaigns { name cost { amount } } } } }"""


@pytest.fixture
def customer_with_leads(marketing_estate: MarketingEstate) -> Iterator[str]:
    from tests.test_marketing_graph import _filed_customer

    customer_id, _ = _filed_customer(marketing_estate)
    yield encode_id("Customer", str(customer_id))


def test_marketing_reads_are_cached_across_requests_like_every_source(
    marketing_facade: Facade, customer_with_leads: str
) -> None:
    first = marketing_facade.query(LEADS_OF_CUSTOMER, {"id": customer_with_leads}, explain=True)
    assert "errors" not in first and first["data"]["customer"]["leads"]
    assert first["extensions"]["upstream"]["callsBySource"].get(SOURCE, 0) > 0
    again = marketing_facade.query(LEADS_OF_CUSTOMER, {"id": customer_with_leads}, explain=True)
    assert again["data"] == first["data"]
    assert again["extensions"]["upstream"]["callsBySource"].get(SOURCE, 0) == 0, "the second answer is cached"


def test_a_lead_is_created_and_updated_through_the_api_and_a_refusal_names_the_field(writable_estate: Estate) -> None:
    make = _make(writable_estate)
    ada = {"first_name": "Ada", "last_name": "Quill", "email": "ada.quill@example.org", "company": "Quill Labs"}
    created, _ = run_with(make, lambda adapter: adapter.write(WriteOp("person", "create", values=ada)))
    assert isinstance(created, LeadRecord) and created.email == "ada.quill@example.org"
    assert created.company == "Quill Labs" and created.party_id is not None, "Mautic filed it under the company"
    change = WriteOp("person", "update", record_id=created.source_id, values={"job_title": "CTO", "points": 25})
    updated, _ = run_with(make, lambda adapter: adapter.write(change))
    assert isinstance(updated, LeadRecord) and (updated.job_title, updated.points) == ("CTO", 25)
    with writable_estate.marketing() as api:
        stored = api.get(f"/api/contacts/{created.source_id}").raise_for_status().json()["contact"]["fields"]["all"]
    assert (stored["position"], int(stored["points"])) == ("CTO", 25)

    async def refused(adapter: Adapter) -> WriteRefused:
        with pytest.raises(WriteRefused) as caught:
            await adapter.write(WriteOp("person", "create", values={"first_name": "No", "email": "not an address"}))
        return caught.value

    refusal, _ = run_with(make, refused)
    assert [problem.field for problem in refusal.refusals] == ["email"]
    assert "None" not in refusal.refusals[0].message and len(refusal.refusals[0].message) > len("email: ")


def _probe(estate: Estate, tmp_path: Path, spec_text: str) -> Any:
    spec = tmp_path / "marketing.yaml"
    spec.write_text(spec_text)
    config = tmp_path / "crmgraph.yaml"
    config.write_text("sources:\n  marketing: {adapter: rest, spec: marketing.yaml}\n")
    environ = {"CRMGRAPH_DEMO_MARKETING_URL": estate.marketing_url, "COLUMNS": "200"}
    return CliRunner().invoke(app, ["check-config", "-c", str(config), "--probe"], env=environ)


def test_check_config_probe_maps_a_few_records_of_every_entity_of_the_live_api(estate: Estate, tmp_path: Path) -> None:
    result = _probe(estate, tmp_path, SPEC.read_text())
    assert result.exit_code == 0, result.output
    for entity in ("party", "person", "campaign", "segment", "touch"):  # touch: through a lead the probe found
        assert re.search(rf"{entity}\s+│ OK\s+│ \d+ record\(s\) mapped", result.output), entity


def test_check_config_probe_names_the_record_and_field_a_mapping_fails_on(estate: Estate, tmp_path: Path) -> None:
    company_dates = "created_at: {path: dateAdded}\n      updated_at: {path: dateModified}\n\n  person"
    broken = SPEC.read_text().replace(company_dates, company_dates.replace("dateAdded", "fields.all.companyname"))
    assert broken != SPEC.read_text()
    result = _probe(estate, tmp_path, broken)
    assert result.exit_code == 1
    assert re.search(r"party\s+│ FAIL.*record \d+: field created_at", result.output.replace("\n", " ")), result.output
