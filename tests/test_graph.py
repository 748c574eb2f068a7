"""The unified customer graph answers correctly from the three systems."""

from __future__ import annotations

import base64
import sqlite3
from typing import Any

import pytest

from crmgraph.identity.store import IdentityStore
from tests.conftest import Estate
from tests.facade import Facade


def _active_everywhere(estate: Estate, identity_url: str) -> int:
    """A customer with engagements in the CRM, orders and paid invoices in the ERP and tickets in the ticket
    system."""
    store = IdentityStore(identity_url)
    with store.engine.connect() as conn:
        links = conn.exec_driver_sql(
            "SELECT customer_id, source, source_id FROM crmgraph_links WHERE customer_id IN ("
            " SELECT customer_id FROM crmgraph_links GROUP BY customer_id HAVING COUNT(DISTINCT source) = 3)"
            " ORDER BY customer_id"
        ).fetchall()
    store.close()
    by_customer: dict[int, dict[str, list[str]]] = {}
    for customer_id, source, source_id in links:
        by_customer.setdefault(customer_id, {}).setdefault(source, []).append(source_id)
    crm = sqlite3.connect(estate.layout.crm_db)
    erp = sqlite3.connect(estate.layout.erp_db)
    tickets = sqlite3.connect(estate.layout.tickets_db)
    try:
        for customer_id, ids in by_customer.items():
            engaged = crm.execute(
                "SELECT COUNT(*) FROM associations WHERE from_type='companies' AND from_id=? AND to_type='calls'",
                (ids["crm"][0],),
            ).fetchone()[0]
            ordered = erp.execute("SELECT COUNT(*) FROM VBAK WHERE KUNNR=?", (ids["erp"][0],)).fetchone()[0]
            # Paid invoices too: the tests of invoices and their payments read this customer's.
            ordered *= erp.execute("SELECT COUNT(*) FROM BSAD WHERE KUNNR=?", (ids["erp"][0],)).fetchone()[0]
            asked = tickets.execute(
                "SELECT COUNT(*) FROM tickets WHERE organization_id=?", (ids["tickets"][0],)
            ).fetchone()[0]
            if engaged and ordered and asked:
                return customer_id
    finally:
        crm.close(), erp.close(), tickets.close()
    raise AssertionError("the seeded estate should have a customer active in all three systems")


def _global_id(facade: Facade, customer_id: int) -> str:
    return base64.urlsafe_b64encode(f"Customer:{customer_id}".encode()).decode().rstrip("=")


@pytest.fixture
def everywhere(facade: Facade, estate: Estate, linked_identity: str) -> str:
    """The global id of a customer with activity in the CRM, the ERP and the ticket system."""
    return _global_id(facade, _active_everywhere(estate, linked_identity))


LINK_RULES = {"self": "SELF", "xref": "CROSS_REFERENCE", "model": "MODEL", "steward": "STEWARD"}


def test_a_customer_in_all_three_systems_shows_each_systems_records(
    facade: Facade, everywhere: str, estate: Estate, linked_identity: str
) -> None:
    result = facade.query(
        """query($id: ID!) { customer(id: $id) { name sources { system recordId linkedBy confidence }
             orders(first: 200) { totalCount nodes { number } } tickets(first: 100) { totalCount } } }""",
        {"id": everywhere},
    )
    assert "errors" not in result, result.get("errors")
    customer = result["data"]["customer"]
    systems = {s["system"] for s in customer["sources"]}
    assert systems == {"crm", "erp", "tickets"}
    store = IdentityStore(linked_identity)
    with store.engine.connect() as conn:
        links = conn.exec_driver_sql(
            "SELECT source, source_id, rule, confidence FROM crmgraph_links WHERE customer_id = ?",
            (int(base64.urlsafe_b64decode(everywhere + "==").decode().split(":")[1]),),
        ).fetchall()
    store.close()
    assert {(s["system"], s["recordId"]): (s["linkedBy"], s["confidence"]) for s in customer["sources"]} == {
        (source, source_id): (LINK_RULES[rule], confidence) for source, source_id, rule, confidence in links
    }, "each source says how identity resolution linked it, and how sure it is"
    debtors = [s["recordId"] for s in customer["sources"] if s["system"] == "erp"]
    with sqlite3.connect(estate.layout.erp_db) as conn:
        placeholders = ",".join("?" * len(debtors))
        expected = conn.execute(f"SELECT COUNT(*) FROM VBAK WHERE KUNNR IN ({placeholders})", debtors).fetchone()[0]
    assert customer["orders"]["totalCount"] == expected
    with sqlite3.connect(estate.layout.crm_db) as conn:
        crm_id = next(s["recordId"] for s in customer["sources"] if s["system"] == "crm")
        crm_name = conn.execute(
            "SELECT json_extract(properties, '$.name') FROM objects WHERE object_type='companies' AND id=?", (crm_id,)
        ).fetchone()[0]
    assert customer["name"] == crm_name, "the CRM comes first in the configuration, so its name wins"


def _timeline_pages(facade: Facade, customer: str, size: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = None
    while True:
        result = facade.query(
            """query($id: ID!, $first: Int!, $after: String) { customer(id: $id) {
                 timeline(first: $first, after: $after) {
                   pageInfo { hasNextPage endCursor } nodes { id kind occurredAt source { system } } } } }""",
            {"id": customer, "first": size, "after": after},
        )
        assert "errors" not in result, result.get("errors")
        timeline = result["data"]["customer"]["timeline"]
        events += timeline["nodes"]
        if not timeline["pageInfo"]["hasNextPage"]:
            return events
        after = timeline["pageInfo"]["endCursor"]


def test_the_timeline_page_by_page_is_the_timeline_in_one_page(facade: Facade, everywhere: str) -> None:
    whole = _timeline_pages(facade, everywhere, 200)
    assert {e["source"]["system"] for e in whole} == {"crm", "erp", "tickets"}
    assert [e["occurredAt"] for e in whole] == sorted((e["occurredAt"] for e in whole), reverse=True)
    assert _timeline_pages(facade, everywhere, 7) == whole
    assert len({e["id"] for e in whole}) == len(whole)


def test_every_node_can_be_fetched_again_by_its_id(facade: Facade, everywhere: str) -> None:
    result = facade.query(
        """query($id: ID!) { customer(id: $id) { id contacts(first: 1) { nodes { id } }
             orders(first: 1) { nodes { id number } } tickets(first: 1) { nodes { id number } }
             invoices(first: 1) { nodes { id } } } }""",
        {"id": everywhere},
    )
    customer = result["data"]["customer"]
    ids = [customer["id"]] + [
        customer[field]["nodes"][0]["id"] for field in ("contacts", "orders", "tickets", "invoices")
        if customer[field]["nodes"]
    ]  # fmt: skip
    again = facade.query("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert [node["id"] for node in again["data"]["nodes"]] == ids
    order = customer["orders"]["nodes"][0]
    by_number = facade.query("query($n: String!) { orderByNumber(number: $n) { id } }", {"n": order["number"]})
    assert by_number["data"]["orderByNumber"]["id"] == order["id"]


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ('{ customer(id: "bm9wZQ") { name } }', "not an id this API issued"),
        ("{ customers(first: 5000) { totalCount } }", "first: must be between 0 and 200"),
        ('{ customers(first: 2, after: "garbage!") { totalCount } }', "after:"),
        ('{ reviewCandidates(first: 2, after: "garbage!") { totalCount } }', "after:"),
        ("{ reviewCandidates(first: 500) { totalCount } }", "first: must be between 0 and 200"),
        ('{ node(id: "UmV2aWV3Q2FuZGlkYXRlOng") { id } }', "not an id this API issued"),
    ],
)
def test_a_client_mistake_gets_a_precise_message(facade: Facade, query: str, mentions: str) -> None:
    result = facade.query(query)
    assert mentions in result["errors"][0]["message"]
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_failing_system_nulls_only_what_it_backs_and_names_itself(
    estate: Estate, facade: Facade, everywhere: str
) -> None:
    estate.faults("tickets", down=True)
    result = facade.query(
        """query($id: ID!) { customer(id: $id) {
             name orders(first: 1) { totalCount } tickets(first: 1) { totalCount } } }""",
        {"id": everywhere},
    )
    customer = result["data"]["customer"]
    assert customer["name"] and customer["orders"]["totalCount"] > 0
    assert customer["tickets"] is None
    (error,) = result["errors"]
    assert error["path"] == ["customer", "tickets"]
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE" and error["extensions"]["source"] == "tickets"
