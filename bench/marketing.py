"""Latency and upstream calls of the marketing reads, with latency injected into every system of the estate.

    .venv/bin/python bench/marketing.py [--latency-ms 20] [--customers 300] [--rounds 3] [--no-pin]

Starts the demo estate (CRM, tickets, SQL ERP and the Mautic-shaped marketing system), configures the
marketing source as the demo does (the ``rest`` adapter reading ``crmgraph/demo/marketing.yaml``, with the
estate's address), links identities over all four sources, serves the facade and asks two queries:

- campaign ROI: a campaign's cost, its leads with their customers, and the customers with their revenue and
  deals, for the campaigns with the most leads;
- campaign leads: the same campaigns' first 50 leads with their segments and touches (calls per lead);
- customer 360 with marketing: the customer-360 query of ``bench/customer360.py`` with the customer's leads
  (their campaigns, segments and touches) and the timeline, whose marketing touches are one page of it;
- the customer-360 query of ``bench/customer360.py`` unchanged, for the same customers: what configuring a
  marketing source adds to it (the customer's marketing company for its name, its leads' touches in the
  timeline).

Each cold (no cache) and warm (cached), as ``bench/customer360.py`` does. Prints per query the upstream
calls per source and per marketing endpoint (from ``extensions.upstream``) and p50/p95 latency.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml
from common import LeanClient, estate_processors, global_id, linked_store, percentile, seeded_layout
from customer360 import OPEN_ADMIN
from customer360 import QUERY as PLAIN_360
from sqlalchemy import Engine, event

import crmgraph.demo
from crmgraph.app import build_app
from crmgraph.config import Config, parse_config
from crmgraph.demo.process import estate_process
from crmgraph.identity.store import IdentityStore
from crmgraph.runner import serving

SPEC = Path(crmgraph.demo.__file__).resolve().parent / "marketing.yaml"

CAMPAIGN_ROI = """query($id: ID!) { node(id: $id) { ... on Campaign {
  name cost { amount currencyCode }
  leads(first: 50) { totalCount nodes { name customer { id name } } }
  customers(first: 50) {
    totalCount
    nodes { name lifetimeRevenue { amount currencyCode } deals(first: 20) { nodes { stage amount { amount } } } }
  }
} } }"""
# Levels: (1) the campaign by id and its members (/campaigns/{id}/contacts); (2) the members by id
# (ids:...); (3) the leads' customers in the identity store (no injected latency); (4) the customers' CRM
# companies and ERP invoices; (5) the deals associated with the companies, read by id.

CAMPAIGN_LEADS = """query($id: ID!) { node(id: $id) { ... on Campaign {
  name leads(first: 50) { nodes { name points segments { name } touches(first: 5) { nodes { kind occurredAt } } } }
} } }"""
# A page of leads with what Mautic keeps per contact: one /contacts/{id}/segments and one /activity call per
# lead (no batch form), then the segments by id in one ids: call.

CUSTOMER_360 = """query($id: ID!) { customer(id: $id) {
  name taxId country owner { name } sources { system recordId }
  contacts(first: 20) { nodes { name email phone } }
  deals(first: 10) { nodes { name stage amount { amount currencyCode } } }
  orders(first: 10) {
    nodes { number placedAt status total { amount currencyCode } lines { sku quantity amount { amount } } }
  }
  tickets(first: 10) { nodes { subject status comments { body createdAt } } }
  invoices(first: 10) { nodes { number issuedAt gross { amount currencyCode } outstanding { amount } } }
  leads { name email points stage campaigns { name } segments { name } touches(first: 5) { nodes { kind occurredAt } } }
  timeline(first: 20) { nodes { kind occurredAt title } }
  lifetimeRevenue { amount currencyCode } outstandingBalance { amount currencyCode } openTicketCount lastOrderDate
} }"""
# The customer-360 query of bench/customer360.py plus ``leads``: the leads come in level 1 (the leads of the
# customer's marketing companies, one call; those linked as persons, one ids: call), then per lead its
# campaigns, segments and activity (Mautic has no batch form of any of the three: one call per lead each),
# and the campaigns and segments by id (ids:..., one call each for all leads).

CAMPAIGNS = "{ campaigns(first: 200) { nodes { id name leads(first: 1) { totalCount } } } }"
HAS_LEADS = "query($id: ID!) { customer(id: $id) { leads { name } } }"


def config_for(urls: dict[str, str], identity_url: str, ttl: float) -> Config:
    """The facade over the four systems: the demo's marketing source inline, at the estate's address."""
    api = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    api["base_url"] = f"{urls['marketing']}/api"
    return parse_config(f"""
        sources:
          crm: {{adapter: hubspot, url: "{urls["crm"]}", token: demo-crm-token}}
          erp: {{adapter: sql, url: "{urls["erp"]}"}}
          tickets: {{adapter: zendesk, url: "{urls["tickets"]}", email: api@demo.crmgraph.test,
                    token: demo-zendesk-token}}
          marketing: {json.dumps({"adapter": "rest", "api": api})}
        cache: {{url: "memory://", ttl_s: {{default: {ttl}}}}}
        identity: {{url: "{identity_url}"}}
        server: {{max_page_size: 200}}
        rate_limit: {{enabled: false}}  # one load generator, as fast as answered: a latency benchmark, not a limit
        {OPEN_ADMIN}
    """)


def lead_customers(store: IdentityStore, limit: int) -> list[int]:
    """Customers some marketing lead is filed under, in the order of their first lead's id (as
    ``active_customers`` takes the CRM's order: golden ids go to the customers with the most records first)."""
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT p.customer_id FROM crmgraph_person_links pl JOIN crmgraph_persons p ON p.id = pl.person_id "
            "WHERE pl.source = 'marketing' AND p.customer_id IS NOT NULL "
            "GROUP BY p.customer_id ORDER BY MIN(CAST(pl.source_id AS INTEGER)), p.customer_id LIMIT ?",
            (limit,),
        ).fetchall()
    return [int(row[0]) for row in rows]


def ask(client: LeanClient, query: str, variables: dict[str, Any], explain: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query, "variables": variables}
    if explain:
        body["extensions"] = {"explain": True}
    status, content = client.post("/graphql", body)
    result: dict[str, Any] = orjson.loads(content)
    if status != 200 or result.get("errors"):
        raise SystemExit(f"query failed ({status}): {result.get('errors', result)}")
    return result


def endpoint(call: dict[str, Any]) -> str:
    """A marketing call's endpoint with ids as {id}: ``GET /api/contacts/{id}/activity``."""
    request = str(call.get("request") or call.get("operation") or "?").split("?", 1)[0]
    return re.sub(r"/\d+(?=/|$)", "/{id}", re.sub(r"^(\w+ )?https?://[^/]+", r"\1", request))


class Measured:
    """Latencies and upstream calls of one query over its variables."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.calls: Counter[str] = Counter()
        self.endpoints: Counter[str] = Counter()
        self.queries = 0
        self.first_calls: list[dict[str, Any]] = []

    def run(self, client: LeanClient, query: str, ids: list[str], rounds: int, explain: bool = True) -> Measured:
        for _ in range(rounds):
            for node_id in ids:
                started = time.perf_counter()
                result = ask(client, query, {"id": node_id}, explain)
                self.latencies.append((time.perf_counter() - started) * 1000)
                self.queries += 1
                if explain:
                    calls = result["extensions"]["upstream"]["calls"]
                    if not self.first_calls:
                        self.first_calls = calls
                    self.calls.update(c["source"] for c in calls)
                    self.endpoints.update(endpoint(c) for c in calls if c["source"] == "marketing")
        return self


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--campaigns", type=int, default=5, help="campaigns queried (those with the most leads)")
    parser.add_argument("--sample", type=int, default=20, help="customers with leads queried")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-marketing"))
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=len(os.sched_getaffinity(0)) >= 2,
        help="the simulated systems on a processor of their own, as on their own machines (default with 2+)",
    )
    parser.add_argument("--show-calls", action="store_true", help="the upstream calls of each query's first cold run")
    args = parser.parse_args()

    layout = seeded_layout(args.data_dir, args.customers)
    estate_cpus = estate_processors(required=True) if args.pin else None
    with estate_process(layout.root, customers=args.customers, seed=42, cpus=estate_cpus) as urls:
        erp_path = str(layout.erp_db.resolve())
        erp_latency_s = 0.0  # set once linking is done

        @event.listens_for(Engine, "before_cursor_execute")
        def erp_latency(conn: Any, *_: Any) -> None:
            if erp_latency_s and conn.engine.url.database == erp_path:
                time.sleep(erp_latency_s)

        identity_path = layout.root.resolve() / "bench-identity.sqlite"
        identity_path.unlink(missing_ok=True)  # linked afresh: the same links every run
        identity_url = f"sqlite:///{identity_path}"
        started = time.perf_counter()
        store = linked_store(identity_url, config_for(urls, identity_url, 0))
        linked_s = time.perf_counter() - started

        # What to ask, chosen before any latency is injected, through the facade itself.
        with serving(build_app(config_for(urls, identity_url, 0)), as_server=True) as url:
            client = LeanClient(url)
            found = ask(client, CAMPAIGNS, {})["data"]["campaigns"]["nodes"]
            ranked = sorted(found, key=lambda c: (-c["leads"]["totalCount"], c["id"]))[: args.campaigns]
            campaign_ids = [c["id"] for c in ranked]
            candidates = [global_id("Customer", c) for c in lead_customers(store, args.sample * 3)]
            customer_ids = [c for c in candidates if ask(client, HAS_LEADS, {"id": c})["data"]["customer"]["leads"]]
            customer_ids = customer_ids[: args.sample]
            client.close()

        for system in ("crm", "tickets", "marketing"):
            httpx.post(f"{urls[system]}/_control/faults", json={"latency_ms": args.latency_ms}).raise_for_status()
        erp_latency_s = args.latency_ms / 1000

        queries = {
            "campaign ROI": (CAMPAIGN_ROI, campaign_ids),
            "campaign leads with segments and touches": (CAMPAIGN_LEADS, campaign_ids),
            "customer 360 + leads": (CUSTOMER_360, customer_ids),
            "customer 360 of bench/customer360.py": (PLAIN_360, customer_ids),
        }
        cold: dict[str, Measured] = {}
        warm: dict[str, Measured] = {}
        with serving(build_app(config_for(urls, identity_url, 0)), as_server=True) as url:
            client = LeanClient(url)
            for name, (query, ids) in queries.items():
                cold[name] = Measured().run(client, query, ids, args.rounds)
            client.close()
        with serving(build_app(config_for(urls, identity_url, 600)), as_server=True) as url:
            client = LeanClient(url)
            for name, (query, ids) in queries.items():
                Measured().run(client, query, ids, 1)  # warm the cache
                warm[name] = Measured().run(client, query, ids, args.rounds * 3)
            client.close()

    print(
        f"marketing reads, {args.customers} customers, {args.latency_ms:g} ms per upstream call (CRM, tickets, "
        "marketing through /_control/faults, ERP per statement); estate "
        + (f"pinned to processor {sorted(estate_cpus)[0]}" if estate_cpus else "sharing the processors")
        + f"; linked in {linked_s:.1f} s"
    )
    print("campaigns: " + ", ".join(f"{c['name']} ({c['leads']['totalCount']} leads)" for c in ranked))
    for name, measured in cold.items():
        n = measured.queries
        print(f"\n{name}: {len(queries[name][1])} ids x {args.rounds} rounds")
        print("  upstream calls per query (cold): "
              + ", ".join(f"{s} {k / n:.1f}" for s, k in sorted(measured.calls.items())))  # fmt: skip
        for path, k in sorted(measured.endpoints.items(), key=lambda i: (-i[1], i[0])):
            print(f"    marketing {path}: {k / n:.1f}")
        for label, values in (("cold", measured.latencies), ("warm", warm[name].latencies)):
            print(f"  {label:5} n={len(values):4}  p50 {percentile(values, .5):7.1f} ms"
                  f"  p95 {percentile(values, .95):7.1f} ms  max {max(values):7.1f} ms")  # fmt: skip
        if args.show_calls:
            for call in sorted(measured.first_calls, key=lambda c: c["atMs"]):
                where = endpoint(call) if call["source"] == "marketing" else call["operation"]
                print(f"    at {call['atMs']:6.1f} ms  {call['ms']:5.1f} ms  {call['source']:9} {where}  "
                      f"keys {call['keys']}")  # fmt: skip
        warm_calls = sum(warm[name].calls.values()) / warm[name].queries
        print(f"  upstream calls per warm query: {warm_calls:.1f}")


if __name__ == "__main__":
    main()
