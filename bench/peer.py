"""The peer benchmark: crmgraph and Hive Gateway (GraphQL Mesh) asked the same pages, alternating, one run.

    .venv/bin/python bench/peer.py [--customers 300] [--rounds 10] [--seconds 4] [--no-jit]

Starts the demo estate (CRM, tickets, ERP), links identities, serves crmgraph with its cache off in a
process of its own (``bench/peer_facade.py``), installs the peer's pinned npm packages into
``var/peer-node`` (``bench/peer_gateway.py``), composes a supergraph of the demo CRM's and ticket system's
OpenAPI documents with Mesh Compose and serves it with Hive Gateway. Then, for each page of
``bench/peer_queries.py``, alternating between the two in the same minutes:

- upstream calls per query, counted by the CRM and the ticket system themselves (``/_control/stats``);
- p50/p95 latency, one client, 0 ms upstreams;
- throughput, 16 concurrent clients, 0 ms upstreams;
- p50 with 20 ms on every upstream call (CRM and tickets through ``/_control/faults``, ERP statements in
  the facade), both caches off: every query cold;

and prints them with the ratios crmgraph/peer as a Markdown table (docs/benchmarks.md keeps one run's).
The estate runs on a processor of its own when there are two or more (as ``bench/customer360.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import orjson
import peer_gateway
from common import LeanClient, active_customers, estate_processors, global_id, linked_store, percentile, seeded_layout
from customer360 import config_for
from peer_queries import Case, Request, customer_360_case, list_cases

from crmgraph.demo.process import estate_process
from crmgraph.identity.store import IdentityStore

COUNTED = ("crm", "tickets")  # the systems that count the requests they receive
TARGETS = ("crmgraph", "peer")


@dataclass
class Figures:
    calls: dict[str, float] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TARGETS})
    throughput: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TARGETS})
    slow: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TARGETS})
    explained: list[str] = field(default_factory=list)  # crmgraph's calls for one query, slowed


def ask(client: LeanClient, request: Request) -> float:
    """Milliseconds to the full answer; a failed query stops the benchmark (a fast error is no figure)."""
    started = time.perf_counter()
    status, content = client.post("/graphql", request.body())
    elapsed = (time.perf_counter() - started) * 1000
    answer = orjson.loads(content)
    if status != 200 or answer.get("errors"):
        raise SystemExit(f"query failed ({status}): {str(answer.get('errors', answer))[:2000]}")
    return elapsed


def requests_of(case: Case, target: str) -> list[Request]:
    return case.crmgraph if target == "crmgraph" else case.peer


def count_calls(urls: dict[str, str], client: LeanClient, requests: list[Request]) -> float:
    for system in COUNTED:
        httpx.post(f"{urls[system]}/_control/reset").raise_for_status()
    for request in requests:
        ask(client, request)
    total: int = sum(httpx.get(f"{urls[system]}/_control/stats").json()["total"] for system in COUNTED)
    return total / len(requests)


def sequential(client: LeanClient, requests: list[Request], n: int) -> list[float]:
    return [ask(client, requests[i % len(requests)]) for i in range(n)]


def throughput(url: str, requests: list[Request], clients: int, seconds: float) -> float:
    """Answers a second from ``clients`` threads, each on its own kept-alive connection, for ``seconds``."""
    done = [0] * clients
    deadline = time.perf_counter() + seconds

    def run(slot: int) -> None:
        client = LeanClient(url)
        try:
            while time.perf_counter() < deadline:
                ask(client, requests[(slot + done[slot]) % len(requests)])
                done[slot] += 1
        finally:
            client.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def alternating(reps: int) -> Iterator[str]:
    """crmgraph, peer, peer, crmgraph, ...: neither always goes first."""
    for rep in range(reps):
        yield from TARGETS if rep % 2 == 0 else reversed(TARGETS)


def set_latency(urls: dict[str, str], latency_ms: float) -> None:
    for system in COUNTED:
        httpx.post(f"{urls[system]}/_control/faults", json={"latency_ms": latency_ms}).raise_for_status()


@contextmanager
def facade(urls_file: Path, identity_url: str, port: int, erp_latency_ms: float) -> Iterator[str]:
    script = Path(__file__).parent / "peer_facade.py"
    command = [sys.executable, str(script), "--urls", str(urls_file), "--identity-url", identity_url,
               "--port", str(port), "--erp-latency-ms", str(erp_latency_ms)]  # fmt: skip
    log = urls_file.parent / "peer-facade.log"  # its access log: a line a request
    with log.open("ab") as sink, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink) as process:
        try:
            peer_gateway.wait_until_answering(port, process, "crmgraph")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def sampled_customers(store: IdentityStore, limit: int) -> list[tuple[str, str, int]]:
    """Customers in all three systems: (global id, CRM company id, ticket-system organization id)."""
    chosen = active_customers(store, limit)
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT customer_id, source, MIN(source_id) FROM crmgraph_links WHERE source IN ('crm', 'tickets') "
            "GROUP BY customer_id, source"
        ).fetchall()
    ids = {(int(c), s): i for c, s, i in rows}
    return [(global_id("Customer", c), ids[c, "crm"], int(ids[c, "tickets"])) for c in chosen]


def measure(args: argparse.Namespace, urls: dict[str, str], servers: dict[str, str], cases: list[Case],
            figures: dict[str, Figures]) -> None:  # fmt: skip
    clients = {target: LeanClient(url) for target, url in servers.items()}
    try:
        for case in cases:
            for target in TARGETS:  # warm both engines' document and plan caches
                sequential(clients[target], requests_of(case, target), 5)
                figures[case.name].calls[target] = count_calls(urls, clients[target], requests_of(case, target)[:5])
        for case in cases:
            for target in alternating(args.rounds):
                figures[case.name].latencies[target] += sequential(clients[target], requests_of(case, target), 5)
        for case in cases:
            for target in alternating(2):
                rate = throughput(servers[target], requests_of(case, target), 16, args.seconds)
                figures[case.name].throughput[target].append(rate)
    finally:
        for client in clients.values():
            client.close()


def measure_slow(args: argparse.Namespace, servers: dict[str, str], cases: list[Case],
                 figures: dict[str, Figures]) -> None:  # fmt: skip
    clients = {target: LeanClient(url) for target, url in servers.items()}
    try:
        for case in cases:
            for target in alternating(args.slow_rounds):
                figures[case.name].slow[target] += sequential(clients[target], requests_of(case, target), 3)
        for case in cases:
            figures[case.name].explained = explain(servers["crmgraph"], case.crmgraph[0])
    finally:
        for client in clients.values():
            client.close()


def explain(url: str, request: Request) -> list[str]:
    """crmgraph's upstream calls for ``request`` by source and operation: how many, how many keys, and from
    when to when they started (ms into the request): where the page's time goes."""
    client = LeanClient(url)
    try:
        _, content = client.post("/graphql", {**request.body(), "extensions": {"explain": True}})
    finally:
        client.close()
    calls = orjson.loads(content)["extensions"]["upstream"]["calls"]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for call in calls:
        groups.setdefault((call["source"], call["operation"]), []).append(call)
    return [
        f"{source} {operation}: {len(group)} calls, {sum(c['keys'] or 0 for c in group)} keys, "
        f"started {min(c['atMs'] for c in group):.0f}-{max(c['atMs'] for c in group):.0f} ms, "
        f"longest {max(c['ms'] for c in group):.0f} ms"
        for (source, operation), group in sorted(groups.items(), key=lambda item: min(c["atMs"] for c in item[1]))
    ]


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs else "-"


def row_values(f: Figures, target: str) -> list[float]:
    """The figures of one target, in the order of ``ROWS``."""
    return [
        f.calls[target],
        percentile(f.latencies[target], 0.5),
        percentile(f.latencies[target], 0.95),
        sum(f.throughput[target]) / len(f.throughput[target]),
        percentile(f.slow[target], 0.5),
    ]


def table(cases: list[Case], figures: dict[str, Figures], latency_ms: float) -> str:
    labels = [
        ("CRM + ticket calls per query", "{:.1f}"),
        ("p50, 0 ms upstreams", "{:.1f} ms"),
        ("p95, 0 ms upstreams", "{:.1f} ms"),
        ("throughput, 16 clients", "{:.1f} req/s"),
        (f"cold p50, {latency_ms:g} ms upstreams", "{:.1f} ms"),
    ]
    rows = [
        "| query | figure | crmgraph (cache off) | Hive Gateway | crmgraph/peer |",
        "|---|---|---|---|---|",
    ]
    for case in cases:
        ours, theirs = row_values(figures[case.name], "crmgraph"), row_values(figures[case.name], "peer")
        for (label, unit), mine, peer in zip(labels, ours, theirs, strict=True):
            rows.append(f"| {case.name} | {label} | {unit.format(mine)} | {unit.format(peer)} | {ratio(mine, peer)} |")
    notes = [f"- {case.name}: {case.note}" for case in cases if case.note]
    return "\n".join([*rows, "", *notes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--sample", type=int, default=20, help="customers asked the customer-360 query")
    parser.add_argument("--rounds", type=int, default=10, help="alternations of 5 queries each, 0 ms upstreams")
    parser.add_argument("--slow-rounds", type=int, default=6, help="alternations of 3 queries each, slowed")
    parser.add_argument("--seconds", type=float, default=4.0, help="of each throughput measurement")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--port-base", type=int, default=18700, help="crmgraph on P, the peer on P+1")
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-peer"))
    parser.add_argument("--node-home", type=Path, default=Path("var/peer-node"))
    parser.add_argument("--jit", action=argparse.BooleanOptionalAction, default=True,
                        help="Hive Gateway's --jit (compiled execution of known documents)")  # fmt: skip
    args = parser.parse_args()

    peer_gateway.install(args.node_home.resolve())
    layout = seeded_layout(args.data_dir, args.customers)
    estate_cpus = estate_processors(required=False)  # the estate on a processor of its own
    with estate_process(layout.root, customers=args.customers, seed=42, cpus=estate_cpus) as urls:
        identity_url = f"sqlite:///{layout.root.resolve() / 'bench-identity.sqlite'}"
        store = linked_store(identity_url, config_for(urls, identity_url, 0))
        cases = [*list_cases(), customer_360_case(sampled_customers(store, args.sample))]
        figures = {case.name: Figures() for case in cases}
        urls_file = layout.root / "peer-urls.json"
        urls_file.write_text(json.dumps(urls))
        peer_gateway.compose(args.node_home.resolve(), urls)
        peer_port = args.port_base + 1
        with peer_gateway.gateway(args.node_home.resolve(), peer_port, args.jit) as peer_url:
            with facade(urls_file, identity_url, args.port_base, 0) as crmgraph_url:
                measure(args, urls, {"crmgraph": crmgraph_url, "peer": peer_url}, cases, figures)
            set_latency(urls, args.latency_ms)
            try:
                with facade(urls_file, identity_url, args.port_base, args.latency_ms) as crmgraph_url:
                    measure_slow(args, {"crmgraph": crmgraph_url, "peer": peer_url}, cases, figures)
            finally:
                set_latency(urls, 0)

    found = peer_gateway.versions(args.node_home.resolve())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(" ".join(["python", *sys.argv]))
    print(f"crmgraph {commit}, Python {platform.python_version()}, graphql-core {version('graphql-core')}; "
          + ", ".join(f"{name} {v}" for name, v in found.items())
          + f"; Hive Gateway --jit {'on' if args.jit else 'off'}; {os.cpu_count()} processors, estate "
          + (f"pinned to processor {sorted(estate_cpus)[0]}" if estate_cpus else "sharing them"))  # fmt: skip
    print(f"{args.customers} customers; list pages of 50; customer-360 over {args.sample} customers\n")
    print(table(cases, figures, args.latency_ms))
    for case in cases:
        print(f"\ncrmgraph's upstream calls, {case.name}, {args.latency_ms:g} ms upstreams (explain):")
        print("\n".join(f"  {line}" for line in figures[case.name].explained))


if __name__ == "__main__":
    main()
