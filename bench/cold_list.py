"""Cold list pages with latency on every upstream call: crmgraph alone, quicker than the peer benchmark.

    .venv/bin/python bench/cold_list.py [--customers 300] [--requests 30] [--latency-ms 20]

Starts the demo estate (on a processor of its own when there are two), links identities and serves crmgraph
as ``bench/peer.py`` does (a process of its own, cache off, ``--latency-ms`` on every CRM and ticket call and
every ERP statement: every query is cold). Asks each list page of ``bench/peer_queries.py`` ``--requests``
times in a row and prints its p25/p50/p75; then, for the full page, where its time goes: each upstream call's
start and end (ms into the request, from ``explain``) and the request's own time, for a few requests.
Alternate two commits to compare them: the machine's speed wanders.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import orjson
from common import LeanClient, estate_processors, linked_store, percentile, seeded_layout
from customer360 import config_for
from peer import ask, facade, set_latency
from peer_queries import LIST_CONTACTS, LIST_FULL, LIST_OWNER, Request

from crmgraph.demo.process import estate_process

PAGES = {"list with owner": LIST_OWNER, "list with owner + contacts": LIST_CONTACTS, "full list page": LIST_FULL}


def where_time_goes(client: LeanClient, requests: int) -> list[str]:
    """Per request: its time, and the last two upstream calls to end (ms into the request)."""
    lines = []
    for _ in range(requests):
        started = time.perf_counter()
        _, content = client.post("/graphql", {"query": LIST_FULL, "extensions": {"explain": True}})
        total = (time.perf_counter() - started) * 1000
        calls = orjson.loads(content)["extensions"]["upstream"]["calls"]
        ends = sorted((c["atMs"] + c["ms"], f"{c['source']} {c['operation']}") for c in calls)
        last = ", ".join(f"{name} {end:.1f}" for end, name in ends[-2:])
        lines.append(f"  {total:5.1f} ms with explain; last calls to end: {last}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--port", type=int, default=18730)
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-peer"))
    args = parser.parse_args()

    layout = seeded_layout(args.data_dir, args.customers)
    with estate_process(layout.root, customers=args.customers, seed=42, cpus=estate_processors(required=False)) as urls:
        identity_url = f"sqlite:///{layout.root.resolve() / 'bench-identity.sqlite'}"
        linked_store(identity_url, config_for(urls, identity_url, 0))
        urls_file = layout.root / "cold-list-urls.json"
        urls_file.write_text(json.dumps(urls))
        with facade(urls_file, identity_url, args.port, args.latency_ms) as url:
            set_latency(urls, args.latency_ms)
            client = LeanClient(url)
            try:
                print(f"cold list pages, {args.latency_ms:g} ms per upstream call, {args.requests} requests each")
                print("| page | p25 ms | p50 ms | p75 ms |")
                print("|---|---|---|---|")
                for name, query in PAGES.items():
                    request = Request(query, {})
                    for _ in range(3):  # the document's parse, validation and plans
                        ask(client, request)
                    times = [ask(client, request) for _ in range(args.requests)]
                    print(f"| {name} | {percentile(times, 0.25):.1f} | {percentile(times, 0.5):.1f} "
                          f"| {percentile(times, 0.75):.1f} |")  # fmt: skip
                print()
                print("full list page, where the time goes:")
                print("\n".join(where_time_goes(client, 5)))
            finally:
                client.close()
                set_latency(urls, 0)


if __name__ == "__main__":
    main()
