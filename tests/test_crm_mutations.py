"""Sales' writes through the graph, against the writable copy of the demo estate: contacts, deals and
interactions made in the CRM (its own API shows them, with the customer's company), a customer's golden
fields written to their owner, retries with the same idempotency key answered without a second write (the
CRM's write counters), refusals at the input field at fault, stale versions refused as conflicts, fields
no system owns refused, and customers outside the principal's scope answered as missing."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from crmgraph.schema.ids import encode_id
from tests.conftest import Estate
from tests.facade import TEST_AUTH, Facade, facade_config, serve_facade, store_copy

ERRORS = "replayed userErrors { field message code }"
CONTACT = "contact { id firstName lastName email jobTitle version customer { id } }"
DEAL = "deal { id name stage stageLabel amount { amount currencyCode } version customer { id } }"


def _mutation(name: str, selection: str) -> str:
    return f"mutation($input: {name[0].upper()}{name[1:]}Input!) {{ {name}(input: $input) {{ {selection} {ERRORS} }} }}"


MUTATIONS = {
    "contactCreate": _mutation("contactCreate", CONTACT),
    "contactUpdate": _mutation("contactUpdate", CONTACT),
    "dealCreate": _mutation("dealCreate", DEAL),
    "dealUpdate": _mutation("dealUpdate", DEAL),
    "interactionLog": _mutation("interactionLog", "interaction { id kind title body }"),
    "customerUpdate": _mutation("customerUpdate", 'customer { id name phone version(system: "crm") }'),
}
# The fields this test's configuration lets the graph write: industry is owned by nobody, taxId by the ERP.
OWNERS = """
        writes: {owners: {name: crm, phone: crm, domain: crm, country: crm, taxId: erp}}"""
CREATE = "POST /crm/v3/objects/{objectType}"
UPDATE = "PATCH /crm/v3/objects/{objectType}/{objectId}"


@pytest.fixture(scope="module")
def store_url(linked_identity: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the session's links (they fit the writable estate, a copy of the seeded one): the facade
    keeps its idempotency records there."""
    return store_copy(linked_identity, tmp_path_factory.mktemp("crm-writes"))


def _serve(estate: Estate, store_url: str, governance: str, precondition: str = "header") -> Iterator[Facade]:
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, store_url,
                           namespace=f"c{uuid.uuid4().hex[:6]}", ttl_s=600, deadline_s=5,
                           governance=governance, crm={"precondition": precondition})  # fmt: skip
    with serve_facade(config) as running:
        yield running


@pytest.fixture
def facade(writable_estate: Estate, store_url: str) -> Iterator[Facade]:
    yield from _serve(writable_estate, store_url, TEST_AUTH + OWNERS)


@pytest.fixture
def scoped(writable_estate: Estate, store_url: str) -> Iterator[Facade]:
    """A sales rep who may run every sales mutation but, having no owner id, owns no customer."""
    governance = """auth: {anonymous_role: sales_rep}
        policy: {roles: {sales_rep: {scope: [{field: owner_id, attribute: owner_id}], mutations: ["*"]}}}"""
    yield from _serve(writable_estate, store_url, governance + OWNERS)


@pytest.fixture
def comparing(writable_estate: Estate, store_url: str) -> Iterator[Facade]:
    """The facade as against the real HubSpot, which has no precondition: it compares versions itself."""
    yield from _serve(writable_estate, store_url, TEST_AUTH + OWNERS, precondition="read")


def _crm_customer(store_url: str, offset: int = 0) -> tuple[str, str]:
    """A customer with one company in the CRM: its graph id and the company's HubSpot id."""
    with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
        customer, company = conn.execute(
            "SELECT customer_id, min(source_id) FROM crmgraph_links WHERE source = 'crm' AND entity = 'party' "
            "GROUP BY customer_id HAVING count(*) = 1 ORDER BY customer_id LIMIT 1 OFFSET ?",
            (offset,),
        ).fetchone()
    return encode_id("Customer", str(customer)), str(company)


def _run(facade: Facade, mutation: str, **given: Any) -> dict[str, Any]:
    answer = facade.query(MUTATIONS[mutation], {"input": {"idempotencyKey": str(uuid.uuid4()), **given}})
    assert "errors" not in answer, answer
    result: dict[str, Any] = answer["data"][mutation]
    return result


def _codes(result: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(error["field"], error["code"]) for error in result["userErrors"]]


def _committed(estate: Estate, endpoint: str) -> int:
    by_endpoint = estate.stats("crm")["writes"]["by_endpoint"]
    return int(by_endpoint.get(endpoint, {}).get("committed", 0))


def _hubspot_id(node_id: str) -> str:
    from crmgraph.schema.ids import decode_id

    _, parts = decode_id(node_id, None)
    return ":".join(parts[1:])


def test_a_contact_made_through_the_graph_is_in_the_crm_with_its_company_and_a_retry_writes_nothing(
    facade: Facade, writable_estate: Estate, store_url: str
) -> None:
    customer, company = _crm_customer(store_url)
    given = {"customerId": customer, "firstName": "Ada", "lastName": "Lovelace", "jobTitle": "Analyst",
             "email": f"ada.{uuid.uuid4().hex[:8]}@example.com", "idempotencyKey": str(uuid.uuid4())}  # fmt: skip
    created = _run(facade, "contactCreate", **given)
    contact = created["contact"]
    assert created["userErrors"] == [] and created["replayed"] is False
    assert (contact["firstName"], contact["lastName"], contact["jobTitle"]) == ("Ada", "Lovelace", "Analyst")
    assert contact["customer"] == {"id": customer} and contact["version"]
    with writable_estate.crm() as crm:
        own = crm.get(f"/crm/v3/objects/contacts/{_hubspot_id(contact['id'])}",
                      params={"properties": "firstname,email", "associations": "companies"}).json()  # fmt: skip
    assert own["properties"]["email"] == given["email"], "the CRM's own API shows it"
    assert company in {item["id"] for item in own["associations"]["companies"]["results"]}
    assert _committed(writable_estate, CREATE) == 1

    again = _run(facade, "contactCreate", **given)
    assert again["replayed"] is True and again["contact"]["id"] == contact["id"]
    assert _committed(writable_estate, CREATE) == 1, "a retry makes no second write"

    taken = _run(facade, "contactCreate", **{**given, "idempotencyKey": str(uuid.uuid4()), "firstName": "Other"})
    assert taken["contact"] is None and _codes(taken) == [(["input", "email"], "CONFLICT")]


def test_a_contact_changed_over_a_version_it_did_not_see_is_a_conflict(
    facade: Facade, writable_estate: Estate, store_url: str
) -> None:
    customer, _ = _crm_customer(store_url)
    contact = _run(facade, "contactCreate", customerId=customer, firstName="Grace", lastName="Hopper")["contact"]
    changed = _run(facade, "contactUpdate", contactId=contact["id"], jobTitle="Admiral", version=contact["version"])
    assert changed["userErrors"] == [] and changed["contact"]["jobTitle"] == "Admiral"
    assert changed["contact"]["firstName"] == "Grace", "what was not given stays"
    assert changed["contact"]["version"] != contact["version"]
    stale = _run(facade, "contactUpdate", contactId=contact["id"], jobTitle="Rear admiral", version=contact["version"])
    assert stale["contact"] is None and _codes(stale) == [(None, "CONFLICT")]
    with writable_estate.crm() as crm:
        own = crm.get(f"/crm/v3/objects/contacts/{_hubspot_id(contact['id'])}", params={"properties": "jobtitle"})
    assert own.json()["properties"]["jobtitle"] == "Admiral", "the conflicting change was not applied"


def test_without_the_precondition_header_the_adapter_compares_versions_itself(
    comparing: Facade, writable_estate: Estate, store_url: str
) -> None:
    customer, _ = _crm_customer(store_url)
    deal = _run(comparing, "dealCreate", customerId=customer, name="Compressors")["deal"]
    moved = _run(comparing, "dealUpdate", dealId=deal["id"], stage="qualifiedtobuy", version=deal["version"])
    assert moved["userErrors"] == [] and moved["deal"]["version"] != deal["version"]
    stale = _run(comparing, "dealUpdate", dealId=deal["id"], stage="closedlost", version=deal["version"])
    assert stale["deal"] is None and _codes(stale) == [(None, "CONFLICT")]
    assert _committed(writable_estate, UPDATE) == 1, "the stale change was not sent"


def test_a_deal_is_opened_and_moved_through_its_stages(facade: Facade, writable_estate: Estate, store_url: str) -> None:
    customer, _ = _crm_customer(store_url)
    created = _run(facade, "dealCreate", customerId=customer, name="Pumps for Q3", amount="12500.50",
                   currencyCode="EUR", closeDate="2027-03-31")  # fmt: skip
    deal = created["deal"]
    assert created["userErrors"] == [] and deal["stage"] == "OPEN" and deal["stageLabel"] == "appointmentscheduled"
    assert deal["amount"] == {"amount": "12500.50", "currencyCode": "EUR"} and deal["customer"] == {"id": customer}
    moved = _run(facade, "dealUpdate", dealId=deal["id"], stage="qualifiedtobuy", version=deal["version"])
    assert moved["userErrors"] == [] and moved["deal"]["stageLabel"] == "qualifiedtobuy"
    won = _run(facade, "dealUpdate", dealId=deal["id"], stage="closedwon", version=moved["deal"]["version"])
    assert won["deal"]["stage"] == "WON"
    with writable_estate.crm() as crm:
        own = crm.get(f"/crm/v3/objects/deals/{_hubspot_id(deal['id'])}", params={"properties": "dealstage"}).json()
    assert own["properties"]["dealstage"] == "closedwon", "the CRM's own API shows it"

    stale = _run(facade, "dealUpdate", dealId=deal["id"], stage="closedlost", version=deal["version"])
    assert _codes(stale) == [(None, "CONFLICT")]
    before = _committed(writable_estate, UPDATE)
    unknown = _run(facade, "dealUpdate", dealId=deal["id"], stage="wishfulthinking")
    assert unknown["deal"] is None and _codes(unknown) == [(["input", "stage"], "INVALID")]
    assert "wishfulthinking" in unknown["userErrors"][0]["message"]
    assert _committed(writable_estate, UPDATE) == before, "a refused value changes nothing"


def test_a_deal_stage_change_replayed_with_its_key_is_written_once(
    facade: Facade, writable_estate: Estate, store_url: str
) -> None:
    customer, _ = _crm_customer(store_url)
    deal = _run(facade, "dealCreate", customerId=customer, name="Valves")["deal"]
    given = {"dealId": deal["id"], "stage": "contractsent", "idempotencyKey": str(uuid.uuid4())}
    first, second = _run(facade, "dealUpdate", **given), _run(facade, "dealUpdate", **given)
    assert first["replayed"] is False and second["replayed"] is True
    assert second["deal"]["stageLabel"] == "contractsent"
    assert _committed(writable_estate, UPDATE) == 1


def test_an_interaction_is_logged_on_the_customers_company_and_once_per_key(
    facade: Facade, writable_estate: Estate, store_url: str
) -> None:
    customer, company = _crm_customer(store_url)
    given = {"customerId": customer, "kind": "CALL", "title": "Renewal", "body": "Wants a quote by Friday.",
             "occurredAt": "2026-11-30T09:15:00Z", "idempotencyKey": str(uuid.uuid4())}  # fmt: skip
    logged = _run(facade, "interactionLog", **given)
    interaction = logged["interaction"]
    assert logged["userErrors"] == [] and interaction["kind"] == "CALL" and interaction["title"] == "Renewal"
    call_id = _hubspot_id(interaction["id"]).removeprefix("calls:")
    with writable_estate.crm() as crm:
        params = {"properties": "hs_call_body,hs_timestamp", "associations": "companies"}
        own = crm.get(f"/crm/v3/objects/calls/{call_id}", params=params).json()
    assert own["properties"]["hs_call_body"] == "Wants a quote by Friday."
    assert company in {item["id"] for item in own["associations"]["companies"]["results"]}
    assert _run(facade, "interactionLog", **given)["replayed"] is True
    assert _committed(writable_estate, CREATE) == 1

    note = _run(facade, "interactionLog", customerId=customer, kind="NOTE", title="Notes have none", body="x")
    assert note["interaction"] is None and _codes(note) == [(["input", "title"], "INVALID")]


def test_a_customers_golden_field_is_written_to_its_owner_and_unowned_ones_are_refused(
    facade: Facade, writable_estate: Estate, store_url: str
) -> None:
    customer, company = _crm_customer(store_url, offset=1)
    read = 'query($id: ID!) { customer(id: $id) { name version(system: "crm") } }'
    version = facade.query(read, {"id": customer})["data"]["customer"]["version"]  # the name is cached now
    given = {"customerId": customer, "name": "Renamed Holdings", "phone": "+49 30 1234567", "country": "DE",
             "version": version, "idempotencyKey": str(uuid.uuid4())}  # fmt: skip
    updated = _run(facade, "customerUpdate", **given)
    assert updated["userErrors"] == [] and updated["customer"]["name"] == "Renamed Holdings"
    assert updated["customer"]["version"] != version
    with writable_estate.crm() as crm:
        own = crm.get(f"/crm/v3/objects/companies/{company}", params={"properties": "name,phone,country"}).json()
    assert own["properties"] == {**own["properties"], "name": "Renamed Holdings", "phone": "+49 30 1234567",
                                 "country": "Germany"}, "a country code as the name HubSpot's UI writes"  # fmt: skip
    assert facade.query(read, {"id": customer})["data"]["customer"]["name"] == "Renamed Holdings", "read your write"
    assert _run(facade, "customerUpdate", **given)["replayed"] is True
    assert _committed(writable_estate, UPDATE) == 1

    stale = _run(facade, "customerUpdate", customerId=customer, name="Again", version=version)
    assert _codes(stale) == [(None, "CONFLICT")]
    unowned = _run(facade, "customerUpdate", customerId=customer, name="Also", industry="Mining", taxId="DE1")
    assert unowned["customer"] is None
    assert _codes(unowned) == [(["input", "industry"], "NOT_WRITABLE"), (["input", "taxId"], "NOT_WRITABLE")]
    assert "industry" in unowned["userErrors"][0]["message"]
    assert _committed(writable_estate, UPDATE) == 1, "nothing is written when a field cannot be"


def test_a_customer_or_record_outside_the_principals_scope_is_answered_as_missing(
    facade: Facade, scoped: Facade, store_url: str
) -> None:
    customer, _ = _crm_customer(store_url)
    contact = _run(facade, "contactCreate", customerId=customer, firstName="Hidden", lastName="Person")["contact"]
    created = _run(scoped, "contactCreate", customerId=customer, firstName="Not", lastName="Allowed")
    assert created["contact"] is None and _codes(created) == [(["input", "customerId"], "NOT_FOUND")]
    changed = _run(scoped, "contactUpdate", contactId=contact["id"], jobTitle="Spy")
    assert changed["contact"] is None and _codes(changed) == [(["input", "contactId"], "NOT_FOUND")]
    missing = _run(facade, "dealCreate", customerId=encode_id("Customer", "99999999"), name="Nobody's")
    assert _codes(missing) == [(["input", "customerId"], "NOT_FOUND")]


def test_a_lost_answer_to_a_crm_create_is_reported_and_its_retry_cannot_find_it_by_key(
    facade: Facade, writable_estate: Estate, store_url: str
) -> None:
    """HubSpot keeps no idempotency key with a record: the retry sends the create again, and a contact's
    unique e-mail is what stops a second contact (docs/writes.md)."""
    customer, _ = _crm_customer(store_url)
    given = {"customerId": customer, "firstName": "Lost", "lastName": "Answer",
             "email": f"lost.{uuid.uuid4().hex[:8]}@example.com", "idempotencyKey": str(uuid.uuid4())}  # fmt: skip
    writable_estate.faults("crm", applies_to="writes", write_drop_rate=1.0)
    lost = facade.query(MUTATIONS["contactCreate"], {"input": given})
    writable_estate.faults("crm")
    assert lost["data"] is None and lost["errors"][0]["extensions"]["code"] == "UPSTREAM_OUTCOME_UNKNOWN"
    assert _committed(writable_estate, CREATE) == 1, "the CRM did make it"
    retried = facade.query(MUTATIONS["contactCreate"], {"input": given})["data"]["contactCreate"]
    assert retried["contact"] is None and _codes(retried) == [(["input", "email"], "CONFLICT")]
    assert _committed(writable_estate, CREATE) == 1, "no second contact"
