"""Soak: a steady load on the facade for a chosen time while faults cycle on each HTTP legacy system.

    .venv/bin/python bench/soak.py [--seconds 60] [--clients 8] [--cycle-s 10] [--report soak.json]

Starts the demo estate, links identities, serves the facade in this process (a thread) with short
per-source timeouts, warms it up, then runs ``--clients`` concurrent clients for ``--seconds`` against
it on loopback: customer-360 queries for customers active in all three systems, customer pages with a
search, and node look-ups. Every ``--cycle-s`` seconds each HTTP system (CRM, tickets) moves to the next
fault of a rotation through ``/_control/faults``; the two start at different points of the rotation so
that faults overlap. The ERP is a SQLite file and takes no faults.

Prints requests sent, HTTP statuses, GraphQL errors by ``extensions.code`` and ``extensions.source``,
latency percentiles overall and per fault phase, throughput, and the process's resident memory (VmRSS)
after warm-up, in the middle and at the end. The process holds the facade and the load generator.
Exits non-zero if the facade answered any 5xx or did not answer at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from common import active_customers, global_id, linked_store, percentile

from crmgraph.app import build_app
from crmgraph.config import Config, parse_config
from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.process import estate_process
from crmgraph.demo.seed import data_dir_is_current, generate_estate
from crmgraph.runner import serving

HTTP_SYSTEMS = ("crm", "tickets")
# The rotation of faults; each system starts at its own offset so that two different faults overlap.
ROTATION: list[tuple[str, dict[str, Any]]] = [
    ("none", {}),
    ("latency", {"latency_ms": 300, "jitter_ms": 150}),
    ("errors", {"error_rate": 0.3}),
    ("rate-limit", {"rate_limit_per_s": 5}),
    ("down", {"down": True}),
    ("malformed", {"malformed_rate": 0.3}),
]
OFFSETS = {"crm": 0, "tickets": 3}
CLIENT_TIMEOUT_S = 30.0

CUSTOMER_360 = """query($id: ID!) { customer(id: $id) {
  id name taxId country owner { name } sources { system recordId }
  contacts(first: 20) { nodes { id name email phone } }
  deals(first: 10) { nodes { id name stage amount { amount currencyCode } } }
  orders(first: 10) { nodes { id number placedAt status total { amount currencyCode } lines { sku quantity } } }
  tickets(first: 10) { nodes { id subject status comments { body createdAt } } }
  invoices(first: 10) { nodes { id number issuedAt gross { amount currencyCode } outstanding { amount } } }
  timeline(first: 20) { nodes { kind occurredAt title } }
  lifetimeRevenue { amount currencyCode } outstandingBalance { amount currencyCode } openTicketCount lastOrderDate
} }"""
CUSTOMERS_PAGE = """query($search: String) { customers(search: $search, first: 10) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name country } }
} }"""
NODE = """query($id: ID!) { node(id: $id) { id __typename
  ... on Customer { customerName: name } ... on Contact { contactName: name email }
  ... on Deal { dealName: name stage } ... on Order { number orderStatus: status }
  ... on Ticket { subject ticketStatus: status } ... on Invoice { number }
} }"""


def config_for(urls: dict[str, str], identity_url: str) -> Config:
    # Short timeouts and a short open breaker, so that a fault costs a second at most and a source comes
    # back within one fault phase; a 2 s TTL and a 10 s stale window so that most queries go upstream and
    # a fault shows either as a stale answer (recently read data) or as a typed error (older data).
    resilience = "resilience: {timeout_s: 1, open_s: 5}"
    return parse_config(f"""
        sources:
          crm: {{adapter: hubspot, url: "{urls["crm"]}", token: demo-crm-token, {resilience}}}
          erp: {{adapter: sql, url: "{urls["erp"]}", {resilience}}}
          tickets: {{adapter: zendesk, url: "{urls["tickets"]}", email: api@demo.crmgraph.test,
                    token: demo-zendesk-token, {resilience}}}
        cache: {{url: "memory://", ttl_s: {{default: 2}}, stale_s: {{default: 10}}}}
        identity: {{url: "{identity_url}"}}
        server: {{max_page_size: 200}}
        rate_limit: {{enabled: false}}  # the load generator is one client: measure the facade, not its limit
        auth: {{anonymous_role: admin}}
        policy: {{roles: {{admin: {{explain: true}}}}}}
    """)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


@dataclass
class Tally:
    """What the clients saw; one entry per request, grouped by the fault phase it was sent in."""

    statuses: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors_by_phase: Counter[tuple[str, str]] = field(default_factory=Counter)
    uncoded: Counter[str] = field(default_factory=Counter)
    stale: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def record(self, phase: str, kind: str, ms: float, status: str, body: dict[str, Any] | None) -> None:
        self.kinds[kind] += 1
        self.statuses[status] += 1
        self.latencies.setdefault(phase, []).append(ms)
        for error in (body or {}).get("errors") or []:
            extensions = error.get("extensions") or {}
            code = extensions.get("code")
            if code is None:
                self.uncoded[str(error.get("message"))[:120]] += 1
            self.errors[(str(code), str(extensions.get("source", "-")))] += 1
            self.errors_by_phase[(phase, f"{code} {extensions.get('source', '-')}")] += 1
        for mark in ((body or {}).get("extensions") or {}).get("stale") or []:
            self.stale[f"{mark.get('source')}/{mark.get('because')}"] += 1


@dataclass
class Workload:
    customers: list[str]
    searches: list[str]
    nodes: list[str]


async def fetch(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {}


async def warm_up(client: httpx.AsyncClient, ids: list[str], clients: int) -> Workload:
    """Every query of the workload once, no faults: fills the cache with the working set, so that memory
    measured afterwards is that of a warm facade. Collects names to search for and node ids on the way."""
    gate = asyncio.Semaphore(clients)

    async def ask(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        async with gate:
            status, body = await fetch(client, query, variables)
        if status != 200 or body.get("errors"):
            raise SystemExit(f"warm-up failed for {variables}: {status} {str(body)[:300]}")
        return body

    searches: set[str] = set()
    nodes: list[str] = list(ids)
    for body in await asyncio.gather(*(ask(CUSTOMER_360, {"id": customer}) for customer in ids)):
        found = (body.get("data") or {}).get("customer") or {}
        if found.get("name"):
            searches.add(found["name"].split()[0])
        for list_field in ("contacts", "deals", "orders", "tickets", "invoices"):
            nodes.extend(n["id"] for n in (found.get(list_field) or {}).get("nodes", [])[:3])
    work = Workload(ids, sorted(searches) or ["a"], nodes)
    await asyncio.gather(*(ask(CUSTOMERS_PAGE, {"search": term}) for term in work.searches))
    await asyncio.gather(*(ask(NODE, {"id": node}) for node in work.nodes))
    return work


class Phases:
    """Cycles the faults of the HTTP systems; ``current`` names the faults in force."""

    def __init__(self, urls: dict[str, str], cycle_s: float) -> None:
        self.urls = urls
        self.cycle_s = cycle_s
        self.current = ""
        self.history: list[tuple[float, str]] = []

    async def set(self, client: httpx.AsyncClient, step: int | None) -> None:
        names = []
        for system in HTTP_SYSTEMS:
            name, plan = ROTATION[(step + OFFSETS[system]) % len(ROTATION)] if step is not None else ("none", {})
            response = await client.post(f"{self.urls[system]}/_control/faults", json=plan | {"seed": 7})
            response.raise_for_status()
            names.append(f"{system}={name}")
        self.current = " ".join(names)

    async def cycle(self, client: httpx.AsyncClient, until: float, started: float) -> None:
        step = 0
        while (now := time.monotonic()) < until:
            if step:  # the first phase is set before the clients start
                await self.set(client, step)
            self.history.append((now - started, self.current))
            await asyncio.sleep(max(0.0, min(self.cycle_s, until - time.monotonic())))
            step += 1
        await self.set(client, None)


async def client_loop(
    client: httpx.AsyncClient, work: Workload, phases: Phases, tally: Tally, until: float, rng: random.Random
) -> None:
    while time.monotonic() < until:
        roll = rng.random()
        if roll < 0.5:
            kind, query, variables = "customer360", CUSTOMER_360, {"id": rng.choice(work.customers)}
        elif roll < 0.7:
            kind, query, variables = "customers", CUSTOMERS_PAGE, {"search": rng.choice(work.searches)}
        else:
            kind, query, variables = "node", NODE, {"id": rng.choice(work.nodes)}
        phase = phases.current
        started = time.perf_counter()
        try:
            status, body = await fetch(client, query, variables)
            outcome = str(status)
        except httpx.HTTPError as exc:
            status, body, outcome = 0, None, f"transport:{type(exc).__name__}"
        ms = (time.perf_counter() - started) * 1000
        tally.record(phase, kind, ms, outcome, body)
        if status >= 500 or status == 0:
            tally.failures.append(f"{kind} {variables} -> {outcome} {str(body)[:200]}")


async def memory_sampler(samples: list[tuple[float, int]], started: float, until: float, every: float) -> None:
    while time.monotonic() < until:
        await asyncio.sleep(max(0.0, min(every, until - time.monotonic())))
        samples.append((time.monotonic() - started, rss_kib()))


async def soak(url: str, urls: dict[str, str], ids: list[str], args: argparse.Namespace) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with (
        httpx.AsyncClient(base_url=url, timeout=CLIENT_TIMEOUT_S, limits=limits) as client,
        httpx.AsyncClient(timeout=5) as control,
    ):
        work = await warm_up(client, ids, args.clients)
        if args.tracemalloc:
            tracemalloc.start(5)
            baseline = tracemalloc.take_snapshot()
        tally, phases = Tally(), Phases(urls, args.cycle_s)
        await phases.set(control, 0)
        memory: list[tuple[float, int]] = [(0.0, rss_kib())]
        started = time.monotonic()
        until = started + args.seconds
        rng = random.Random(args.seed)
        tasks = [
            phases.cycle(control, until, started),
            memory_sampler(memory, started, until, max(1.0, args.seconds / 20)),
            *(
                client_loop(client, work, phases, tally, until, random.Random(rng.random()))
                for _ in range(args.clients)
            ),
        ]
        # Each loop stops by itself at `until`; the last requests end within the client timeout.
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=args.seconds + CLIENT_TIMEOUT_S + 30)
        elapsed = time.monotonic() - started
        if args.tracemalloc:
            # Where the memory that stayed was allocated: the places to look at for a leak.
            grown = tracemalloc.take_snapshot().compare_to(baseline, "traceback")[: args.tracemalloc]
            print(f"top {len(grown)} allocation sites by growth since warm-up:")
            for stat in grown:
                print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks")
                for line in stat.traceback.format()[-6:]:
                    print(f"      {line}")
            tracemalloc.stop()
        stats = {s: (await control.get(f"{urls[s]}/_control/stats")).json() for s in HTTP_SYSTEMS}
    return summarise(tally, memory, phases, elapsed, stats, work, args)


def latency_row(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 0.5), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
    }


def summarise(
    tally: Tally,
    memory: list[tuple[float, int]],
    phases: Phases,
    elapsed: float,
    stats: dict[str, Any],
    work: Workload,
    args: argparse.Namespace,
) -> dict[str, Any]:
    every = [ms for values in tally.latencies.values() for ms in values]
    start_kib, end_kib = memory[0][1], memory[-1][1]
    middle_kib = min(memory, key=lambda sample: abs(sample[0] - elapsed / 2))[1]
    server_errors = sum(n for status, n in tally.statuses.items() if not status.isdigit() or int(status) >= 500)
    return {
        "seconds": args.seconds,
        "clients": args.clients,
        "cycle_s": args.cycle_s,
        "elapsed_s": round(elapsed, 1),
        "workload": {"customers": len(work.customers), "searches": len(work.searches), "nodes": len(work.nodes)},
        "requests": sum(tally.kinds.values()),
        "requests_by_kind": dict(tally.kinds),
        "throughput_per_s": round(sum(tally.kinds.values()) / elapsed, 1),
        "http_statuses": dict(tally.statuses),
        "facade_failures": server_errors,
        "failure_samples": tally.failures[:10],
        "graphql_errors": {f"{code} {source}": n for (code, source), n in tally.errors.most_common()},
        "graphql_errors_by_phase": {
            phase: {key: n for (at, key), n in sorted(tally.errors_by_phase.items()) if at == phase}
            for phase in sorted(tally.latencies)
        },
        "errors_without_code": dict(tally.uncoded.most_common(10)),
        "stale_marks": dict(tally.stale.most_common()),
        "latency_overall": latency_row(every),
        "latency_by_phase": {phase: latency_row(values) for phase, values in sorted(tally.latencies.items())},
        "phases": [{"at_s": round(at, 1), "faults": name} for at, name in phases.history],
        "rss_mib": {
            "start": round(start_kib / 1024, 1),
            "middle": round(middle_kib / 1024, 1),
            "end": round(end_kib / 1024, 1),
            "growth_pct": round((end_kib - start_kib) / start_kib * 100, 1),
            "samples": [[round(at, 1), round(kib / 1024, 1)] for at, kib in memory],
        },
        "upstream_requests": {system: stat.get("total") for system, stat in stats.items()},
    }


def show(report: dict[str, Any]) -> None:
    print(f"soak: {report['elapsed_s']} s, {report['clients']} clients, faults change every {report['cycle_s']} s")
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(report["requests_by_kind"].items()))
    print(f"requests sent: {report['requests']} ({kinds}); throughput {report['throughput_per_s']}/s")
    print(f"upstream requests: {report['upstream_requests']}")
    print(f"facade HTTP statuses: {report['http_statuses']}  (5xx or no answer: {report['facade_failures']})")
    for sample in report["failure_samples"]:
        print(f"  failure: {sample}")
    print("GraphQL errors by extensions.code, extensions.source:")
    for key, n in report["graphql_errors"].items():
        print(f"  {key:40} {n:7}")
    for message, n in report["errors_without_code"].items():
        print(f"  without code: {n} x {message!r}")
    print(f"stale marks (source/because): {report['stale_marks']}")
    for phase, row in [("overall", report["latency_overall"]), *report["latency_by_phase"].items()]:
        print(f"latency {phase:34} n={row['n']:6}  p50 {row['p50_ms']:7.1f}  p95 {row['p95_ms']:7.1f}  "
              f"p99 {row['p99_ms']:7.1f} ms")  # fmt: skip
    rss = report["rss_mib"]
    print(f"RSS (facade + load generator): start {rss['start']} MiB, middle {rss['middle']} MiB, "
          f"end {rss['end']} MiB, growth {rss['growth_pct']:+.1f}%")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--cycle-s", type=float, default=10.0)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=100, help="customers active in all three systems queried")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-soak"))
    parser.add_argument("--report", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="N",
                        help="trace allocations after warm-up and print the N sites that grew most")  # fmt: skip
    args = parser.parse_args()

    layout = EstateLayout(args.data_dir)
    if not data_dir_is_current(layout.root, seed=42, customers=args.customers):
        generate_estate(layout, customers=args.customers, seed=42)
    with estate_process(layout.root, customers=args.customers, seed=42) as urls:
        identity_url = f"sqlite:///{layout.root.resolve() / 'soak-identity.sqlite'}"
        store = linked_store(identity_url, config_for(urls, identity_url))
        ids = [global_id("Customer", c) for c in active_customers(store, args.sample)]
        with serving(build_app(config_for(urls, identity_url)), as_server=True) as url:
            report = asyncio.run(soak(url, urls, ids, args))

    show(report)
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    if report["facade_failures"]:
        raise SystemExit(f"FAIL: {report['facade_failures']} requests answered 5xx or not at all")


if __name__ == "__main__":
    main()
