"""What a query costs upstream: batched per level, never twice for one key, nothing when cached.

Counts come from three witnesses that must agree: the facade's ``extensions.upstream`` (explain), the
estate's own ``/_control/stats`` for the HTTP systems, and a statement counter on the ERP's engine.
"""

from __future__ import annotations

import math
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import graphql
import pytest
from sqlalchemy import Engine, event

from crmgraph.identity.store import IdentityStore
from crmgraph.schema import build_schema
from crmgraph.schema.customer import READS_BY_FIELD
from crmgraph.schema.ids import decode_id, encode_id
from tests.conftest import Estate
from tests.facade import Facade, facade_config, serve_facade
from tests.test_graph import _active_everywhere

CUSTOMER_360_PAGE = """
query {
  customers(first: 50) {
    totalCount
    nodes {
      id name
      contacts(first: 10) { nodes { name email } }
      deals(first: 10) { nodes { name stage amount { amount currencyCode } } }
      orders(first: 5) { nodes { number placedAt total { amount currencyCode } lines { sku quantity } } }
      tickets(first: 5) { nodes { subject status comments { body } } }
    }
  }
}
"""
LEGACY = ("crm", "erp", "tickets")


@pytest.fixture
def erp_statements(estate: Estate) -> Iterator[list[str]]:
    """Every SQL statement sent to the ERP database while the test runs."""
    seen: list[str] = []
    erp_path = str(estate.layout.erp_db.resolve())

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if conn.engine.url.database == erp_path:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    yield seen
    event.remove(Engine, "before_cursor_execute", count)


def _calls(result: dict[str, Any], source: str | None = None) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = result["extensions"]["upstream"]["calls"]
    return [c for c in calls if source is None or c["source"] == source]


def _first_sources(identity_url: str, customer_ids: list[int]) -> dict[int, str]:
    """Each customer's first system in configured order (crm, erp, tickets) among those holding its record."""
    store = IdentityStore(identity_url)
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT DISTINCT customer_id, source FROM crmgraph_links WHERE entity = 'party'"
            f" AND customer_id IN ({','.join('?' * len(customer_ids))})",
            tuple(customer_ids),
        ).fetchall()
    store.close()
    held: dict[int, set[str]] = {}
    for customer, source in rows:
        held.setdefault(int(customer), set()).add(source)
    return {customer: next(s for s in LEGACY if s in sources) for customer, sources in held.items()}


def _ticket_users(identity_url: str, customer_ids: list[int]) -> list[tuple[int, str, bool]]:
    """(customer, Zendesk user id, whether the ticket system is the only one that knows the person) for
    every ticket-system record of the customers' golden persons, by customer."""
    store = IdentityStore(identity_url)
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT p.customer_id, l.source_id, (SELECT COUNT(*) FROM crmgraph_person_links o"
            "  WHERE o.person_id = l.person_id AND o.source != 'tickets') = 0"
            " FROM crmgraph_person_links l JOIN crmgraph_persons p ON p.id = l.person_id"
            f" WHERE l.source = 'tickets' AND p.customer_id IN ({','.join('?' * len(customer_ids))})"
            " ORDER BY p.customer_id, l.source_id",
            tuple(customer_ids),
        ).fetchall()
    store.close()
    return [(customer, user, bool(alone)) for customer, user, alone in rows]


def test_a_page_of_fifty_customers_costs_the_same_few_calls_per_level(
    estate: Estate, facade: Facade, erp_statements: list[str], linked_identity: str
) -> None:
    result = facade.query(CUSTOMER_360_PAGE, explain=True)
    assert "errors" not in result, result.get("errors")
    customers = result["data"]["customers"]["nodes"]
    assert len(customers) == 50
    assert any(c["orders"]["nodes"] for c in customers) and any(c["tickets"]["nodes"] for c in customers)

    per_operation = Counter((c["source"], c["operation"]) for c in _calls(result))
    # The CRM and the ERP answer each level with batches whatever the number of customers: one batch read
    # of companies; for contacts and deals one v4 associations call plus a batch read per hundred objects.
    assert per_operation[("crm", "fetch party")] == 1
    for operation in ("fetch_related person by party", "fetch_related deal by party"):
        calls = [c for c in _calls(result, "crm") if c["operation"] == operation]
        associations = [c for c in calls if "/associations/" in c["request"]]
        reads = [c for c in calls if c not in associations]
        assert len(associations) == 1 and reads, operation
        assert len(reads) == math.ceil(sum(c["keys"] for c in reads) / 100), operation
    erp = {op: n for (source, op), n in per_operation.items() if source == "erp"}
    assert erp and set(erp.values()) == {1}, f"one statement per ERP level, got {erp}"
    # The page's name is each customer's record in its first system: a system's records are read only for the
    # customers it comes first for (in one batch), not for every customer it knows.
    ids = [int(decode_id(c["id"], "Customer")[1][0]) for c in customers]
    firsts = set(_first_sources(linked_identity, ids).values())
    for source in LEGACY:
        assert per_operation[(source, "fetch party")] == (1 if source in firsts else 0), source
    # Zendesk: their tickets in one export search (1,000 a page); comments have no batch form, so one call
    # per distinct ticket (a page of 100 each), and never a page twice.
    assert [c["request"] for c in _calls(result, "tickets") if c["operation"] == "fetch_related ticket by party"] == [
        "GET /api/v2/search/export"
    ]
    store = sqlite3.connect(estate.layout.tickets_db)
    operation = "fetch_related comment by ticket"
    requests = Counter(c["request"] for c in _calls(result, "tickets") if c["operation"] == operation)
    for request, count in requests.items():
        key = int(request.split("/")[-2])
        held = store.execute("SELECT COUNT(*) FROM comments WHERE ticket_id = ?", (key,)).fetchone()[0]
        assert count == max(1, math.ceil(held / 100)), f"{operation}: {request} asked {count} times"
    store.close()
    shown_tickets = sum(len(c["tickets"]["nodes"]) for c in customers)
    assert per_operation[("tickets", "fetch_related comment by ticket")] <= shown_tickets
    # Contacts: nothing lists an organization's users, so those of the customers' golden persons are read
    # by the ids their person links name, with the first level (started with the organizations), in
    # show_many calls of 100: one call more per 100 users, no level more.
    users = _ticket_users(linked_identity, [int(decode_id(c["id"], "Customer")[1][0]) for c in customers])
    user_reads = [c["keys"] for c in _calls(result, "tickets") if c["operation"] == "fetch person"]
    assert users and sum(user_reads) == len(users) and len(user_reads) == math.ceil(len(users) / 100), user_reads

    # The explain report is what the systems themselves counted.
    assert estate.stats("crm")["total"] == len(_calls(result, "crm"))
    assert estate.stats("tickets")["total"] == len(_calls(result, "tickets"))
    assert len(erp_statements) == len(_calls(result, "erp"))


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def cached_facade(request: pytest.FixtureRequest, estate: Estate, linked_identity: str) -> Iterator[Facade]:
    """The facade with each cache backend; Redis entries live under a namespace of this run only."""
    cache_url = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    config = facade_config(
        estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity, cache_url, f"t{uuid.uuid4().hex}"
    )
    with serve_facade(config) as running:
        yield running


def _erp_customer(estate: Estate, identity_url: str, query: str) -> int:
    """The customer of the ERP party that ``query`` (on the ERP's tables) selects first."""
    erp = sqlite3.connect(estate.layout.erp_db)
    try:
        party = erp.execute(query).fetchone()[0]
    finally:
        erp.close()
    store = IdentityStore(identity_url)
    with store.engine.connect() as conn:
        customer = conn.exec_driver_sql(
            "SELECT customer_id FROM crmgraph_links WHERE source = 'erp' AND source_id = ?", (party,)
        ).scalar()
    store.close()
    assert isinstance(customer, int)
    return customer


def _with_an_unpaid_invoice(estate: Estate, identity_url: str) -> int:
    """A customer with paid and unpaid invoices and a small order book (its joined reads are not cut)."""
    return _erp_customer(
        estate, identity_url,
        "SELECT r.KUNRG FROM VBRK r LEFT JOIN BSAD b ON b.VBELN = r.VBELN GROUP BY r.KUNRG"
        " HAVING COUNT(b.VBELN) > 0 AND SUM(b.VBELN IS NULL) > 0"
        " AND (SELECT COUNT(*) FROM VBAK o WHERE o.KUNNR = r.KUNRG) BETWEEN 1 AND 20 ORDER BY r.KUNRG LIMIT 1",
    )  # fmt: skip


@pytest.mark.parametrize("shape", ["a page of customers", "one customer (joined ERP reads)"])
def test_the_same_query_again_within_the_ttl_makes_no_upstream_call(
    estate: Estate, cached_facade: Facade, erp_statements: list[str], linked_identity: str, shape: str
) -> None:
    facade = cached_facade
    if shape == "a page of customers":
        query, variables = CUSTOMER_360_PAGE, None
    else:  # invoices without payments too: a join lists none for them, and the cache must still know
        query = CUSTOMER_360.replace("invoices(first: 10)", "invoices(first: 50)")
        variables = {"id": encode_id("Customer", str(_with_an_unpaid_invoice(estate, linked_identity)))}
    first = facade.query(query, variables, explain=True)
    assert "errors" not in first
    if variables:
        assert _keys_of(first, "fetch_related payment by invoice.party") == [1]
    for system in ("crm", "tickets"):
        estate.reset(system)
    erp_statements.clear()
    second = facade.query(query, variables, explain=True)
    assert second["data"] == first["data"]
    assert [c for c in _calls(second) if c["source"] in LEGACY] == []
    assert estate.stats("crm")["total"] == 0 and estate.stats("tickets")["total"] == 0 and erp_statements == []
    assert sum(second["extensions"]["upstream"]["cacheHits"].values()) > 0


def test_explain_is_only_given_to_who_asks(facade: Facade) -> None:
    result = facade.query("{ customers(first: 1) { totalCount } }")
    assert "upstream" not in (result.get("extensions") or {})


# --- one customer: reads follow the query, and start as early as they can ---------------------------


@pytest.fixture
def active_customer(estate: Estate, linked_identity: str) -> str:
    """The global id of a customer with records in all three systems (orders, invoices and tickets)."""
    return encode_id("Customer", str(_active_everywhere(estate, linked_identity)))


def _operations(result: dict[str, Any]) -> Counter[tuple[str, str]]:
    assert "errors" not in result, result.get("errors")
    return Counter((c["source"], c["operation"]) for c in _calls(result))


CUSTOMER_360 = """query($id: ID!) { customer(id: $id) {
  name owner { name }
  contacts(first: 20) { nodes { name } }
  deals(first: 10) { nodes { name } }
  orders(first: 10) { nodes { number lines { sku } } }
  invoices(first: 10) { nodes { number outstanding { amount } } }
  tickets(first: 10) { nodes { subject comments { body } } }
  timeline(first: 20) { nodes { kind occurredAt } }
} }"""


def test_a_customer_360_reads_one_company_with_one_get_and_the_erp_in_one_level(
    estate: Estate, facade: Facade, active_customer: str, erp_statements: list[str]
) -> None:
    result = facade.query(CUSTOMER_360, {"id": active_customer}, explain=True)
    crm_requests = [c["request"] for c in _calls(result, "crm")]
    assert len([r for r in crm_requests if r.startswith("GET /crm/v3/objects/companies/")]) == 1
    assert not [r for r in crm_requests if "/associations/" in r]  # the company's own GET listed them
    erp = {op: n for (source, op), n in _operations(result).items() if source == "erp"}
    # Lines and payments are read with their orders and invoices (a join), none of them after. The ERP's
    # contact persons (KNVK) are read for contacts in the same first level: one statement more, no level more.
    assert erp == dict.fromkeys(
        ["fetch party", "fetch_related person by party", "fetch_related order by party",
         "fetch_related order_line by order.party", "fetch_related invoice by party",
         "fetch_related payment by invoice.party"], 1
    ), erp  # fmt: skip
    assert estate.stats("crm")["total"] == len(crm_requests) and len(erp_statements) == sum(erp.values())


def test_the_ticket_users_of_a_customers_people_are_read_in_the_first_level(
    estate: Estate, facade: Facade, linked_identity: str
) -> None:
    """A customer with a person only the ticket system knows: its users are read in one show_many that
    leaves with the first level, before any system has answered, not after the lists of people."""
    store = IdentityStore(linked_identity)
    with store.engine.connect() as conn:
        customer_ids = list(conn.exec_driver_sql("SELECT id FROM crmgraph_customers ORDER BY id").scalars())
    store.close()
    users = _ticket_users(linked_identity, customer_ids)
    customer = next(customer for customer, _, alone in users if alone)
    wanted = [user for owner, user, _ in users if owner == customer]
    for system in ("crm", "tickets"):
        estate.faults(system, latency_ms=150)
    result = facade.query(CUSTOMER_360, {"id": encode_id("Customer", str(customer))}, explain=True)
    assert "errors" not in result, result.get("errors")
    (read,) = [c for c in _calls(result, "tickets") if c["operation"] == "fetch person"]
    assert read["keys"] == len(wanted)
    first_answer = min(c["atMs"] + c["ms"] for c in _calls(result) if c["source"] in ("crm", "tickets"))
    assert read["atMs"] < first_answer, (read, first_answer)


@pytest.mark.parametrize(
    ("selection", "reads_lines"),
    [
        ("orders(first: 5) { nodes { number } }", False),
        ("orders(first: 5) { nodes { number lines { sku } } }", True),
        ("orders(first: 5) { edges { node { lines { sku } } } }", True),
        ("orders(first: 5) { nodes { ...Lines } }", True),
        ("orders(first: 5) { nodes { number lines @skip(if: true) { sku } } }", False),
        ("orders(first: 5) { nodes { number lines @include(if: false) { sku } } }", False),
    ],
)
def test_order_lines_are_read_only_when_the_query_asks_for_them_and_then_once(
    facade: Facade, active_customer: str, selection: str, reads_lines: bool
) -> None:
    fragment = "fragment Lines on Order { lines { sku } }" if "...Lines" in selection else ""
    query = f"query($id: ID!) {{ customer(id: $id) {{ {selection} }} }} {fragment}"
    operations = _operations(facade.query(query, {"id": active_customer}, explain=True))
    line_reads = sum(n for (source, op), n in operations.items() if op.startswith("fetch_related order_line by"))
    assert line_reads == (1 if reads_lines else 0)


def test_a_document_asked_again_looks_ahead_with_its_new_variables(
    estate: Estate, linked_identity: str, active_customer: str
) -> None:
    # The document is parsed once and its field nodes are shared by the requests; what one request's variables
    # selected must not decide what the next one reads. Nothing cached, so every read shows.
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity,
                           namespace=f"t{uuid.uuid4().hex}", ttl_s=0)  # fmt: skip
    query = (
        "query($id: ID!, $lines: Boolean!) { customer(id: $id) { orders(first: 5) { nodes { number "
        "lines @include(if: $lines) { sku } } } } }"
    )
    with serve_facade(config) as facade:
        for lines in (True, False, True, False):
            operations = _operations(facade.query(query, {"id": active_customer, "lines": lines}, explain=True))
            reads = sum(n for (source, op), n in operations.items() if op.startswith("fetch_related order_line by"))
            assert reads == (1 if lines else 0), (lines, operations)


def test_a_customers_name_reads_only_its_own_records(facade: Facade, active_customer: str) -> None:
    operations = _operations(
        facade.query("query($id: ID!) { customer(id: $id) { name } }", {"id": active_customer}, explain=True)
    )
    assert {op for source, op in operations if source in LEGACY} == {"fetch party"}
    assert all(n == 1 for (source, _), n in operations.items() if source in LEGACY)


def test_every_customer_field_declares_what_it_reads() -> None:
    customer = graphql.build_schema(build_schema().as_str()).get_type("Customer")
    assert isinstance(customer, graphql.GraphQLObjectType)
    assert set(READS_BY_FIELD) == set(customer.fields)


def test_a_read_started_ahead_for_a_field_that_then_fails_ends_before_the_answer(
    estate: Estate, facade: Facade, active_customer: str, erp_statements: list[str]
) -> None:
    """The customer's orders are read ahead, then `orders` refuses its date range without awaiting them."""
    erp_path = str(estate.layout.erp_db.resolve())

    def slow(conn: Any, *_: Any) -> None:
        if conn.engine.url.database == erp_path:
            time.sleep(0.3)  # long enough that the refusal answers first, unless the request waits

    event.listen(Engine, "before_cursor_execute", slow)
    try:
        query = """query($id: ID!) { customer(id: $id) {
          orders(placedAfter: "2024-02-01T00:00:00Z", placedBefore: "2024-01-01T00:00:00Z") { totalCount } } }"""
        result = facade.query(query, {"id": active_customer}, explain=True)
    finally:
        event.remove(Engine, "before_cursor_execute", slow)
    assert [e["extensions"]["code"] for e in result["errors"]] == ["BAD_USER_INPUT"]
    erp = [c for c in _calls(result, "erp") if c["operation"] == "fetch_related order by party"]
    assert len(erp) == 1 and erp[0]["ms"] >= 300, "the read ahead finished within the request and is explained"
    assert len(erp_statements) == len(_calls(result, "erp"))


def _keys_of(result: dict[str, Any], operation: str) -> list[int]:
    return [c["keys"] for c in _calls(result) if c["operation"] == operation]


@pytest.mark.parametrize(
    ("orders", "variables"),
    [
        ("orders(first: 2)", {}),
        ("orders(first: $n)", {"n": 2}),
        ("a: orders(first: 1) { nodes { number } } orders(first: 2)", {}),
    ],
)
def test_order_lines_come_with_the_orders_in_one_join_and_match_the_lines_read_per_order(
    facade: Facade, active_customer: str, orders: str, variables: dict[str, Any]
) -> None:
    declared = "$id: ID!, $n: Int!" if "$n" in orders else "$id: ID!"
    query = f"""query({declared}) {{ customer(id: $id) {{
      {orders} {{ nodes {{ number lines {{ sku quantity }} }} }} }} }}"""
    # First, a filter that keeps every order: it leaves the page to the resolver, which reads the lines
    # per order. (Asked second, they would come from the cache the joined read fills.)
    unfiltered = """query($id: ID!) { customer(id: $id) {
      orders(first: 2, placedAfter: "1970-01-01T00:00:00Z") { nodes { number lines { sku quantity } } } } }"""
    per_order = facade.query(unfiltered, {"id": active_customer}, explain=True)
    shown = per_order["data"]["customer"]["orders"]["nodes"]
    assert _keys_of(per_order, "fetch_related order_line by order") == ([len(shown)] if shown else [])
    assert _keys_of(per_order, "fetch_related order_line by order.party") == []
    joined = facade.query(query, {"id": active_customer, **variables}, explain=True)
    assert _keys_of(joined, "fetch_related order_line by order.party") == [1]
    assert _keys_of(joined, "fetch_related order_line by order") == []
    assert joined["data"]["customer"]["orders"]["nodes"] == shown and any(node["lines"] for node in shown)


def test_payments_read_with_the_invoices_match_those_read_per_invoice(facade: Facade, active_customer: str) -> None:
    selection = "{ nodes { number outstanding { amount } payments { amount { amount } } } }"
    per_invoice = facade.query(
        f"query($id: ID!) {{ customer(id: $id) {{ invoices(first: 5, after: null) {selection} }} }}",
        {"id": active_customer}, explain=True,
    )  # fmt: skip
    assert _keys_of(per_invoice, "fetch_related payment by invoice.party") == []
    assert _keys_of(per_invoice, "fetch_related payment by invoice")
    joined = facade.query(
        f"query($id: ID!) {{ customer(id: $id) {{ invoices(first: 5) {selection} }} }}", {"id": active_customer},
        explain=True,
    )  # fmt: skip
    assert _keys_of(joined, "fetch_related payment by invoice.party") == [1]
    assert joined["data"] == per_invoice["data"]
    assert any(node["payments"] for node in joined["data"]["customer"]["invoices"]["nodes"])


def test_the_timeline_reads_the_comments_of_every_ticket_once_whatever_page_of_tickets_is_shown(
    facade: Facade, active_customer: str
) -> None:
    query = """query($id: ID!) { customer(id: $id) {
      tickets(first: 1) { totalCount nodes { comments { body } } }
      timeline(first: 5) { nodes { kind } } } }"""
    result = facade.query(query, {"id": active_customer}, explain=True)
    tickets = result["data"]["customer"]["tickets"]["totalCount"]
    comment_calls = _keys_of(result, "fetch_related comment by ticket")
    assert len(comment_calls) == tickets and set(comment_calls) <= {1}  # Zendesk: one call per ticket


def test_a_big_accounts_lines_are_read_for_the_page_when_its_joined_read_is_cut(
    estate: Estate, facade: Facade, linked_identity: str
) -> None:
    """A customer with hundreds of orders: the join stops past its row limit, and the lines of the orders
    shown are read per order as before (one more level, for this customer only)."""
    biggest = "SELECT KUNNR FROM VBAK GROUP BY KUNNR ORDER BY COUNT(*) DESC LIMIT 1"
    customer = _erp_customer(estate, linked_identity, biggest)
    query = "query($id: ID!) { customer(id: $id) { orders(first: 3) { nodes { number lines { sku } } } } }"
    result = facade.query(query, {"id": encode_id("Customer", str(customer))}, explain=True)
    assert _keys_of(result, "fetch_related order_line by order.party") == [1]
    assert _keys_of(result, "fetch_related order_line by order") == [3]
    assert all(node["lines"] for node in result["data"]["customer"]["orders"]["nodes"])


def test_reads_started_when_the_first_level_arrives_are_explained_when_their_field_then_fails(
    estate: Estate, facade: Facade, active_customer: str
) -> None:
    """The timeline refuses its page once its records are in; the comments' reads its tickets started on
    arrival (one per ticket) are explained, and the ticket system counted exactly those calls."""
    count = "query($id: ID!) { customer(id: $id) { tickets { totalCount } } }"
    tickets = facade.query(count, {"id": active_customer})["data"]["customer"]["tickets"]["totalCount"]
    estate.reset("tickets")
    estate.faults("tickets", latency_ms=150)
    query = "query($id: ID!) { customer(id: $id) { timeline(first: -1) { totalCount } } }"
    result = facade.query(query, {"id": active_customer}, explain=True)
    assert [e["path"] for e in result["errors"]] == [["customer", "timeline"]]
    comment_calls = _keys_of(result, "fetch_related comment by ticket")
    assert tickets > 0 and len(comment_calls) == tickets
    assert estate.stats("tickets")["total"] == len(_calls(result, "tickets"))
