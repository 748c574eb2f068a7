"""Sales orders placed through the graph in the writable copy of the demo ERP: in the customer's orders at
once, one VBAK row however often the request is retried, a faulty line named in userErrors with nothing
written, distinct numbers for concurrent orders, and a lost commit settled through the idempotency key."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import exc as sa

from crmgraph.adapters.sql import writes as sql_writes
from crmgraph.schema.ids import encode_id
from tests.conftest import Estate
from tests.facade import Facade, facade_config, serve_facade, store_copy
from tests.test_governance import AUDIENCE, ISSUER, SECRET, Estate360, token

CREATE = """mutation($input: SalesOrderCreateInput!) { salesOrderCreate(input: $input) {
  order { id number status customerReference total { amount currencyCode } lines { position sku quantity }
          customer { id } }
  replayed userErrors { field message code } } }"""
ORDERS = "query($id: ID!) { customer(id: $id) { orders(first: 100) { totalCount nodes { id number } } } }"


@pytest.fixture(scope="module")
def store_url(linked_identity: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the session's links (they fit the writable copy of the estate): the facade keeps its
    idempotency records there."""
    return store_copy(linked_identity, tmp_path_factory.mktemp("order-writes"))


@pytest.fixture
def facade(writable_estate: Estate, store_url: str) -> Iterator[Facade]:
    estate = writable_estate
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, store_url,
                           namespace=f"o{uuid.uuid4().hex[:6]}", ttl_s=600, deadline_s=5)  # fmt: skip
    with serve_facade(config) as running:
        yield running


def _erp(estate: Estate, sql: str, *parameters: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(estate.layout.erp_db) as conn:
        return conn.execute(sql, parameters).fetchall()


def _customer_with_debtor(store_url: str) -> int:
    with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
        row = conn.execute(
            "SELECT customer_id FROM crmgraph_links WHERE source = 'erp' AND entity = 'party' "
            "ORDER BY customer_id LIMIT 1"
        ).fetchone()
    return int(row[0])


def _skus(estate: Estate) -> list[str]:
    return [row[0] for row in _erp(estate, "SELECT DISTINCT MATNR FROM VBAP ORDER BY MATNR LIMIT 2")]


def _input(customer: str, skus: list[str], key: str, **fields: Any) -> dict[str, Any]:
    lines = [
        {"sku": skus[0], "quantity": "2", "unitPrice": "10.50"},
        {"sku": skus[1], "quantity": "1", "unitPrice": "99"},
    ]
    return {"customerId": customer, "lines": lines, "idempotencyKey": key, **fields}


def _create(facade: Facade, given: dict[str, Any]) -> dict[str, Any]:
    answer = facade.query(CREATE, {"input": given})
    assert "errors" not in answer, answer
    result: dict[str, Any] = answer["data"]["salesOrderCreate"]
    return result


def _vbak_rows(estate: Estate) -> int:
    return int(_erp(estate, "SELECT COUNT(*) FROM VBAK")[0][0])


def test_an_order_placed_through_the_graph_is_in_the_erp_and_in_the_customers_orders_at_once(
    facade: Facade, writable_estate: Estate, store_url: str
) -> None:
    customer = encode_id("Customer", str(_customer_with_debtor(store_url)))
    skus = _skus(writable_estate)
    before = facade.query(ORDERS, {"id": customer})["data"]["customer"]["orders"]  # now cached for 600 s
    rows = _vbak_rows(writable_estate)
    key = str(uuid.uuid4())
    created = _create(facade, _input(customer, skus, key, customerReference="PO-77"))
    order = created["order"]
    assert created["userErrors"] == [] and created["replayed"] is False
    assert order["status"] == "OPEN" and order["customerReference"] == "PO-77" and order["customer"] == {"id": customer}
    assert order["total"]["amount"] == "120.00"
    assert [(line["position"], line["sku"]) for line in order["lines"]] == [(10, skus[0]), (20, skus[1])]
    own = _erp(writable_estate, "SELECT BSTNK, ZZIDEMK FROM VBAK WHERE VBELN = ?", order["number"].zfill(10))
    assert [reference for reference, _ in own] == ["PO-77"], "the ERP's own table holds it"
    assert len(own[0][1]) == 64 and key not in own[0][1], "with a digest of the caller and the key"
    after = facade.query(ORDERS, {"id": customer})["data"]["customer"]["orders"]
    assert after["totalCount"] == before["totalCount"] + 1, "the cached list was dropped by the write"
    assert order["id"] in {node["id"] for node in after["nodes"]}

    again = _create(facade, _input(customer, skus, key, customerReference="PO-77"))
    assert again["replayed"] is True and again["order"]["id"] == order["id"] and again["userErrors"] == []
    assert _vbak_rows(writable_estate) == rows + 1, "a retry writes no second row"
    other = _create(facade, _input(customer, skus, key, customerReference="PO-78"))
    assert other["order"] is None and [e["code"] for e in other["userErrors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert _vbak_rows(writable_estate) == rows + 1


def test_a_faulty_line_is_named_in_user_errors_and_nothing_is_written(
    facade: Facade, writable_estate: Estate, store_url: str
) -> None:
    customer = encode_id("Customer", str(_customer_with_debtor(store_url)))
    given = _input(customer, _skus(writable_estate), str(uuid.uuid4()))
    given["lines"][1]["quantity"] = "0"
    given["lines"][0]["currencyCode"] = "euro"
    rows = _vbak_rows(writable_estate)
    refused = _create(facade, given)
    assert refused["order"] is None
    faults = sorted((e["field"], e["code"]) for e in refused["userErrors"])
    assert faults == [(["input", "lines", "0", "currencyCode"], "INVALID"),
                      (["input", "lines", "1", "quantity"], "INVALID")]  # fmt: skip
    assert _vbak_rows(writable_estate) == rows


def test_concurrent_orders_get_distinct_numbers(facade: Facade, writable_estate: Estate, store_url: str) -> None:
    customer = encode_id("Customer", str(_customer_with_debtor(store_url)))
    skus = _skus(writable_estate)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _create(facade, _input(customer, skus, str(uuid.uuid4()))), range(12)))
    numbers = [answer["order"]["number"] for answer in answers]
    assert len(set(numbers)) == 12, numbers


def test_a_lost_commit_is_reported_and_the_retry_finds_the_order_instead_of_placing_another(
    facade: Facade, writable_estate: Estate, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = encode_id("Customer", str(_customer_with_debtor(store_url)))
    skus = _skus(writable_estate)
    real = sql_writes.commit

    def commit_then_drop(connection: Any) -> None:
        real(connection)
        raise sa.OperationalError("COMMIT", None, ConnectionResetError("connection reset by peer"))

    monkeypatch.setattr(sql_writes, "commit", commit_then_drop)
    key, rows = str(uuid.uuid4()), _vbak_rows(writable_estate)
    lost = facade.query(CREATE, {"input": _input(customer, skus, key)})
    monkeypatch.setattr(sql_writes, "commit", real)
    assert lost["data"] is None
    assert lost["errors"][0]["extensions"]["code"] == "UPSTREAM_OUTCOME_UNKNOWN"
    assert _vbak_rows(writable_estate) == rows + 1, "the ERP did commit it"
    retried = _create(facade, _input(customer, skus, key))
    assert retried["replayed"] is True and retried["userErrors"] == []
    assert _vbak_rows(writable_estate) == rows + 1, "found by its key, not placed twice"
    stored = _erp(writable_estate, "SELECT ZZIDEMK FROM VBAK WHERE VBELN = ?", retried["order"]["number"].zfill(10))
    assert len(_erp(writable_estate, "SELECT VBELN FROM VBAK WHERE ZZIDEMK = ?", stored[0][0])) == 1


def test_a_customer_that_does_not_exist_gets_no_order(facade: Facade, writable_estate: Estate) -> None:
    missing = _create(facade, _input(encode_id("Customer", "99999999"), _skus(writable_estate), str(uuid.uuid4())))
    assert missing["order"] is None and [e["code"] for e in missing["userErrors"]] == ["NOT_FOUND"]


JWT = f"""{{hs256_secret: "{SECRET}", issuer: {ISSUER}, audience: {AUDIENCE}}}"""
REP_GOVERNANCE = f"""auth: {{jwt: {JWT}, api_keys: false}}
        policy:
          roles:
            sales_rep: {{scope: [{{field: owner_id, attribute: owner_id}}], mutations: [salesOrderCreate]}}
            marketing: {{}}"""


def test_a_sales_rep_places_orders_for_their_own_customers_only(writable_estate: Estate, store_url: str) -> None:
    owned = Estate360(store_url)
    with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
        debtors = {int(row[0]) for row in conn.execute(
            "SELECT customer_id FROM crmgraph_links WHERE source = 'erp' AND entity = 'party'")}  # fmt: skip
    mine, theirs = min(owned.owned & debtors), min(set(owned.outside) & debtors)
    estate, skus = writable_estate, _skus(writable_estate)
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, store_url,
                           namespace=f"r{uuid.uuid4().hex[:6]}", governance=REP_GOVERNANCE)  # fmt: skip
    rep = token("sales_rep", "rita.rep", owner_id=owned.owner)
    with serve_facade(config) as facade:

        def place(customer: int, headers: dict[str, str]) -> dict[str, Any]:
            given = _input(encode_id("Customer", str(customer)), skus, str(uuid.uuid4()))
            return facade.query(CREATE, {"input": given}, headers=headers)

        rows = _vbak_rows(estate)
        placed = place(mine, rep)["data"]["salesOrderCreate"]
        assert placed["userErrors"] == [] and placed["order"]["number"]
        outside = place(theirs, rep)["data"]["salesOrderCreate"]
        assert outside["order"] is None and [e["code"] for e in outside["userErrors"]] == ["NOT_FOUND"]
        refused = place(mine, token("marketing"))
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert _vbak_rows(estate) == rows + 1
