"""Observability against the real facade and estate: metrics agree with explain, request ids round-trip,
the access log is JSON, and readiness names the source that is down."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from crmgraph.adapters.sdk.calls import UpstreamCall, call_observers, upstream_call
from crmgraph.observability import JsonFormatter
from crmgraph.observability.metrics import MAX_OPERATION_NAMES, Metrics
from crmgraph.observability.operations import outcome
from tests.conftest import Estate
from tests.facade import Facade, facade_config, serve_facade

CUSTOMER_360 = """
query Customer360Page {
  customers(first: 20) {
    nodes {
      id name
      contacts(first: 5) { nodes { name email } }
      orders(first: 3) { nodes { number } }
      tickets(first: 3) { nodes { subject } }
    }
  }
}
"""


def _samples(facade: Facade, name: str) -> list[tuple[dict[str, str], float]]:
    response = httpx.get(f"{facade.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name
    ]


def _by(samples: list[tuple[dict[str, str], float]], label: str) -> Counter[str]:
    totals: Counter[str] = Counter()
    for labels, value in samples:
        totals[labels[label]] += int(value)
    return totals


def test_metrics_count_the_operation_and_the_upstream_calls_that_explain_reported(facade: Facade) -> None:
    result = facade.query(CUSTOMER_360, explain=True)
    assert "errors" not in result
    upstream = result["extensions"]["upstream"]
    explained = Counter(upstream["callsBySource"])
    assert {"crm", "erp", "tickets"} <= set(explained)

    operations = _samples(facade, "crmgraph_graphql_operations_total")
    assert ({"operation": "Customer360Page", "outcome": "ok"}, 1.0) in operations
    durations = _samples(facade, "crmgraph_graphql_operation_duration_seconds_count")
    assert ({"operation": "Customer360Page"}, 1.0) in durations

    assert _by(_samples(facade, "crmgraph_upstream_calls_total"), "source") == explained
    assert _by(_samples(facade, "crmgraph_upstream_call_duration_seconds_count"), "source") == explained
    keys: Counter[str] = Counter()
    for call in upstream["calls"]:
        keys[call["source"]] += call["keys"]
    assert _by(_samples(facade, "crmgraph_upstream_call_keys_sum"), "source") == keys
    by_operation = _by(_samples(facade, "crmgraph_upstream_calls_total"), "operation")
    assert by_operation == Counter(call["operation"] or "other" for call in upstream["calls"])


def test_a_repeated_query_counts_cache_hits_by_source_and_entity(facade: Facade) -> None:
    facade.query(CUSTOMER_360)
    again = facade.query(CUSTOMER_360, explain=True)
    hits = again["extensions"]["upstream"]["cacheHits"]
    assert hits
    counted = {
        f"{labels['source']}:{labels['entity']}": int(value)
        for labels, value in _samples(facade, "crmgraph_cache_hits_total")
    }
    for name, count in hits.items():
        assert counted[name] >= count


def test_a_failing_source_makes_the_operation_partial_and_its_calls_errors(estate: Estate, facade: Facade) -> None:
    estate.faults("tickets", down=True)
    result = facade.query(CUSTOMER_360)
    assert result["data"] is not None and result["errors"]
    operations = _samples(facade, "crmgraph_graphql_operations_total")
    assert ({"operation": "Customer360Page", "outcome": "partial"}, 1.0) in operations
    calls = _samples(facade, "crmgraph_upstream_calls_total")
    # A failed call is labelled with its error code, so a dashboard can tell outages from rate limits.
    assert any(labels["source"] == "tickets" and labels["outcome"] == "UPSTREAM_UNAVAILABLE" for labels, _ in calls)
    failed = ("error", "UPSTREAM_UNAVAILABLE", "UPSTREAM_TIMEOUT", "UPSTREAM_BAD_RESPONSE")
    assert not any(labels["source"] == "crm" and labels["outcome"] in failed for labels, _ in calls)


def test_retries_waits_and_refusals_of_the_policies_are_counted(estate: Estate, linked_identity: str) -> None:
    policy = {"rate_limit_per_s": 1, "retries": 1, "retry_budget_min": 10, "backoff_max_s": 0.05,
              "window": 4, "min_calls": 4, "open_s": 60}  # fmt: skip
    config = facade_config(
        estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity, ttl_s=0, tickets_resilience=policy
    )
    with serve_facade(config) as facade:
        facade.query(CUSTOMER_360)  # a page's tickets: organizations, one search, users: more than a burst of 1
        waits = _samples(facade, "crmgraph_upstream_wait_seconds_count")
        assert _by(waits, "reason")["rate_limit"] > 0 and {labels["source"] for labels, _ in waits} == {"tickets"}
        estate.faults("tickets", error_rate=1, seed=2)
        result = facade.query(CUSTOMER_360)
        assert result["errors"]
        retries = _samples(facade, "crmgraph_upstream_retries_total")
        assert _by(retries, "code")["UPSTREAM_UNAVAILABLE"] > 0
        assert all(labels["source"] == "tickets" for labels, _ in retries)
        facade.query(CUSTOMER_360)  # the breaker opened on those failures: these calls never leave
        refused = _samples(facade, "crmgraph_upstream_refused_total")
        assert _by(refused, "reason")["circuit_open"] > 0


def test_an_invalid_document_is_an_error_outcome(facade: Facade) -> None:
    response = httpx.post(f"{facade.url}/graphql", json={"query": "query Broken { nope }"}, timeout=10)
    assert response.json()["errors"]
    assert ({"operation": "Broken", "outcome": "error"}, 1.0) in _samples(facade, "crmgraph_graphql_operations_total")


def test_a_request_id_sent_by_the_client_comes_back(facade: Facade) -> None:
    response = httpx.get(f"{facade.url}/healthz", headers={"X-Request-Id": "lb-7f3a.42"}, timeout=10)
    assert response.headers["X-Request-Id"] == "lb-7f3a.42"


def test_a_request_id_is_generated_when_absent_or_not_sane(facade: Facade) -> None:
    first = httpx.get(f"{facade.url}/healthz", timeout=10).headers["X-Request-Id"]
    second = httpx.get(f"{facade.url}/healthz", timeout=10).headers["X-Request-Id"]
    assert first and second and first != second
    odd = httpx.get(f"{facade.url}/healthz", headers={"X-Request-Id": "a b\tc" + "x" * 300}, timeout=10)
    assert odd.headers["X-Request-Id"] != "a b\tc" + "x" * 300
    assert " " not in odd.headers["X-Request-Id"]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def access_lines() -> Iterator[list[str]]:
    logger = logging.getLogger("crmgraph.access")
    handler = _Lines()
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def test_each_graphql_request_writes_one_json_access_line(facade: Facade, access_lines: list[str]) -> None:
    response = httpx.post(
        f"{facade.url}/graphql",
        json={"query": CUSTOMER_360, "extensions": {"explain": True}},
        headers={"X-Request-Id": "req-access-1"},
        timeout=60,
    )
    explained = len(response.json()["extensions"]["upstream"]["calls"])
    lines = [orjson.loads(line) for line in access_lines]
    mine = [line for line in lines if line.get("request_id") == "req-access-1"]
    assert len(mine) == 1
    line = mine[0]
    assert line["logger"] == "crmgraph.access"
    assert line["level"] == "info"
    assert (line["method"], line["path"], line["status"]) == ("POST", "/graphql", 200)
    assert line["operation"] == "Customer360Page"
    assert line["outcome"] == "ok"
    assert line["upstream_calls"] == explained > 0
    assert isinstance(line["duration_ms"], float)


def test_readyz_is_200_when_every_source_answers(facade: Facade) -> None:
    response = httpx.get(f"{facade.url}/readyz", timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready" and body["unusable"] == []
    assert set(body["sources"]) == {"crm", "erp", "tickets"}
    for state in body["sources"].values():
        assert state["usable"] and state["reachable"]
        assert state["probe"] == "scan party"
        assert state["lastError"] is None
        assert state["breaker"] in {None, "closed"}  # None for an adapter without a breaker


def test_readyz_is_503_and_names_the_source_that_is_down(estate: Estate, facade: Facade) -> None:
    estate.faults("tickets", down=True)
    response = httpx.get(f"{facade.url}/readyz", timeout=10)
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["unusable"] == ["tickets"]
    tickets = body["sources"]["tickets"]
    assert not tickets["usable"] and not tickets["reachable"]
    assert "tickets" in tickets["lastError"]["message"]
    assert tickets["lastError"]["at"]
    assert body["sources"]["crm"]["usable"] and body["sources"]["erp"]["usable"]


def test_readyz_probes_only_when_asked(estate: Estate, facade: Facade) -> None:
    httpx.get(f"{facade.url}/healthz", timeout=10)
    httpx.get(f"{facade.url}/metrics", timeout=10)
    assert _samples(facade, "crmgraph_upstream_calls_total") == []


# --- the pieces, without a server -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "errors", "expected"),
    [({"a": 1}, None, "ok"), ({"a": None}, ["boom"], "partial"), (None, ["boom"], "error")],
)
def test_operation_outcome(data: Any, errors: Any, expected: str) -> None:
    assert outcome(data, errors) == expected


def test_client_chosen_operation_names_are_capped() -> None:
    metrics = Metrics()
    for i in range(MAX_OPERATION_NAMES + 5):
        metrics.observe_operation(f"Op{i}", "ok", 0.01)
    names = {sample.labels["operation"] for sample in metrics.operations.collect()[0].samples}
    assert len(names) == MAX_OPERATION_NAMES + 1 and "other" in names


def test_a_broken_call_observer_does_not_fail_the_call(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[UpstreamCall] = []

    def broken(call: UpstreamCall) -> None:
        raise RuntimeError("observer bug")

    call_observers.extend((broken, seen.append))
    try:
        with pytest.raises(ValueError), upstream_call("crm", "GET /x"):
            raise ValueError("upstream said no")
    finally:
        call_observers.remove(broken)
        call_observers.remove(seen.append)
    assert [(c.source, c.outcome, c.error) for c in seen] == [("crm", "error", "ValueError: upstream said no")]
    assert "observer bug" in caplog.text


class _Breaker:
    state = "open"


class _Adapter:
    breaker = _Breaker()


def test_breaker_state_is_exported_when_the_adapter_has_one() -> None:
    metrics = Metrics(lambda: {"erp": _Adapter(), "crm": object()})
    samples = {
        (s.labels["source"], s.labels["state"]): s.value
        for family in metrics.registry.collect()
        if family.name == "crmgraph_breaker_state"
        for s in family.samples
    }
    assert samples == {("erp", "closed"): 0.0, ("erp", "half_open"): 0.0, ("erp", "open"): 1.0}
