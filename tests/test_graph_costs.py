"""What a query costs upstream: batched per level, never twice for one key, nothing when cached.

Counts come from three witnesses that must agree: the facade's ``extensions.upstream`` (explain), the
estate's own ``/_control/stats`` for the HTTP systems, and a statement counter on the ERP's engine.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event

from tests.conftest import Estate
from tests.facade import Facade, facade_config, serve_facade

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


def test_a_page_of_fifty_customers_costs_the_same_few_calls_per_level(
    estate: Estate, facade: Facade, erp_statements: list[str]
) -> None:
    result = facade.query(CUSTOMER_360_PAGE, explain=True)
    assert "errors" not in result, result.get("errors")
    customers = result["data"]["customers"]["nodes"]
    assert len(customers) == 50
    assert any(c["orders"]["nodes"] for c in customers) and any(c["tickets"]["nodes"] for c in customers)

    per_operation = Counter((c["source"], c["operation"]) for c in _calls(result))
    # The CRM and the ERP answer each level with batches whatever the number of customers: one batch read
    # of companies; for contacts and deals one v4 associations call plus one batch read of the objects.
    assert per_operation[("crm", "fetch party")] == 1
    assert per_operation[("crm", "fetch_related person by party")] == 2
    assert per_operation[("crm", "fetch_related deal by party")] == 2
    erp = {op: n for (source, op), n in per_operation.items() if source == "erp"}
    assert erp and set(erp.values()) == {1}, f"one statement per ERP level, got {erp}"
    # Zendesk: organizations in one show_many; tickets and comments have no batch form, so one call per
    # distinct parent, and never two for the same parent.
    assert per_operation[("tickets", "fetch party")] == 1
    for operation in ("fetch_related ticket by party", "fetch_related comment by ticket"):
        requests = [c["request"] for c in _calls(result, "tickets") if c["operation"] == operation]
        assert len(requests) == len(set(requests)), f"{operation}: a parent was asked twice"
    shown_tickets = sum(len(c["tickets"]["nodes"]) for c in customers)
    assert per_operation[("tickets", "fetch_related comment by ticket")] <= shown_tickets

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


def test_the_same_query_again_within_the_ttl_makes_no_upstream_call(
    estate: Estate, cached_facade: Facade, erp_statements: list[str]
) -> None:
    facade = cached_facade
    first = facade.query(CUSTOMER_360_PAGE, explain=True)
    assert "errors" not in first
    for system in ("crm", "tickets"):
        estate.reset(system)
    erp_statements.clear()
    second = facade.query(CUSTOMER_360_PAGE, explain=True)
    assert second["data"] == first["data"]
    assert [c for c in _calls(second) if c["source"] in LEGACY] == []
    assert estate.stats("crm")["total"] == 0 and estate.stats("tickets")["total"] == 0 and erp_statements == []
    assert sum(second["extensions"]["upstream"]["cacheHits"].values()) > 0


def test_explain_is_only_given_to_who_asks(facade: Facade) -> None:
    result = facade.query("{ customers(first: 1) { totalCount } }")
    assert "upstream" not in (result.get("extensions") or {})
