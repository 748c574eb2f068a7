"""A won deal becomes an ERP sales order (the saga dealConvertToOrder), against the writable estate: the
CRM deal and company and the ERP order change together; when the ERP refuses the order, the CRM deal and
company are put back and the saga says why; a retry with the same key joins the saga, writing nothing more;
``saga(id)`` reads its state back from the store."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from crmgraph.schema.ids import encode_id
from tests.conftest import Estate
from tests.facade import Facade, facade_config, serve_facade, store_copy

CONVERT = """mutation($input: DealConvertToOrderInput!) { dealConvertToOrder(input: $input) {
  saga { id kind state steps { name state error } } order { number lines { sku quantity } }
  userErrors { field message code } } }"""


@pytest.fixture(scope="module")
def store_url(linked_identity: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return store_copy(linked_identity, tmp_path_factory.mktemp("sagas"))


@pytest.fixture
def facade(writable_estate: Estate, store_url: str) -> Iterator[Facade]:
    estate = writable_estate
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, store_url,
                           namespace=f"s{uuid.uuid4().hex[:6]}", ttl_s=600, deadline_s=5)  # fmt: skip
    with serve_facade(config) as running:
        yield running


def _erp(estate: Estate, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(estate.layout.erp_db) as conn:
        return conn.execute(sql).fetchall()


def _open_deal(store_url: str, estate: Estate) -> tuple[str, str, str]:
    """(deal id in the CRM, its stage, its company) of a customer with a CRM company and an ERP debtor."""
    with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
        companies = [row[0] for row in conn.execute(
            "SELECT c.source_id FROM crmgraph_links c JOIN crmgraph_links e ON e.customer_id = c.customer_id "
            "AND e.source = 'erp' AND e.entity = 'party' WHERE c.source = 'crm' AND c.entity = 'party' "
            "ORDER BY c.customer_id LIMIT 40")]  # fmt: skip
    with estate.crm() as crm:
        for company in companies:
            record = crm.get(f"/crm/v3/objects/companies/{company}", params={"associations": "deals"}).json()
            for association in record.get("associations", {}).get("deals", {}).get("results", []):
                deal = crm.get(f"/crm/v3/objects/deals/{association['id']}", params={"properties": "dealstage"}).json()
                stage = deal["properties"]["dealstage"]
                if stage not in ("closedwon", "closedlost"):
                    return str(deal["id"]), stage, company
    pytest.fail("no open deal of a customer known to the CRM and the ERP")


def _crm(estate: Estate, path: str, prop: str) -> str | None:
    with estate.crm() as crm:
        value: str | None = crm.get(path, params={"properties": prop}).json()["properties"].get(prop)
    return value


def test_a_won_deal_becomes_an_order_and_a_refused_order_puts_the_deal_back(
    facade: Facade, writable_estate: Estate, store_url: str
) -> None:
    deal, stage, company = _open_deal(store_url, writable_estate)
    sku = _erp(writable_estate, "SELECT MATNR FROM VBAP ORDER BY MATNR LIMIT 1")[0][0]
    deal_id = encode_id("Deal", "crm", deal)
    orders_before = _erp(writable_estate, "SELECT count(*) FROM VBAK")[0][0]

    unknown = [{"sku": "NO-SUCH-MATERIAL", "quantity": "1", "unitPrice": "10"}]
    given = {"dealId": deal_id, "idempotencyKey": str(uuid.uuid4()), "lines": unknown}
    refused = facade.query(CONVERT, {"input": given})["data"]["dealConvertToOrder"]
    saga = refused["saga"]
    assert refused["userErrors"] == [] and refused["order"] is None
    assert saga["state"] == "COMPENSATED", saga
    assert [(s["name"], s["state"]) for s in saga["steps"]] == [
        ("deal", "compensated"), ("company", "compensated"), ("order", "failed")]  # fmt: skip
    assert saga["steps"][2]["error"].startswith("order: ") and "NO-SUCH-MATERIAL" in saga["steps"][2]["error"]
    assert _crm(writable_estate, f"/crm/v3/objects/deals/{deal}", "dealstage") == stage, "the deal is put back"
    assert _erp(writable_estate, "SELECT count(*) FROM VBAK")[0][0] == orders_before
    read = facade.query("query($id: ID!) { saga(id: $id) { state steps { name state } } }", {"id": saga["id"]})
    assert read["data"]["saga"]["state"] == "COMPENSATED"

    key = str(uuid.uuid4())
    given = {"dealId": deal_id, "idempotencyKey": key, "lines": [{"sku": sku, "quantity": "3", "unitPrice": "12.5"}]}
    done = facade.query(CONVERT, {"input": given})["data"]["dealConvertToOrder"]
    assert done["saga"]["state"] == "DONE" and [s["state"] for s in done["saga"]["steps"]] == ["done"] * 3
    assert [line["sku"] for line in done["order"]["lines"]] == [sku]
    assert _crm(writable_estate, f"/crm/v3/objects/deals/{deal}", "dealstage") == "closedwon"
    assert _crm(writable_estate, f"/crm/v3/objects/companies/{company}", "lifecyclestage") == "customer"
    assert _erp(writable_estate, "SELECT count(*) FROM VBAK")[0][0] == orders_before + 1
    again = facade.query(CONVERT, {"input": given})["data"]["dealConvertToOrder"]
    assert again["saga"]["id"] == done["saga"]["id"] and again["order"]["number"] == done["order"]["number"]
    assert _erp(writable_estate, "SELECT count(*) FROM VBAK")[0][0] == orders_before + 1, "joined, not run again"
