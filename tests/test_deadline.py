"""The request deadline: no upstream call holds a request past server.deadline_s."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Estate
from tests.facade import facade_config, serve_facade

QUERY = "{ customers(first: 20) { nodes { name tickets(first: 2) { totalCount } orders(first: 1) { totalCount } } } }"


def test_a_slow_system_times_out_at_the_request_deadline_and_the_rest_still_answers(
    estate: Estate, linked_identity: str
) -> None:
    # The ticket system's own timeout (resilience.timeout_s, 5 s by default) is longer than the deadline.
    config = facade_config(
        estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity, ttl_s=0, deadline_s=0.6
    )
    estate.faults("tickets", latency_ms=4000)
    with serve_facade(config) as facade:
        started = time.monotonic()
        result = facade.query(QUERY)
        elapsed = time.monotonic() - started
    # An upper bound only: proof that nobody waited for the 4 s upstream, never a speed requirement.
    assert elapsed < 3
    codes = {(e["extensions"]["code"], e["extensions"]["source"]) for e in result["errors"]}
    assert codes == {("UPSTREAM_TIMEOUT", "tickets")}
    nodes = result["data"]["customers"]["nodes"]
    assert any(n["orders"] and n["orders"]["totalCount"] for n in nodes), "the ERP still answers"
    # Customers with an organization in the ticket system lost their tickets; the others never needed it.
    assert any(n["tickets"] is None for n in nodes)
    assert all(n["tickets"] is None or n["tickets"]["totalCount"] == 0 for n in nodes)


def test_a_page_is_not_built_once_the_deadline_has_passed() -> None:
    """CPU work on the event loop does not stop by itself at the deadline: each page checks the clock."""
    from crmgraph.adapters.sdk.resilience import deadline_in
    from crmgraph.errors import DeadlineExceeded
    from crmgraph.schema.pagination import paginate

    with deadline_in(5):
        page = paginate([3, 1, 2], lambda n: (n,), first=2, after=None, cap=10)
        assert [edge.node for edge in page.edges] == [1, 2]
    with deadline_in(0.001):
        time.sleep(0.002)
        with pytest.raises(DeadlineExceeded) as raised:
            paginate([3, 1, 2], lambda n: (n,), first=2, after=None, cap=10)
    assert raised.value.extensions == {"code": "DEADLINE_EXCEEDED"}
    assert "server.deadline_s" in str(raised.value)
