"""A list page costs the same few upstream calls whatever its size, where the system's API allows it.

``customers(first: N)`` with each customer's owner, contacts, orders and tickets, asked of a fresh facade
(cold: nothing cached, the owner list not read yet) at N = 10 and N = 100: the calls of each kind stay the
same, and what the page says equals what each system holds (the owner in the CRM's owner list, the tickets
as the organization's own listing gives them).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from crmgraph.schema.ids import decode_id, encode_id
from tests.conftest import Estate
from tests.facade import Facade, facade_config, serve_facade
from tests.task_count import counting_tasks

PAGE = """
query($n: Int!) {
  customers(first: $n) {
    nodes {
      id
      owner { name email }
      contacts(first: 5) { nodes { name email } }
      orders(first: 5) { nodes { number total { amount currencyCode } } }
      tickets(first: 5) { nodes { subject status } }
    }
  }
}
"""
ONE = """
query($id: ID!) { customer(id: $id) { tickets(first: 5) { nodes { subject status } } } }
"""
# Reads a whole page costs one call of, whatever its size: (source, SDK operation, request on the wire).
PER_PAGE = (
    ("crm", "fetch owner", "GET /crm/v3/owners"),  # the owner list, read whole once
    ("crm", "fetch_related person by party", "POST /crm/v4/associations/companies/contacts/batch/read"),
    ("tickets", "fetch_related ticket by party", "GET /api/v2/search/export"),  # every organization's tickets
    ("erp", "fetch_related order by party", None),  # one statement
)
# Reads whose API takes at most 100 ids a call: one call per hundred records, far fewer than the customers.
PER_HUNDRED = (
    ("crm", "fetch party", "POST /crm/v3/objects/companies/batch/read"),
    ("crm", "fetch_related person by party", "POST /crm/v3/objects/contacts/batch/read"),
    ("tickets", "fetch person", "GET /api/v2/users/show_many"),
)
Calls = Counter[tuple[str, str, str | None]]


@pytest.fixture
def fresh_facade(estate: Estate, linked_identity: str) -> Iterator[Facade]:
    """A facade of its own: a cold cache and an owner list not read yet."""
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity, ttl_s=0.001)
    with serve_facade(config) as running:
        yield running


def _page(facade: Facade, n: int) -> tuple[dict[str, Any], Calls]:
    result = facade.query(PAGE, {"n": n}, explain=True)
    assert "errors" not in result, result.get("errors")
    calls: Calls = Counter()
    for call in result["extensions"]["upstream"]["calls"]:
        request = call["request"] if call["source"] != "erp" else None
        calls[(call["source"], call["operation"], request)] += 1
    return result["data"]["customers"], calls


@pytest.mark.parametrize("n", [10, 100])
def test_a_page_of_n_customers_costs_one_call_per_batched_read_at_any_n(
    fresh_facade: Facade, estate: Estate, n: int
) -> None:
    for system in ("crm", "tickets"):
        estate.reset(system)
    page, calls = _page(fresh_facade, n)
    assert len(page["nodes"]) == n
    print(f"N={n}: " + ", ".join(f"{s} {o} {r or ''}: {c}" for (s, o, r), c in sorted(calls.items(), key=str)))
    for read in PER_PAGE:
        assert calls[read] == 1, read
    for read in PER_HUNDRED:
        assert 1 <= calls[read] <= 4, read
    assert not [read for read in calls if read[1].startswith("fetch_related comment")]
    assert not [read for read in calls if read[2] and "/owners/" in read[2]], "no owner read one by one"
    # The page's only field of the customers' own records is the owner, which only the CRM's companies hold:
    # the ERP's debtors and Zendesk's organizations are not read (tickets are found by organization id).
    assert not [read for read in calls if read[1] == "fetch party" and read[0] != "crm"], calls
    # The systems counted the same calls.
    assert estate.stats("crm")["total"] == sum(c for (source, *_), c in calls.items() if source == "crm")
    assert estate.stats("tickets")["total"] == sum(c for (source, *_), c in calls.items() if source == "tickets")


def test_the_owners_on_a_page_are_those_the_crm_names(fresh_facade: Facade, estate: Estate) -> None:
    page, _ = _page(fresh_facade, 100)
    crm = sqlite3.connect(estate.layout.crm_db)
    try:
        owners = {f"{first} {last}": email for first, last, email in crm.execute(
            "SELECT first_name, last_name, email FROM owners")}  # fmt: skip
        owned = crm.execute(
            "SELECT COUNT(DISTINCT json_extract(properties, '$.hubspot_owner_id')) FROM objects"
            " WHERE object_type = 'companies'"
        ).fetchone()[0]
    finally:
        crm.close()
    shown = [node["owner"] for node in page["nodes"] if node["owner"]]
    assert shown and owned > 1
    assert all(owners.get(owner["name"]) == owner["email"] for owner in shown)
    assert len({owner["email"] for owner in shown}) > 1, "a page shows several owners"


def test_the_tickets_on_a_page_are_those_each_customer_shows_alone(fresh_facade: Facade) -> None:
    """A page's tickets come from one search; a customer alone reads its organization's own listing."""
    page, _ = _page(fresh_facade, 100)
    with_tickets = [node for node in page["nodes"] if node["tickets"] and node["tickets"]["nodes"]]
    assert len(with_tickets) > 5
    for node in with_tickets[:15]:
        alone = fresh_facade.query(ONE, {"id": node["id"]})
        assert "errors" not in alone
        assert alone["data"]["customer"]["tickets"] == node["tickets"], decode_id(node["id"], "Customer")


def test_a_page_keeps_every_customer_in_order(fresh_facade: Facade) -> None:
    small, _ = _page(fresh_facade, 10)
    large, _ = _page(fresh_facade, 100)
    assert large["nodes"][:10] == small["nodes"]
    assert all(node["id"] == encode_id("Customer", decode_id(node["id"], "Customer")[1][0]) for node in small["nodes"])


def test_the_customer_count_is_read_only_when_the_page_asks_for_it(fresh_facade: Facade, linked_identity: str) -> None:
    def identity_reads(query: str) -> tuple[dict[str, Any], list[str]]:
        result = fresh_facade.query(query, explain=True)
        assert "errors" not in result, result.get("errors")
        reads = [c["request"] for c in result["extensions"]["upstream"]["calls"] if c["source"] == "identity"]
        return result["data"]["customers"], reads

    page, reads = identity_reads("{ customers(first: 3) { nodes { id } } }")
    assert len(page["nodes"]) == 3 and "SELECT customer count" not in reads
    store = sqlite3.connect(linked_identity.removeprefix("sqlite:///"))
    try:
        customers = store.execute("SELECT COUNT(*) FROM crmgraph_customers").fetchone()[0]
    finally:
        store.close()
    for query in (
        "{ customers(first: 3) { totalCount nodes { id } } }",
        "{ customers(first: 3) { ...Counted } } fragment Counted on CustomerConnection { total: totalCount }",
    ):
        page, reads = identity_reads(query)
        assert reads.count("SELECT customer count") == 1
        assert page.get("totalCount", page.get("total")) == customers > 3


def test_a_page_walks_its_rows_once_their_own_records_are_in(estate: Estate, linked_identity: str) -> None:
    """The rows' fields resolve at once, not as a task each waiting for the page's first level of reads."""
    import asyncio

    from tests.perimeter import asgi_client, graphql_body, perimeter_config

    config = perimeter_config(estate, linked_identity, cache={"ttl_s": {"default": 0.001}})
    query = "{ customers(first: 50) { nodes { id name owner { name } } } }"

    async def asked() -> tuple[dict[str, Any], int]:
        async with asgi_client(config) as client:
            await client.post("/graphql", json=graphql_body(query))  # the owner list read and kept
            with counting_tasks() as tasks:
                response = await client.post("/graphql", json=graphql_body(query))
        return response.json(), tasks.created

    answer, tasks = asyncio.run(asked())
    assert "errors" not in answer, answer.get("errors")
    nodes = answer["data"]["customers"]["nodes"]
    assert len(nodes) == 50 and sum(1 for node in nodes if node["name"] and node["owner"]) > 25
    assert tasks < 25, f"{tasks} tasks for 50 rows"  # before, a name and an owner were a task each: 150


def test_a_pages_contacts_are_read_beside_the_crm_listing_them(fresh_facade: Facade) -> None:
    """The identity links name each customer's contacts: the CRM's contacts are read in the same round as the
    associations that list them, not after (one level of calls for the page, not two)."""
    result = fresh_facade.query(PAGE, {"n": 50}, explain=True)
    assert "errors" not in result, result.get("errors")
    calls = result["extensions"]["upstream"]["calls"]
    (listing,) = [c for c in calls if c["request"] == "POST /crm/v4/associations/companies/contacts/batch/read"]
    reads = [c for c in calls if c["request"] == "POST /crm/v3/objects/contacts/batch/read"]
    assert reads and all(read["atMs"] < listing["atMs"] + listing["ms"] for read in reads)
    shown = [c for node in result["data"]["customers"]["nodes"] for c in (node["contacts"] or {}).get("nodes", [])]
    assert len(shown) > 50


def _linked(identity_url: str, customer_ids: list[int], source: str) -> set[int]:
    """The customers among ``customer_ids`` with a record in ``source``."""
    store = sqlite3.connect(identity_url.removeprefix("sqlite:///"))
    try:
        rows = store.execute(
            "SELECT DISTINCT customer_id FROM crmgraph_links WHERE entity = 'party' AND source = ?"
            f" AND customer_id IN ({','.join('?' * len(customer_ids))})",
            (source, *customer_ids),
        ).fetchall()
    finally:
        store.close()
    return {int(row[0]) for row in rows}


def test_a_page_reads_a_later_systems_record_only_where_the_first_lacks_the_value(
    fresh_facade: Facade, linked_identity: str
) -> None:
    """A page's golden field takes each customer's record in the first system; the next system's record is read,
    in one more batch, only for the customers whose first record has no value, and the answer is the one a
    customer's own view (which reads every record at once) gives."""
    result = fresh_facade.query("{ customers(first: 100) { nodes { id taxId } } }", explain=True)
    assert "errors" not in result, result.get("errors")
    nodes = result["data"]["customers"]["nodes"]
    calls = result["extensions"]["upstream"]["calls"]
    reads = {source: [c for c in calls if c["source"] == source and c["operation"] == "fetch party"]
             for source in ("crm", "erp", "tickets")}  # fmt: skip
    ids = [int(decode_id(node["id"], "Customer")[1][0]) for node in nodes]
    in_crm, in_erp = _linked(linked_identity, ids, "crm"), _linked(linked_identity, ids, "erp")
    assert not reads["tickets"], "Zendesk's organizations hold no tax id"
    # First one CRM company per customer the CRM knows; then the next record (a second CRM company, or the ERP's
    # debtor) of those whose first has no tax id: the demo leaves about a quarter empty.
    assert reads["crm"][0]["keys"] == len(in_crm)
    later = sum(c["keys"] for c in reads["crm"][1:] + reads["erp"])
    assert reads["erp"] and 0 < later < len(in_erp), f"{later} later records read, {len(in_erp)} customers in the ERP"
    alone = "query($id: ID!) { customer(id: $id) { taxId } }"
    for node in nodes[:40]:
        assert fresh_facade.query(alone, {"id": node["id"]})["data"]["customer"]["taxId"] == node["taxId"], node["id"]


def test_a_pages_owner_is_an_error_naming_the_crm_when_the_crm_fails(fresh_facade: Facade, estate: Estate) -> None:
    """Only the CRM holds owners: with the CRM failing, the owner is unknown (an error naming the CRM), not
    reported as absent because the other systems' records have none."""
    estate.faults("crm", error_rate=1.0)
    result = fresh_facade.query("{ customers(first: 10) { nodes { id owner { name } } } }")
    nodes = result["data"]["customers"]["nodes"]
    assert len(nodes) == 10 and all(node["owner"] is None for node in nodes)
    owner_errors = [e for e in result.get("errors", []) if e["path"][-1] == "owner"]
    assert len(owner_errors) == 10
    assert all(e["extensions"]["source"] == "crm" for e in owner_errors), owner_errors[0]


ORDERS_PAGE = """
query($n: Int!) { customers(first: $n) { nodes {
  id orders(first: 3) { pageInfo { hasNextPage } nodes { number placedAt status total { amount } } }
} } }
"""
ORDERS_ALONE = """
query($id: ID!) { customer(id: $id) {
  orders(first: 3) { pageInfo { hasNextPage } nodes { number placedAt status total { amount } } }
} }
"""


@pytest.fixture
def uncached_facade(estate: Estate, linked_identity: str) -> Iterator[Facade]:
    """A facade that keeps nothing (every TTL 0): each list is read for the request alone."""
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity, ttl_s=0)
    with serve_facade(config) as running:
        yield running


def _order_reads(result: dict[str, Any]) -> list[str]:
    return [c["operation"] for c in result["extensions"]["upstream"]["calls"] if c["operation"].startswith(
        "fetch_related order by party")]  # fmt: skip


def test_a_page_that_shows_three_orders_reads_each_customers_newest_four(uncached_facade: Facade) -> None:
    """Not kept by the cache, the orders of a page that shows three of each are read cut to the newest four per
    customer record (and that day's others): the same pages, with hasNextPage, as each customer's own view."""
    result = uncached_facade.query(ORDERS_PAGE, {"n": 50}, explain=True)
    assert "errors" not in result, result.get("errors")
    assert _order_reads(result) == ["fetch_related order by party, newest 4"]
    nodes = result["data"]["customers"]["nodes"]
    assert any(node["orders"]["pageInfo"]["hasNextPage"] for node in nodes)
    for node in nodes:
        alone = uncached_facade.query(ORDERS_ALONE, {"id": node["id"]})
        assert alone["data"]["customer"]["orders"] == node["orders"], node["id"]


@pytest.mark.parametrize(
    "selection",
    ["orders(first: 3) { totalCount nodes { number } }", "orders(first: 3) { nodes { number } } lastOrderDate",
     'orders(first: 3, status: OPEN) { nodes { number } }'],
    ids=["count", "another-reader", "filter"],
)  # fmt: skip
def test_a_page_that_needs_every_order_reads_whole_lists(uncached_facade: Facade, selection: str) -> None:
    result = uncached_facade.query(f"{{ customers(first: 20) {{ nodes {{ id {selection} }} }} }}", explain=True)
    assert "errors" not in result, result.get("errors")
    assert _order_reads(result) == ["fetch_related order by party"]


def test_orders_kept_by_the_cache_are_read_whole(fresh_facade: Facade) -> None:
    """A kept list must be whole for whoever reads it next: with orders cached, a page reads them whole."""
    result = fresh_facade.query(ORDERS_PAGE, {"n": 20}, explain=True)
    assert "errors" not in result, result.get("errors")
    assert _order_reads(result) == ["fetch_related order by party"]


def test_a_pages_links_come_with_its_ids_in_one_trip_to_the_store(
    estate: Estate, linked_identity: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The customers' links are read with the page's ids (IdentityStore.page_with_links), not by a second trip."""
    import asyncio

    from crmgraph.identity.store import IdentityStore
    from tests.perimeter import asgi_client, graphql_body, perimeter_config

    separate: list[list[int]] = []
    links_of = IdentityStore.links_of

    async def counted(self: IdentityStore, customer_ids: Any) -> Any:
        separate.append(list(customer_ids))
        return await links_of(self, customer_ids)

    monkeypatch.setattr(IdentityStore, "links_of", counted)
    config = perimeter_config(estate, linked_identity, cache={"ttl_s": {"default": 0}})

    async def asked() -> dict[str, Any]:
        async with asgi_client(config) as client:
            response = await client.post("/graphql", json=graphql_body(
                "{ customers(first: 20) { nodes { id name sources { system } } } }"))  # fmt: skip
            return dict(response.json())

    answer = asyncio.run(asked())
    assert "errors" not in answer, answer.get("errors")
    nodes = answer["data"]["customers"]["nodes"]
    assert len(nodes) == 20 and all(node["sources"] for node in nodes)
    assert separate == []


def test_a_page_encodes_the_ids_and_cursors_it_shows_and_no_others(
    estate: Estate, linked_identity: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids and cursors are worked out when read: a page of names and contacts encodes none of them."""
    import asyncio

    from crmgraph.schema import customer, nodes, pagination
    from tests.perimeter import asgi_client, graphql_body, perimeter_config

    encoded = Counter[str]()

    def counted(module: Any, name: str, kind: str) -> None:
        original = getattr(module, name)

        def encode(*args: Any) -> str:
            encoded[kind] += 1
            return str(original(*args))

        monkeypatch.setattr(module, name, encode)

    counted(customer, "encode_id", "customer id")
    counted(nodes, "encode_id", "node id")
    counted(pagination, "encode_cursor", "cursor")
    config = perimeter_config(estate, linked_identity, cache={"ttl_s": {"default": 0.001}})
    bare = "{ customers(first: 20) { nodes { name contacts(first: 5) { nodes { name } } } } }"
    shown = """{ customers(first: 20) { pageInfo { endCursor } edges { cursor node {
        id contacts(first: 5) { edges { cursor node { id } } } } } } }"""

    async def asked(query: str) -> dict[str, Any]:
        async with asgi_client(config) as client:
            answer: dict[str, Any] = (await client.post("/graphql", json=graphql_body(query))).json()
        assert "errors" not in answer, answer.get("errors")
        customers: dict[str, Any] = answer["data"]["customers"]
        return customers

    page = asyncio.run(asked(bare))
    contacts = sum(len(node["contacts"]["nodes"]) for node in page["nodes"])
    assert len(page["nodes"]) == 20 and contacts > 20 and not encoded
    page = asyncio.run(asked(shown))
    edges = page["edges"]
    contact_edges = [edge for row in edges for edge in row["node"]["contacts"]["edges"]]
    assert len(contact_edges) == contacts
    assert encoded == {"customer id": 20, "node id": contacts, "cursor": 20 + 1 + contacts}
    assert decode_id(edges[0]["node"]["id"], "Customer")[1] == ["1"]
    assert page["pageInfo"]["endCursor"] == edges[-1]["cursor"]
    assert decode_id(contact_edges[0]["node"]["id"], "Contact")
