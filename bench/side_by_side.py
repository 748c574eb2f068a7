"""Two checkouts of crmgraph served side by side over one estate, their requests alternated: before/after.

    .venv/bin/python bench/side_by_side.py --before /tmp/before [--after .] [--cache-ttl 0 | --latency-ms 20] \
        [--rounds 20] [--block 10]

On a machine whose speed wanders by a fifth from one minute to the next, two benchmark runs a minute
apart compare the minutes as much as the code. Here both facades run at once, each in a process of its
own (``--before`` and ``--after`` are source trees: a ``git worktree`` of the earlier commit, say), over
the same demo estate and identity store, and one client asks each page of one, then of the other, in
blocks of ``--block`` requests for ``--rounds`` rounds, the order of the two swapped every round.

With ``--cache-ttl 0`` (the default) the pages are the list pages of ``bench/peer_queries.py``, cache off
(300 customers), with ``--latency-ms`` on every CRM and ticket call and every ERP statement (0: the
facade's CPU sets the time; 20: ``bench/cold_list.py``'s cold pages). With a TTL, the customer-360 query
of ``bench/customer360.py`` over 40 customers active everywhere (2,000 customers), warm: every answer comes
from the cache, as that benchmark's warm figure. Prints, per page and checkout, the p50 of the wall clock
and the facade process's CPU time per request (its event loop and its worker threads).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import LeanClient, active_customers, estate_processors, global_id, linked_store, seeded_layout
from customer360 import QUERY as CUSTOMER_360
from customer360 import config_for
from peer import set_latency
from peer_gateway import wait_until_answering
from peer_queries import LIST_CONTACTS, LIST_FULL, LIST_OWNER
from served_cpu import cpu_ms

from crmgraph.demo.process import estate_process

SERVE = """
import json, sys, threading
from pathlib import Path
from customer360 import config_for
import crmgraph
from crmgraph.app import build_app
print("crmgraph from", Path(crmgraph.__file__).parent, file=sys.stderr, flush=True)
from crmgraph.runner import serving
urls = json.loads(Path(sys.argv[1]).read_text())
with serving(build_app(config_for(urls, sys.argv[2], float(sys.argv[4]))), port=int(sys.argv[3]), as_server=True):
    threading.Event().wait()
"""


@contextmanager
def served(
    tree: Path, urls_file: Path, identity_url: str, port: int, ttl: float, latency_ms: float, log: Path
) -> Iterator[int]:
    """The facade of the source tree ``tree`` on ``port``, in a process of its own; yields its pid. Cache off,
    it is the tree's own ``bench/peer_facade.py`` (which delays each ERP statement by ``latency_ms``)."""
    env = os.environ | {"PYTHONPATH": f"{tree}:{tree / 'bench'}"}
    command = [sys.executable, "-c", SERVE, str(urls_file), identity_url, str(port), str(ttl)]
    if not ttl:
        script = str(tree / "bench" / "peer_facade.py")
        command = [sys.executable, script, "--urls", str(urls_file), "--identity-url", identity_url,
                   "--port", str(port), "--erp-latency-ms", str(latency_ms)]  # fmt: skip
    # Run in the tree: `python -c` puts the working directory first on the import path, before PYTHONPATH.
    with (
        log.open("ab") as sink,
        subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=sink) as process,
    ):
        try:
            wait_until_answering(port, process, str(tree))
            yield process.pid
        finally:
            process.terminate()
            process.wait(timeout=10)


def pages(ttl: float, identity_url: str, config_urls: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """What is asked (the estate linked into the identity store first, as ``crmgraph link`` would)."""
    store = linked_store(identity_url, config_for(config_urls, identity_url, 0))
    if not ttl:
        return {"list with owner": [{"query": LIST_OWNER}], "list with owner + contacts": [{"query": LIST_CONTACTS}],
                "full list page": [{"query": LIST_FULL}]}  # fmt: skip
    ids = [global_id("Customer", c) for c in active_customers(store, 40)]
    return {"customer 360, warm": [{"query": CUSTOMER_360, "variables": {"id": i}, "extensions": {"explain": True}}
                                   for i in ids]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="source tree of the earlier checkout")
    parser.add_argument("--after", type=Path, default=Path("."), help="source tree of the later checkout")
    parser.add_argument("--cache-ttl", type=float, default=0.0)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="per upstream call, cache off: cold pages")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--block", type=int, default=10, help="requests in a row to one checkout")
    parser.add_argument("--port-base", type=int, default=18740)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()

    ttl, latency = args.cache_ttl, args.latency_ms
    if ttl and latency:
        raise SystemExit("--latency-ms is for the cold pages: leave --cache-ttl at 0")
    customers = 2000 if ttl else 300
    data_dir = args.data_dir or Path(f"var/bench-side-by-side-{customers}")
    layout = seeded_layout(data_dir, customers)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    with estate_process(layout.root, customers=customers, seed=42, cpus=estate_processors(False)) as urls:
        identity_url = f"sqlite:///{layout.root.resolve() / 'side-by-side-identity.sqlite'}"
        asked = pages(ttl, identity_url, urls)
        urls_file = layout.root.resolve() / "side-by-side-urls.json"
        urls_file.write_text(json.dumps(urls))
        set_latency(urls, latency)  # the CRM's and the ticket system's; the facades delay ERP statements
        logs = layout.root
        with (
            served(
                trees["before"], urls_file, identity_url, args.port_base, ttl, latency, logs / "before.log"
            ) as before,
            served(
                trees["after"], urls_file, identity_url, args.port_base + 1, ttl, latency, logs / "after.log"
            ) as after,
        ):
            pids = {"before": before, "after": after}
            clients = {side: LeanClient(f"http://127.0.0.1:{args.port_base + i}") for i, side in enumerate(trees)}
            walls: dict[tuple[str, str], list[float]] = {(p, s): [] for p in asked for s in trees}
            cpu: dict[tuple[str, str], float] = {(p, s): 0.0 for p in asked for s in trees}
            try:
                for side in trees:  # warm: imports, the parser's and the planner's caches, the cache itself
                    for bodies in asked.values():
                        for body in bodies * 3:
                            clients[side].post("/graphql", body)
                for round_ in range(args.rounds):
                    order = list(trees) if round_ % 2 == 0 else list(trees)[::-1]
                    for page, bodies in asked.items():
                        for side in order:
                            started_cpu = cpu_ms(pids[side])
                            for k in range(args.block):
                                started = time.perf_counter()
                                status, content = clients[side].post("/graphql", bodies[k % len(bodies)])
                                walls[(page, side)].append((time.perf_counter() - started) * 1000)
                                if status != 200 or b'"errors"' in content:
                                    raise SystemExit(f"{side} {page}: {status} {content[:300]!r}")
                            cpu[(page, side)] += cpu_ms(pids[side]) - started_cpu
            finally:
                for client in clients.values():
                    client.close()
    what = f"cache on (TTL {ttl:g} s), warm" if ttl else f"cache off, {latency:g} ms per upstream call"
    print(f"{what}; {args.rounds} rounds of {args.block} requests a page to each checkout, alternating")
    print(f"before: {trees['before']}; after: {trees['after']}")
    print("| page | p50 ms, before | p50 ms, after | CPU ms per request, before | CPU ms per request, after |")
    print("|---|---|---|---|---|")
    n = args.rounds * args.block
    for page in asked:
        print(f"| {page} | {statistics.median(walls[(page, 'before')]):.2f} "
              f"| {statistics.median(walls[(page, 'after')]):.2f} "
              f"| {cpu[(page, 'before')] / n:.2f} | {cpu[(page, 'after')] / n:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
