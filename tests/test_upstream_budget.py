"""A request's budget of upstream calls: past it, sources answer UPSTREAM_BUDGET_EXCEEDED and nothing more
is asked of them; what was read in budget still arrives."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.conftest import Estate
from tests.facade import facade_config, serve_facade
from tests.test_graph import _active_everywhere, _global_id

CUSTOMER_360 = """query($id: ID!) { customer(id: $id) {
  name
  contacts(first: 20) { nodes { name } }
  deals(first: 10) { nodes { name } }
  orders(first: 10) { nodes { number lines { sku } } }
  tickets(first: 10) { nodes { subject comments { body } } }
} }"""


def _codes(result: dict[str, Any]) -> Counter[str]:
    return Counter(error["extensions"]["code"] for error in result.get("errors", []))


def test_a_request_past_its_budget_of_upstream_calls_stops_asking_and_answers_what_it_read(
    estate: Estate, linked_identity: str
) -> None:
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity)
    customer = _active_everywhere(estate, linked_identity)
    with serve_facade(config) as facade:
        free = facade.query(CUSTOMER_360, {"id": _global_id(facade, customer)}, explain=True)
    assert "errors" not in free, free["errors"]
    needed = len(free["extensions"]["upstream"]["calls"])
    budget = 3
    assert needed > budget + 2, "the customer 360 needs more calls than the budget allows"

    tight = config.model_copy(update={"server": config.server.model_copy(update={"max_upstream_calls": budget})})
    with serve_facade(tight) as facade:
        cut = facade.query(CUSTOMER_360, {"id": _global_id(facade, customer)}, explain=True)
    calls = cut["extensions"]["upstream"]["calls"]
    assert len(calls) == budget, "every call made was within the budget, and the budget was used"
    assert set(_codes(cut)) == {"UPSTREAM_BUDGET_EXCEEDED"}
    assert all(e["extensions"]["retryable"] is False for e in cut["errors"])
    assert cut["data"]["customer"] is not None and cut["data"]["customer"]["name"], "what was read arrives"
