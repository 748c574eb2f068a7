"""Tickets written through the graph, against the writable copy of the demo estate: opened for a customer
and visible in the ticket system's own API and in the customer's tickets at once; a retry with the same
idempotency key answered from the first write (the system's write counter shows one); another input
under the key refused; versions that conflict; a lost answer reconciled through the key; comments."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from crmgraph.schema.ids import encode_id
from tests.conftest import Estate
from tests.facade import Facade, facade_config, serve_facade, store_copy

CREATE = """mutation($input: TicketCreateInput!) { ticketCreate(input: $input) {
  ticket { id number subject status priority version customer { id } } replayed userErrors { field message code } } }"""
UPDATE = """mutation($input: TicketUpdateInput!) { ticketUpdate(input: $input) {
  ticket { id status priority version } replayed userErrors { field message code } } }"""
COMMENT = """mutation($input: TicketCommentAddInput!) { ticketCommentAdd(input: $input) {
  ticket { id version comments { body public } } replayed userErrors { field message code } } }"""
TICKETS = "query($id: ID!) { customer(id: $id) { tickets(first: 100) { totalCount nodes { id subject } } } }"


@pytest.fixture(scope="module")
def store_url(linked_identity: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The writable estate is a copy of the seeded one: the session's links fit it. A copy of them, since
    the facade keeps its idempotency records there."""
    return store_copy(linked_identity, tmp_path_factory.mktemp("writes"))


@pytest.fixture
def facade(writable_estate: Estate, store_url: str) -> Iterator[Facade]:
    estate = writable_estate
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, store_url,
                           namespace=f"w{uuid.uuid4().hex[:6]}", ttl_s=600, deadline_s=5,
                           tickets_resilience={"timeout_s": 2})  # fmt: skip
    with serve_facade(config) as running:
        yield running


def _customer_with_organization(store_url: str) -> int:
    import sqlite3

    with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
        row = conn.execute(
            "SELECT customer_id FROM crmgraph_links WHERE source = 'tickets' AND entity = 'party' "
            "ORDER BY customer_id LIMIT 1"
        ).fetchone()
    return int(row[0])


def _create(facade: Facade, customer: str, key: str, **fields: Any) -> dict[str, Any]:
    given = {"customerId": customer, "subject": "Printer on fire", "description": "It is on fire.",
             "idempotencyKey": key, **fields}  # fmt: skip
    answer = facade.query(CREATE, {"input": given})
    assert "errors" not in answer, answer
    result: dict[str, Any] = answer["data"]["ticketCreate"]
    return result


def _update(facade: Facade, **given: Any) -> dict[str, Any]:
    answer = facade.query(UPDATE, {"input": {"idempotencyKey": str(uuid.uuid4()), **given}})
    result: dict[str, Any] = answer["data"]["ticketUpdate"]
    return result


def _posts(estate: Estate) -> int:
    by_endpoint = estate.stats("tickets")["writes"]["by_endpoint"]
    return int(by_endpoint.get("POST /api/v2/tickets.json", {}).get("committed", 0))


def test_a_ticket_opened_through_the_graph_is_in_the_ticket_system_and_in_the_customers_tickets_at_once(
    facade: Facade, writable_estate: Estate, store_url: str
) -> None:
    customer = encode_id("Customer", str(_customer_with_organization(store_url)))
    before = facade.query(TICKETS, {"id": customer})["data"]["customer"]["tickets"]  # now cached for 600 s
    key = str(uuid.uuid4())
    created = _create(facade, customer, key, priority="HIGH")
    ticket = created["ticket"]
    assert created["userErrors"] == [] and created["replayed"] is False
    assert ticket["subject"] == "Printer on fire" and ticket["priority"] == "HIGH" and ticket["status"] == "NEW"
    assert ticket["customer"] == {"id": customer} and ticket["version"]
    with writable_estate.tickets() as zd:
        own = zd.get(f"/api/v2/tickets/{ticket['number']}.json").json()["ticket"]
    assert own["subject"] == "Printer on fire" and own["external_id"] == key, "the system's own API shows it"
    after = facade.query(TICKETS, {"id": customer})["data"]["customer"]["tickets"]
    assert after["totalCount"] == before["totalCount"] + 1, "the cached list was dropped by the write"
    assert ticket["id"] in {node["id"] for node in after["nodes"]}
    assert _posts(writable_estate) == 1

    again = _create(facade, customer, key, priority="HIGH")
    assert again["replayed"] is True and again["ticket"]["id"] == ticket["id"] and again["userErrors"] == []
    assert _posts(writable_estate) == 1, "a retry makes no second write"

    other = _create(facade, customer, key, priority="LOW")
    assert other["ticket"] is None and [e["code"] for e in other["userErrors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert _posts(writable_estate) == 1


def test_a_change_over_a_version_it_did_not_see_is_a_conflict(facade: Facade, store_url: str) -> None:
    customer = encode_id("Customer", str(_customer_with_organization(store_url)))
    ticket = _create(facade, customer, str(uuid.uuid4()))["ticket"]
    changed = _update(facade, ticketId=ticket["id"], status="OPEN", version=ticket["version"])
    assert changed["userErrors"] == [] and changed["ticket"]["status"] == "OPEN"
    assert changed["ticket"]["version"] != ticket["version"]
    stale = _update(facade, ticketId=ticket["id"], status="SOLVED", version=ticket["version"])
    assert stale["ticket"] is None and [e["code"] for e in stale["userErrors"]] == ["CONFLICT"]
    read = facade.query("query($id: ID!) { node(id: $id) { ... on Ticket { status } } }", {"id": ticket["id"]})
    assert read["data"]["node"]["status"] == "OPEN", "the conflicting change was not applied"


def test_an_answer_and_a_note_are_added_to_the_ticket(facade: Facade, store_url: str) -> None:
    customer = encode_id("Customer", str(_customer_with_organization(store_url)))
    ticket = _create(facade, customer, str(uuid.uuid4()))["ticket"]
    for body, public in (("We are on it.", True), ("Call the vendor", False)):
        given = {"ticketId": ticket["id"], "body": body, "public": public, "idempotencyKey": str(uuid.uuid4())}
        added = facade.query(COMMENT, {"input": given})["data"]["ticketCommentAdd"]
        assert added["userErrors"] == [], added
    comments = added["ticket"]["comments"]
    assert [(c["body"], c["public"]) for c in comments][-2:] == [("We are on it.", True), ("Call the vendor", False)]


def test_a_refused_value_names_the_field_and_changes_nothing(facade: Facade, store_url: str) -> None:
    customer = encode_id("Customer", str(_customer_with_organization(store_url)))
    ticket = _create(facade, customer, str(uuid.uuid4()))["ticket"]
    refused = _update(facade, ticketId=ticket["id"], assigneeId="999999999")
    assert refused["ticket"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [(["input", "assigneeId"], "INVALID")]
    blank = facade.query(CREATE, {"input": {"customerId": customer, "subject": " ", "description": "x",
                                            "idempotencyKey": str(uuid.uuid4())}})  # fmt: skip
    assert blank["data"] is None and "input.subject" in blank["errors"][0]["message"]


def test_a_lost_answer_is_reported_and_the_retry_finds_the_ticket_instead_of_opening_another(
    facade: Facade, writable_estate: Estate, store_url: str
) -> None:
    customer = encode_id("Customer", str(_customer_with_organization(store_url)))
    key = str(uuid.uuid4())
    writable_estate.faults("tickets", applies_to="writes", write_drop_rate=1.0)
    lost = facade.query(CREATE, {"input": {"customerId": customer, "subject": "Lost answer", "description": "x",
                                           "idempotencyKey": key}})  # fmt: skip
    writable_estate.faults("tickets")
    assert lost["data"] is None
    assert lost["errors"][0]["extensions"]["code"] == "UPSTREAM_OUTCOME_UNKNOWN"
    assert _posts(writable_estate) == 1, "the ticket system did make it"
    retried = _create(facade, customer, key, subject="Lost answer", description="x")
    assert retried["replayed"] is True and retried["ticket"]["subject"] == "Lost answer"
    assert _posts(writable_estate) == 1, "found by its key, not opened twice"
    with writable_estate.tickets() as zd:
        found = zd.get("/api/v2/tickets.json", params={"external_id": key}).json()["tickets"]
    assert [t["id"] for t in found] == [int(retried["ticket"]["number"])]


def test_a_customer_that_does_not_exist_gets_no_ticket(facade: Facade) -> None:
    missing = _create(facade, encode_id("Customer", "99999999"), str(uuid.uuid4()))
    assert missing["ticket"] is None and [e["code"] for e in missing["userErrors"]] == ["NOT_FOUND"]
