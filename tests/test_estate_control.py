"""The estate's instruments: stats count exactly what was sent, and every fault mode does what it says."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.conftest import Estate

# One cheap product request per system, used to exercise the instruments.
PROBES = {
    "crm": ("GET", "/crm/v3/objects/companies", {"limit": "1"}),
    "tickets": ("GET", "/api/v2/tickets", {"page[size]": "1"}),
    "marketing": ("GET", "/api/contacts", {"limit": "1", "minimal": "true"}),
}
# Stats count by route template, so that /tickets/1 and /tickets/2 add up.
LABELS = {
    "crm": "GET /crm/v3/objects/{objectType}",
    "tickets": "GET /api/v2/tickets",
    "marketing": "GET /api/contacts",
}
SYSTEMS = list(PROBES)


def _client(estate: Estate, system: str) -> httpx.Client:
    return {"crm": estate.crm, "tickets": estate.tickets, "marketing": estate.marketing}[system]()


def _probe(client: httpx.Client, system: str) -> httpx.Response:
    method, path, params = PROBES[system]
    return client.request(method, path, params=params)


@pytest.mark.parametrize("system", SYSTEMS)
def test_stats_count_exactly_the_requests_sent_by_endpoint_and_status(estate: Estate, system: str) -> None:
    with _client(estate, system) as client:
        for _ in range(7):
            assert _probe(client, system).status_code == 200
        unauthenticated = httpx.get(estate.base(system) + PROBES[system][1], timeout=10)
        assert unauthenticated.status_code == 401
        assert client.get("/no/such/endpoint").status_code == 404
    stats = estate.stats(system)
    endpoint = LABELS[system]
    assert stats["total"] == 9
    assert stats["by_endpoint"][endpoint] == {"total": 8, "by_status": {"200": 7, "401": 1}}
    assert stats["by_endpoint"]["GET (no route)"]["total"] == 1


@pytest.mark.parametrize("system", SYSTEMS)
def test_control_requests_are_not_counted_and_reset_zeroes_the_stats(estate: Estate, system: str) -> None:
    with _client(estate, system) as client:
        _probe(client, system)
    for _ in range(3):
        estate.stats(system)
    assert estate.stats(system)["total"] == 1
    estate.reset(system)
    zero_hooks = {"events": 0, "attempts": 0, "ok": 0, "failed_attempts": 0, "delivered": 0, "given_up": 0,
                  "pending": 0, "subscriptions": 0}  # fmt: skip
    assert estate.stats(system) | {"since": None} == {
        "system": system, "since": None, "total": 0, "by_endpoint": {},
        "writes": {"committed": 0, "records": 0, "by_endpoint": {}}, "webhooks": zero_hooks,
    }  # fmt: skip


@pytest.mark.parametrize("system", SYSTEMS)
def test_latency_delays_every_product_answer_by_at_least_the_set_time(estate: Estate, system: str) -> None:
    estate.faults(system, latency_ms=250)
    with _client(estate, system) as client:
        started = time.monotonic()
        assert _probe(client, system).status_code == 200
        assert time.monotonic() - started >= 0.25
        # The control API is never slowed down.
        assert client.get("/_control/faults").json()["latency_ms"] == 250


@pytest.mark.parametrize("system", SYSTEMS)
def test_jitter_spreads_the_delay_around_the_latency(estate: Estate, system: str) -> None:
    estate.faults(system, latency_ms=120, jitter_ms=100, seed=3)
    with _client(estate, system) as client:
        for _ in range(4):
            started = time.monotonic()
            _probe(client, system)
            assert time.monotonic() - started >= 0.02


@pytest.mark.parametrize("system", SYSTEMS)
def test_error_rate_one_answers_every_request_with_the_products_500(estate: Estate, system: str) -> None:
    estate.faults(system, error_rate=1.0)
    with _client(estate, system) as client:
        responses = [_probe(client, system) for _ in range(5)]
    assert {r.status_code for r in responses} == {500}
    body = responses[0].json()
    assert {"crm": "category" in body, "tickets": "error" in body and "description" in body,
            "marketing": body.get("errors", [{}])[0].get("code") == 500}[system]  # fmt: skip
    assert estate.stats(system)["by_endpoint"][LABELS[system]]["by_status"] == {"500": 5}


@pytest.mark.parametrize("system", SYSTEMS)
def test_error_rate_fails_about_that_share_of_requests(estate: Estate, system: str) -> None:
    estate.faults(system, error_rate=0.5, seed=11)
    with _client(estate, system) as client:
        statuses = [_probe(client, system).status_code for _ in range(100)]
    assert set(statuses) == {200, 500}
    assert 30 <= statuses.count(500) <= 70


@pytest.mark.parametrize("system", SYSTEMS)
def test_rate_limit_answers_429_with_retry_after_above_the_rate(estate: Estate, system: str) -> None:
    estate.faults(system, rate_limit_per_s=5)
    with _client(estate, system) as client:
        started = time.monotonic()
        responses = [_probe(client, system) for _ in range(30)]
        elapsed = time.monotonic() - started
    accepted = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert len(accepted) + len(limited) == 30
    # A bucket of 5 refilled at 5/s can grant at most this many in the time the requests took.
    assert 5 <= len(accepted) <= 5 + int(elapsed * 5) + 1
    assert limited, "requests above the rate must be refused"
    for response in limited:
        assert int(response.headers["Retry-After"]) >= 1
        response.json()  # the product's own error body, valid JSON


@pytest.mark.parametrize("system", SYSTEMS)
def test_down_resets_product_connections_but_the_control_api_answers(estate: Estate, system: str) -> None:
    estate.faults(system, down=True)
    with _client(estate, system) as client:
        for _ in range(3):
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError)):
                _probe(client, system)
    stats = estate.stats(system)
    assert stats["by_endpoint"][LABELS[system]]["by_status"] == {"reset": 3}
    estate.faults(system)
    with _client(estate, system) as client:
        assert _probe(client, system).status_code == 200


def _malformed(estate: Estate, system: str, kind: str) -> httpx.Response:
    estate.faults(system, malformed_rate=1.0, malformed_kinds=[kind])
    with _client(estate, system) as client:
        return _probe(client, system)


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("kind", ["truncated_json", "invalid_json"])
def test_malformed_json_bodies_are_complete_http_messages_that_do_not_parse(
    estate: Estate, system: str, kind: str
) -> None:
    response = _malformed(estate, system, kind)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


@pytest.mark.parametrize("system", SYSTEMS)
def test_malformed_html_page_is_a_502_proxy_page(estate: Estate, system: str) -> None:
    response = _malformed(estate, system, "html_page")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert b"<html>" in response.content


@pytest.mark.parametrize("system", SYSTEMS)
def test_cut_transfer_closes_the_connection_before_the_promised_length(estate: Estate, system: str) -> None:
    estate.faults(system, malformed_rate=1.0, malformed_kinds=["cut_transfer"])
    with _client(estate, system) as client, pytest.raises(httpx.RemoteProtocolError):
        _probe(client, system)
    assert estate.stats(system)["by_endpoint"][LABELS[system]]["by_status"] == {"truncated": 1}


@pytest.mark.parametrize("system", SYSTEMS)
def test_malformed_rate_mixes_broken_and_good_answers(estate: Estate, system: str) -> None:
    estate.faults(system, malformed_rate=0.5, malformed_kinds=["invalid_json", "html_page"], seed=2)
    good = broken = 0
    with _client(estate, system) as client:
        for _ in range(60):
            response = _probe(client, system)
            try:
                response.json()
                good += response.status_code == 200
            except json.JSONDecodeError:
                broken += 1
    assert good + broken == 60 and good > 10 and broken > 10


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        ({"error_rate": 2}, "error_rate"),
        ({"latency_ms": -5}, "latency_ms"),
        ({"malformed_kinds": ["teapot"]}, "malformed_kinds.0"),
        ({"dwon": True}, "dwon"),
        ({"rate_limit_per_s": 0}, "rate_limit_per_s"),
    ],
)
def test_an_invalid_fault_plan_is_refused_naming_the_field_and_changes_nothing(
    estate: Estate, plan: dict[str, Any], field: str
) -> None:
    estate.faults("crm", latency_ms=1)
    response = httpx.post(f"{estate.crm_url}/_control/faults", json=plan, timeout=10)
    assert response.status_code == 422
    assert field in [problem["field"] for problem in response.json()["problems"]]
    assert httpx.get(f"{estate.crm_url}/_control/faults", timeout=10).json()["latency_ms"] == 1


def test_a_fault_plan_body_that_is_not_json_is_refused(estate: Estate) -> None:
    response = httpx.post(f"{estate.tickets_url}/_control/faults", content=b"{nope", timeout=10)
    assert response.status_code == 422
