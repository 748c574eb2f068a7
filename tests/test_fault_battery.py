"""The fault battery: the facade keeps answering while the demo estate's systems fail, and says why.

Each test runs the real facade against the real estate (its ``/_control/faults``). The ERP is a SQL
database, so for "ERP down" it is a PostgreSQL copy of the estate's ERP (same seed, so the same ids as
the identity links) reached through the fault-injecting :class:`~crmgraph.demo.sql_front.SqlFront`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crmgraph.config import Config, parse_config
from crmgraph.demo.seed import load_erp
from crmgraph.demo.sql_front import serving_front
from crmgraph.schema.ids import encode_id
from tests.conftest import ESTATE_CUSTOMERS, ESTATE_SEED, Estate
from tests.facade import Facade, serve_facade
from tests.test_graph import _active_everywhere

CUSTOMER_360 = """
query($id: ID!) { customer(id: $id) {
  name
  contacts(first: 5) { totalCount nodes { name } }
  deals(first: 5) { totalCount nodes { name } }
  orders(first: 5) { totalCount nodes { number } }
  invoices(first: 5) { totalCount nodes { id } }
  tickets(first: 5) { totalCount nodes { subject } }
} }
"""
# The ERP holds contact persons too (KNVK), so a customer's contacts read it: an ERP that fails fails the
# contacts as it fails the orders (a list that lacks a source's records would look complete). Contacts also
# list the people known only to the ticket system (its users, read by the ids of the customer's person
# links), so a ticket system that fails fails the contacts of a customer with such links as it fails the
# tickets: deliberately, for the same reason.
ERP_FIELDS = ("contacts", "orders", "invoices")
TICKET_FIELDS = ("contacts", "tickets")
FAULTS_DATABASE = "crmgraph_test_faults"


def _config(
    estate: Estate,
    identity_url: str,
    *,
    erp_url: str | None = None,
    resilience: dict[str, dict[str, Any]] | None = None,
    ttl_s: float = 60,
) -> Config:
    """The facade's configuration, with ``resilience`` settings per source (JSON is YAML)."""
    sources: dict[str, dict[str, Any]] = {
        "crm": {"adapter": "hubspot", "url": estate.crm_url, "token": "demo-crm-token"},
        "erp": {"adapter": "sql", "url": erp_url or estate.layout.erp_url},
        "tickets": {
            "adapter": "zendesk",
            "url": estate.tickets_url,
            "email": "api@demo.crmgraph.test",
            "token": "demo-zendesk-token",
        },
    }
    for source, policy in (resilience or {}).items():
        sources[source]["resilience"] = policy
    return parse_config(
        json.dumps(
            {
                "sources": sources,
                "cache": {"url": "memory://", "ttl_s": {"default": ttl_s}, "namespace": "faults"},
                "identity": {"url": identity_url},
                "server": {"max_page_size": 200},
                "auth": {"anonymous_role": "admin"},
                "policy": {"roles": {"admin": {"mutations": ["*"], "explain": True}}},
            }
        )
    )


def _errors(result: dict[str, Any]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = result.get("errors") or []
    return errors


def _by_status(estate: Estate, system: str) -> dict[str, int]:
    """How many requests the system answered, by final status (``reset``, ``truncated`` included)."""
    totals: dict[str, int] = {}
    for endpoint in estate.stats(system)["by_endpoint"].values():
        for status, count in endpoint["by_status"].items():
            totals[status] = totals.get(status, 0) + count
    return totals


@pytest.fixture
def everywhere(estate: Estate, linked_identity: str) -> str:
    """The global id of a customer with records in the CRM, the ERP and the ticket system."""
    return encode_id("Customer", str(_active_everywhere(estate, linked_identity)))


# --- the ERP, as a PostgreSQL copy behind a fault-injecting front ------------------------------------


@dataclass
class ErpFront:
    url: str  # the ERP database URL through the front
    control: str  # base URL of the front's control API

    def faults(self, **plan: Any) -> None:
        httpx.post(f"{self.control}/_control/faults", json=plan, timeout=10).raise_for_status()

    def traffic(self) -> int:
        """Everything that reached the front: connections piped, connections refused, messages."""
        stats = httpx.get(f"{self.control}/_control/stats", timeout=10).json()
        return int(stats["connections"] + stats["refused"] + stats["messages"])

    def reset(self) -> None:
        httpx.post(f"{self.control}/_control/reset", timeout=10).raise_for_status()


@pytest.fixture(scope="module")
def erp_copy(postgres_url: str) -> str:
    """A database of its own holding the estate's ERP (same customers and seed, so the same ids)."""
    server = make_url(postgres_url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": FAULTS_DATABASE}).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{FAULTS_DATABASE}"'))
    admin.dispose()
    url = server.set(database=FAULTS_DATABASE).render_as_string(hide_password=False)
    load_erp(url, customers=ESTATE_CUSTOMERS, seed=ESTATE_SEED)
    return url


@pytest.fixture
def erp_front(erp_copy: str) -> Iterator[ErpFront]:
    with serving_front(erp_copy) as (url, control):
        yield ErpFront(url, control)


# --- 1. ERP down -------------------------------------------------------------------------------------


@pytest.mark.services
def test_erp_down_nulls_only_orders_and_invoices_and_an_open_breaker_stops_calling_it(
    estate: Estate, linked_identity: str, erp_front: ErpFront, everywhere: str
) -> None:
    erp = {"retries": 0, "window": 4, "min_calls": 4, "failure_rate": 0.5, "open_s": 60}
    config = _config(estate, linked_identity, erp_url=erp_front.url, resilience={"erp": erp})
    healthy = _answer(config, CUSTOMER_360, {"id": everywhere})
    assert healthy["data"]["customer"]["orders"]["totalCount"] > 0
    erp_front.faults(down=True)
    with serve_facade(config) as facade:  # a cold cache: every ERP field must come from the ERP
        _assert_erp_unavailable(facade.query(CUSTOMER_360, {"id": everywhere}), healthy)
        assert erp_front.traffic() > 0, "the first queries did try the ERP"

        for _ in range(4):  # enough failed calls to fill the breaker's window of 4
            _assert_erp_unavailable(facade.query(CUSTOMER_360, {"id": everywhere}), healthy)
        assert _breaker_state(facade, "erp") == "open"
        erp_front.reset()
        for _ in range(3):
            _assert_erp_unavailable(facade.query(CUSTOMER_360, {"id": everywhere}), healthy)
        assert erp_front.traffic() == 0, "with the breaker open, no connection and no statement reaches the ERP"


def _answer(config: Config, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The answer of a fresh facade (cold cache) while nothing fails: the reference for partial results."""
    with serve_facade(config) as facade:
        result = facade.query(query, variables)
    assert not _errors(result), _errors(result)
    return result


def _assert_erp_unavailable(result: dict[str, Any], healthy: dict[str, Any]) -> None:
    customer = result["data"]["customer"]
    expected = healthy["data"]["customer"]
    assert customer["name"] == expected["name"]
    assert customer["deals"] == expected["deals"], "CRM data intact"
    assert customer["tickets"] == expected["tickets"], "ticket data intact"
    assert all(customer[field] is None for field in ERP_FIELDS)
    errors = _errors(result)
    assert {e["extensions"]["code"] for e in errors} == {"UPSTREAM_UNAVAILABLE"}, errors
    assert {e["extensions"]["source"] for e in errors} == {"erp"}, errors
    assert sorted(e["path"] for e in errors) == sorted(["customer", field] for field in ERP_FIELDS), "one per field"


def _breaker_state(facade: Facade, source: str) -> str:
    metrics = httpx.get(f"{facade.url}/metrics", timeout=10).text
    prefix = f'crmgraph_breaker_state{{source="{source}",state="'
    current = [line for line in metrics.splitlines() if line.startswith(prefix) and line.endswith(" 1.0")]
    assert len(current) == 1, current
    return current[0][len(prefix) :].split('"')[0]


# --- 2. a slow ticket system -------------------------------------------------------------------------


def test_a_ticket_system_slower_than_its_timeout_nulls_tickets_without_waiting_for_it(
    estate: Estate, linked_identity: str, everywhere: str
) -> None:
    # Default retries: a timed-out read is not retried (retry_timeouts is off), so the query waits 0.5 s once.
    config = _config(estate, linked_identity, resilience={"tickets": {"timeout_s": 0.5}})
    healthy = _answer(config, CUSTOMER_360, {"id": everywhere})
    estate.faults("tickets", latency_ms=2000, seed=4)
    estate.reset("tickets")
    with serve_facade(config) as facade:
        result = facade.query(CUSTOMER_360, {"id": everywhere}, explain=True)
    calls = [c for c in result.pop("extensions")["upstream"]["calls"] if c["source"] == "tickets"]
    _assert_only_tickets_failed(result, healthy, "UPSTREAM_TIMEOUT")
    # The facade's own account of each call, not the request's wall clock: a fresh facade's first request
    # on a loaded machine may spend a while elsewhere (the test suite's other processes share it).
    slowest = max(c["ms"] for c in calls)
    assert 450 <= slowest < 1000, f"a tickets call took {slowest} ms: it waited for the 2 s upstream, not 0.5 s"
    tickets_calls = [c["request"] for c in calls]
    assert len(tickets_calls) == len(set(tickets_calls)), f"a timed-out request was sent again: {tickets_calls}"


def _assert_only_tickets_failed(result: dict[str, Any], healthy: dict[str, Any], code: str) -> None:
    """Tickets and contacts null with one error each of ``code`` naming the ticket system; every other field
    as when healthy."""
    customer, expected = dict(result["data"]["customer"]), dict(healthy["data"]["customer"])
    assert [customer.pop(field) for field in TICKET_FIELDS] == [None] * len(TICKET_FIELDS)
    for field in TICKET_FIELDS:
        expected.pop(field)
    assert customer == expected, "the CRM's and the ERP's data intact"
    errors = _errors(result)
    assert sorted(e["path"] for e in errors) == sorted(["customer", field] for field in TICKET_FIELDS), errors
    assert {(e["extensions"]["code"], e["extensions"]["source"]) for e in errors} == {(code, "tickets")}, errors


# --- 3. a rate-limited CRM ---------------------------------------------------------------------------

PAGE = """query($after: String) { customers(first: 25, after: $after) {
  pageInfo { endCursor } nodes { name contacts(first: 3) { totalCount } deals(first: 3) { totalCount } } } }"""
BUDGET = {"retry_budget": 0.2, "retry_budget_min": 3, "retries": 2}


def _two_pages(estate: Estate, config: Config) -> int:
    """Read two pages of customers on a cold facade; the CRM requests that took."""
    estate.reset("crm")
    with serve_facade(config) as facade:
        first = facade.query(PAGE)
        facade.query(PAGE, {"after": first["data"]["customers"]["pageInfo"]["endCursor"]})
    return int(estate.stats("crm")["total"])


def test_a_crm_answering_429_to_half_the_calls_sees_no_retry_storm(estate: Estate, linked_identity: str) -> None:
    config = _config(estate, linked_identity, resilience={"crm": BUDGET})
    no_fault = _two_pages(estate, config)
    estate.faults("crm", rate_limit_per_s=2, seed=3)
    total = _two_pages(estate, config)
    rate_limited = _by_status(estate, "crm").get("429", 0)
    assert rate_limited >= total * 0.3, f"the fault engaged: {rate_limited} of {total} answers were 429"
    budget = no_fault * BUDGET["retry_budget"] + BUDGET["retry_budget_min"]
    assert total <= no_fault + budget, f"{total} CRM requests; {no_fault} without faults, retries budgeted {budget}"


@pytest.mark.parametrize("client_limit", [2, 4])
def test_a_client_side_rate_limit_below_the_crms_keeps_every_request_inside_its_quota(
    estate: Estate, linked_identity: str, client_limit: float
) -> None:
    """The estate answers 429 to every request over its rate: none means the CRM never saw more than it."""
    config = _config(estate, linked_identity, resilience={"crm": {"rate_limit_per_s": client_limit}})
    estate.faults("crm", rate_limit_per_s=5, seed=3)
    total = _two_pages(estate, config)
    assert total > 0
    assert _by_status(estate, "crm").get("429", 0) == 0, _by_status(estate, "crm")


# --- 4. broken answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"malformed_kinds": ["truncated_json"]}, "UPSTREAM_BAD_RESPONSE"),
        ({"malformed_kinds": ["invalid_json"]}, "UPSTREAM_BAD_RESPONSE"),
        ({"malformed_kinds": ["cut_transfer"]}, "UPSTREAM_BAD_RESPONSE"),
        # A proxy's 502 page: the status says the system behind it is unavailable, and asking again may work.
        ({"malformed_kinds": ["html_page"]}, "UPSTREAM_UNAVAILABLE"),
        ({"down": True}, "UPSTREAM_UNAVAILABLE"),
    ],
    ids=["truncated-json", "invalid-json", "cut-transfer", "html-page", "connection-reset"],
)
def test_a_broken_ticket_system_gets_a_typed_error_and_leaves_other_systems_data_intact(
    estate: Estate, linked_identity: str, everywhere: str, fault: dict[str, Any], code: str
) -> None:
    config = _config(estate, linked_identity)
    healthy = _answer(config, CUSTOMER_360, {"id": everywhere})
    plan = {"malformed_rate": 1.0, **fault} if "malformed_kinds" in fault else fault
    estate.faults("tickets", seed=11, **plan)
    estate.reset("tickets")
    with serve_facade(config) as facade:
        response = httpx.post(
            f"{facade.url}/graphql", json={"query": CUSTOMER_360, "variables": {"id": everywhere}}, timeout=30
        )
    assert response.status_code == 200, response.text
    _assert_only_tickets_failed(response.json(), healthy, code)
    if fault.get("malformed_kinds") == ["html_page"]:  # the status decides the code; the page stays in the log
        assert "html" not in _errors(response.json())[0]["message"]
    assert estate.stats("tickets")["total"] > 0, "the ticket system was asked, and its answers were broken"


# --- 5. stale on error -------------------------------------------------------------------------------


@pytest.mark.services
def test_with_the_erp_down_orders_come_from_the_stale_cache_marked_with_their_age(
    estate: Estate, linked_identity: str, erp_front: ErpFront, everywhere: str
) -> None:
    config = _config(estate, linked_identity, erp_url=erp_front.url, ttl_s=1)
    with serve_facade(config) as facade:
        warm = facade.query(CUSTOMER_360, {"id": everywhere})
        assert not _errors(warm) and "stale" not in (warm.get("extensions") or {})
        time.sleep(1.2)  # past every entry's 1 s TTL: from now on they are stale, not fresh
        erp_front.faults(down=True)
        erp_front.reset()
        degraded = facade.query(CUSTOMER_360, {"id": everywhere})
    assert not _errors(degraded), _errors(degraded)
    customer = degraded["data"]["customer"]
    assert [customer[f] for f in ERP_FIELDS] == [warm["data"]["customer"][f] for f in ERP_FIELDS]
    assert customer["orders"]["totalCount"] > 0
    stale = degraded["extensions"]["stale"]
    assert {entry["source"] for entry in stale} == {"erp"}, stale
    assert all(entry["because"] == "UPSTREAM_UNAVAILABLE" and entry["ageSeconds"] >= 1 for entry in stale)
    assert erp_front.traffic() > 0, "the ERP was tried first: stale is served only when it fails"
