"""A request's objects are freed when it ends, not left for the garbage collector.

Reference cycles among a request's objects (its context, loaders, call log, executor) keep everything they
reach (the records read, the answer's parts) alive until a collection finds them: memory that grows with
the load between collections, and collections that cost more. Here the collector is held off while a real
facade answers a list page and a customer 360, cold and from the cache, and then asked what it found
unreachable: none of it may be the request's.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from crmgraph.adapters.sdk.calls import CallLog
from crmgraph.records import Record
from crmgraph.resolvers.batching import BatchLoader
from crmgraph.resolvers.loaders import Loaders
from crmgraph.schema.walk import PlannedWalkExecution
from tests.conftest import Estate
from tests.facade import Facade, facade_config, serve_facade

PAGE = """{ customers(first: 20) { nodes {
  name owner { name email } contacts(first: 5) { nodes { name email } }
  orders(first: 5) { nodes { number status total { amount currencyCode } } }
  tickets(first: 5) { nodes { subject status } }
} } }"""
CUSTOMER = """query($id: ID!) { customer(id: $id) {
  name owner { name } contacts(first: 20) { nodes { name email } }
  orders(first: 10) { nodes { number lines { sku quantity } } }
  tickets(first: 10) { nodes { subject comments { body } } }
  invoices(first: 10) { nodes { number outstanding { amount } } }
  timeline(first: 20) { nodes { kind title } }
} }"""
# What only a request makes: found unreachable, it was held by a cycle.
REQUEST_KINDS = (Loaders, BatchLoader, CallLog, PlannedWalkExecution, Record)


@pytest.fixture(params=[0.0, 300.0], ids=["cache-off", "cached"])
def facade(request: pytest.FixtureRequest, estate: Estate, linked_identity: str) -> Iterator[Facade]:
    ttl = request.param
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity, ttl_s=ttl)
    with serve_facade(config) as running:
        yield running


def _unreachable_after(ask: Callable[[], None]) -> Counter[str]:
    """The kinds of request objects the collector finds unreachable after ``ask()`` (collector held off)."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        ask()
        gc.collect()
        return Counter(type(found).__name__ for found in gc.garbage if isinstance(found, REQUEST_KINDS))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_a_list_page_and_a_customer_360_leave_no_cycles(facade: Facade) -> None:
    first = facade.query("{ customers(first: 1) { nodes { id } } }")
    customer = first["data"]["customers"]["nodes"][0]["id"]
    for query, variables in ((PAGE, {}), (CUSTOMER, {"id": customer})):  # once before: imports, plans, the cache
        assert "errors" not in facade.query(query, variables)

    def ask() -> None:
        for query, variables in ((PAGE, {}), (CUSTOMER, {"id": customer})):
            answer = facade.query(query, variables, explain=True)
            assert "errors" not in answer, answer.get("errors")
            assert answer["extensions"]["upstream"]["calls"] is not None

    assert _unreachable_after(ask) == Counter()
