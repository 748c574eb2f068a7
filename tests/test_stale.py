"""Stale on error, end to end: a failing system's fields come from the stale cache, marked as such."""

from __future__ import annotations

import time

import httpx

from tests.conftest import Estate
from tests.facade import facade_config, serve_facade

QUERY = """{ customers(first: 30) { nodes { name tickets(first: 3) { totalCount nodes { subject } } } } }"""


def test_after_a_warm_query_a_down_system_is_answered_from_stale_cache_and_marked(
    estate: Estate, linked_identity: str
) -> None:
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity, ttl_s=1)
    with serve_facade(config) as facade:
        warm = facade.query(QUERY)
        assert "errors" not in warm and "stale" not in (warm.get("extensions") or {})
        time.sleep(1.2)  # let every entry pass its 1 s TTL: from now on they are stale, not fresh
        estate.faults("tickets", down=True)
        estate.reset("tickets")
        degraded = facade.query(QUERY)
        metrics = httpx.get(f"{facade.url}/metrics", timeout=10).text
    served = [line for line in metrics.splitlines() if line.startswith("crmgraph_cache_stale_served_total{")]
    assert served and all('source="tickets"' in line for line in served)
    assert sum(float(line.rsplit(" ", 1)[1]) for line in served) == len(degraded["extensions"]["stale"])
    assert degraded["data"] == warm["data"], "the same answer, from the stale cache"
    assert "errors" not in degraded
    stale = degraded["extensions"]["stale"]
    assert stale and {entry["source"] for entry in stale} == {"tickets"}
    assert all(entry["because"] == "UPSTREAM_UNAVAILABLE" and entry["ageSeconds"] >= 1 for entry in stale)
    assert estate.stats("tickets")["total"] > 0, "the system was asked first: stale is served only on failure"
