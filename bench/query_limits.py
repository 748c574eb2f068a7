"""The heavy queries issue 11 measured, sent while another client asks ``{__typename}``: its latency.

    .venv/bin/python bench/query_limits.py [--seconds 10] [--attackers 4] [--customers 500]

Starts the demo estate and the facade (``crmgraph serve``, a process of its own, so that the load
generator's threads do not share its interpreter), measures ``{__typename}`` alone, then again while
``--attackers`` clients send the heavy documents one after the other as fast as they are answered. Prints,
per heavy document, its size, how it was answered (the limit's code) and how long the refusal took, then
the probe's latency percentiles alone and under attack, and the estate's upstream request count (0 when
every heavy document was refused before running).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import orjson
from common import LeanClient, percentile

from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.process import estate_process
from crmgraph.demo.seed import data_dir_is_current, generate_estate


def _aliases(count: int, field: str) -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }"


def _nested(depth: int, first: int) -> str:
    inner, levels = "name", 2
    while levels + 3 <= depth - 1:
        inner = f"contacts(first: {first}) {{ nodes {{ customer {{ {inner} }} }} }}"
        levels += 3
    return f"{{ customers(first: {first}) {{ nodes {{ {inner} }} }} }}"


def _doubling_fragments(levels: int) -> str:
    fragments = ["fragment F0 on Query { customers(first: 100) { nodes { name email } } }"]
    fragments += [
        f"fragment F{i} on Query {{ ...F{i - 1} ... on Query {{ ...F{i - 1} }} }}" for i in range(1, levels + 1)
    ]
    return f"{{ ...F{levels} }} " + " ".join(fragments)


HEAVY = {
    "10,000 aliases of customers(first: 1) { totalCount }": _aliases(10_000, "customers(first: 1) { totalCount }"),
    "depth 31, first: 2": _nested(31, 2),
    "depth 25, first: 3": _nested(25, 3),
    "5,000 aliases of contactByEmail": _aliases(5_000, 'contactByEmail(email: "a@example.com") { name }'),
    "doubling fragments, 20 levels": _doubling_fragments(20),
    "1,000 aliases of a 100-customer page": _aliases(1_000, "customers(first: 100) { nodes { name email } }"),
    "18 aliases of a 100-customer page with orders": _aliases(
        18, "customers(first: 100) { nodes { name orders(first: 20) { nodes { number } } } }"
    ),
}  # fmt: skip
PROBE = {"query": "{ __typename }"}


def _config(urls: dict[str, str], identity_url: str) -> str:
    return f"""
sources:
  crm: {{adapter: hubspot, url: "{urls["crm"]}", token: demo-crm-token}}
  erp: {{adapter: sql, url: "{urls["erp"]}"}}
  tickets: {{adapter: zendesk, url: "{urls["tickets"]}", email: api@demo.crmgraph.test, token: demo-zendesk-token}}
identity: {{url: "{identity_url}"}}
# One client measures, four attack: the per-principal rate limit would answer most with 429 first.
rate_limit: {{enabled: false}}
auth: {{anonymous_role: admin}}
policy: {{roles: {{admin: {{explain: true}}}}}}
"""


def _probe(url: str, stop: threading.Event, latencies: list[float]) -> None:
    client = LeanClient(url)
    try:
        while not stop.is_set():
            started = time.perf_counter()
            status, _ = client.post("/graphql", PROBE)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise SystemExit(f"the probe was answered {status}")
            time.sleep(0.005)
    finally:
        client.close()


def _attack(url: str, stop: threading.Event, answers: dict[str, Counter[str]], took: dict[str, list[float]]) -> None:
    client = LeanClient(url)
    bodies = {name: {"query": document} for name, document in HEAVY.items()}
    try:
        while not stop.is_set():
            for name, body in bodies.items():
                started = time.perf_counter()
                status, content = client.post("/graphql", body)
                took[name].append((time.perf_counter() - started) * 1000)
                errors = orjson.loads(content).get("errors") or [{}]
                answers[name][f"{status} {errors[0].get('extensions', {}).get('code', 'answered')}"] += 1
    finally:
        client.close()


Answers = dict[str, Counter[str]]


def _measure(url: str, seconds: float, attackers: int) -> tuple[list[float], Answers, dict[str, list[float]]]:
    stop = threading.Event()
    latencies: list[float] = []
    answers: dict[str, Counter[str]] = defaultdict(Counter)
    took: dict[str, list[float]] = defaultdict(list)
    threads = [threading.Thread(target=_probe, args=(url, stop, latencies))]
    threads += [threading.Thread(target=_attack, args=(url, stop, answers, took)) for _ in range(attackers)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return latencies, answers, took


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("crmgraph serve exited")
        try:
            if httpx.post(f"{url}/graphql", json=PROBE, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("crmgraph serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the probe runs, alone and under attack")
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--port", type=int, default=8760)
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-limits"))
    args = parser.parse_args()

    layout = EstateLayout(args.data_dir)
    if not data_dir_is_current(layout.root, seed=42, customers=args.customers):
        generate_estate(layout, customers=args.customers, seed=42)
    with estate_process(layout.root, customers=args.customers, seed=42) as urls, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(_config(urls, f"sqlite:///{Path(tmp) / 'identity.sqlite'}"))
        command = [sys.executable, "-m", "crmgraph", "serve", "--config", str(config), "--port", str(args.port)]
        server = subprocess.Popen(command, env=os.environ | {"PYTHONUNBUFFERED": "1"})
        url = f"http://127.0.0.1:{args.port}"
        try:
            _wait_until_up(url, server)
            alone, _, _ = _measure(url, args.seconds, 0)
            for system in ("crm", "tickets"):
                httpx.post(f"{urls[system]}/_control/reset", timeout=10).raise_for_status()
            attacked, answers, took = _measure(url, args.seconds, args.attackers)
            stats = [httpx.get(f"{urls[s]}/_control/stats", timeout=10).json() for s in ("crm", "tickets")]
            upstream = sum(stat["total"] for stat in stats)
        finally:
            server.terminate()
            server.wait(timeout=30)

    print(f"{args.attackers} clients send the heavy documents for {args.seconds:g} s; one asks {{__typename}}")
    for name, document in HEAVY.items():
        times = took[name]
        answered = ", ".join(f"{answer} x{n}" for answer, n in answers[name].most_common())
        print(f"  {name:48} {len(document.encode()):>7,} B  {answered:28}  p50 {percentile(times, .5):6.1f} ms"
              f"  max {max(times, default=float('nan')):6.1f} ms")  # fmt: skip
    for label, values in (("alone", alone), ("under attack", attacked)):
        print(f"{{__typename}} {label:13} n={len(values):5}  p50 {percentile(values, .5):5.1f} ms"
              f"  p95 {percentile(values, .95):5.1f} ms  p99 {percentile(values, .99):5.1f} ms"
              f"  max {max(values):6.1f} ms")  # fmt: skip
    print(f"upstream HTTP requests (CRM + tickets) while under attack: {upstream}")


if __name__ == "__main__":
    main()
