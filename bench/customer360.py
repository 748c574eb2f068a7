"""Latency of a customer-360 query with latency injected into every upstream call.

    .venv/bin/python bench/customer360.py [--latency-ms 20] [--customers 2000] [--rounds 3] [--no-pin]

Starts the demo estate, injects the latency (CRM and ticket system through /_control/faults, the SQL ERP
through a statement hook), links identities, serves the facade, then asks the customer-360 query for
customers active in all three systems: cold (no cache) and warm (cached). Prints p50/p95/p99, upstream
calls per query and the critical-path bound: the dependent levels of the query times the latency.

With two or more processors the estate runs on one of its own and the facade (with this load generator)
on the others: the legacy systems would not share the facade's machine, and on a small one their work
would otherwise be counted as the facade's latency. ``--no-pin`` measures them sharing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
from common import LeanClient, active_customers, estate_processors, global_id, linked_store, percentile, seeded_layout
from sqlalchemy import Engine, event

from crmgraph.app import build_app
from crmgraph.config import Config, parse_config
from crmgraph.demo.process import estate_process
from crmgraph.runner import serving

QUERY = """query($id: ID!) { customer(id: $id) {
  name taxId country owner { name } sources { system recordId }
  contacts(first: 20) { nodes { name email phone } }
  deals(first: 10) { nodes { name stage amount { amount currencyCode } } }
  orders(first: 10) {
    nodes { number placedAt status total { amount currencyCode } lines { sku quantity amount { amount } } }
  }
  tickets(first: 10) { nodes { subject status comments { body createdAt } } }
  invoices(first: 10) { nodes { number issuedAt gross { amount currencyCode } outstanding { amount } } }
  timeline(first: 20) { nodes { kind occurredAt title } }
  lifetimeRevenue { amount currencyCode } outstandingBalance { amount currencyCode } openTicketCount lastOrderDate
} }"""
# Dependent upstream levels of QUERY: (1) the customer's records and their related lists, reached from
# the identity links alone (CRM associations, ERP orders and invoices, Zendesk tickets per organization);
# (2) what needs those first: CRM batch reads of the associated objects and the owner, ticket comments.
# The ERP's order lines and payments come with their orders and invoices (joined reads), in level 1; the
# bound still counts two levels, the CRM's and the ticket system's. The identity store is crmgraph's own
# and gets no injected latency.
DEPENDENT_LEVELS = 2


OPEN_ADMIN = """auth: {anonymous_role: admin}
        policy: {roles: {admin: {explain: true}}}"""


def config_for(urls: dict[str, str], identity_url: str, ttl: float, governance: str = OPEN_ADMIN) -> Config:
    """The benchmarks' facade; ``governance`` holds its ``auth:`` and ``policy:`` sections."""
    return parse_config(f"""
        sources:
          crm: {{adapter: hubspot, url: "{urls["crm"]}", token: demo-crm-token}}
          erp: {{adapter: sql, url: "{urls["erp"]}"}}
          tickets: {{adapter: zendesk, url: "{urls["tickets"]}", email: api@demo.crmgraph.test,
                    token: demo-zendesk-token}}
        cache: {{url: "memory://", ttl_s: {{default: {ttl}}}}}
        identity: {{url: "{identity_url}"}}
        server: {{max_page_size: 200}}
        rate_limit: {{enabled: false}}  # one load generator, as fast as answered: a latency benchmark, not a limit
        {governance}
    """)


def run(url: str, ids: list[str], rounds: int) -> tuple[list[float], Counter[str]]:
    latencies: list[float] = []
    calls: Counter[str] = Counter()
    client = LeanClient(url)
    try:
        for _ in range(rounds):
            for customer in ids:
                body = {"query": QUERY, "variables": {"id": customer}, "extensions": {"explain": True}}
                started = time.perf_counter()
                status, content = client.post("/graphql", body)
                latencies.append((time.perf_counter() - started) * 1000)
                result = orjson.loads(content)
                if status != 200 or result.get("errors"):
                    raise SystemExit(f"query failed ({status}): {result.get('errors', result)}")
                calls.update(c["source"] for c in result["extensions"]["upstream"]["calls"])
    finally:
        client.close()
    return latencies, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=40, help="customers queried")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-360"))
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=len(os.sched_getaffinity(0)) >= 2,
        help="the simulated systems on a processor of their own, as on their own machines (default with 2+)",
    )
    args = parser.parse_args()

    layout = seeded_layout(args.data_dir, args.customers)
    estate_cpus = estate_processors(required=True) if args.pin else None
    with estate_process(layout.root, customers=args.customers, seed=42, cpus=estate_cpus) as urls:
        erp_path = str(layout.erp_db.resolve())

        @event.listens_for(Engine, "before_cursor_execute")
        def erp_latency(conn: Any, *_: Any) -> None:
            if conn.engine.url.database == erp_path:
                time.sleep(args.latency_ms / 1000)

        identity_url = f"sqlite:///{layout.root.resolve() / 'bench-identity.sqlite'}"
        store = linked_store(identity_url, config_for(urls, identity_url, 0))
        ids = [global_id("Customer", c) for c in active_customers(store, args.sample)]
        for system in ("crm", "tickets"):
            httpx.post(f"{urls[system]}/_control/faults", json={"latency_ms": args.latency_ms}).raise_for_status()

        with serving(build_app(config_for(urls, identity_url, 0)), as_server=True) as url:
            cold, cold_calls = run(url, ids, args.rounds)
        with serving(build_app(config_for(urls, identity_url, 600)), as_server=True) as url:
            run(url, ids, 1)  # warm the cache
            warm, _ = run(url, ids, args.rounds * 3)

    queries = len(ids) * args.rounds
    bound = DEPENDENT_LEVELS * args.latency_ms + 15
    print(
        f"customer-360 query, {len(ids)} customers active in all three systems, "
        f"{args.latency_ms:g} ms per upstream call; estate "
        + (f"pinned to processor {sorted(estate_cpus)[0]}" if estate_cpus else "sharing the processors")
    )
    print(
        "upstream calls per query (cold): " + ", ".join(f"{s} {n / queries:.1f}" for s, n in sorted(cold_calls.items()))
    )
    for name, values in (("cold", cold), ("warm", warm)):
        print(f"{name:5} n={len(values):4}  p50 {percentile(values, .5):7.1f} ms  p95 {percentile(values, .95):7.1f} ms"
              f"  p99 {percentile(values, .99):7.1f} ms  mean {statistics.fmean(values):7.1f} ms")  # fmt: skip
    print(f"critical path: {DEPENDENT_LEVELS} dependent levels x {args.latency_ms:g} ms; bound p50 <= {bound:g} ms "
          f"-> {'met' if percentile(cold, .5) <= bound else 'NOT met'}; warm p50 < 10 ms -> "
          f"{'met' if percentile(warm, .5) < 10 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
