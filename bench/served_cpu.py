"""Where a served list page's time goes: the facade's CPU, the estate's CPU and the wall clock per request.

    .venv/bin/python bench/served_cpu.py [--customers 300] [--requests 100] [--erp-rows]

Starts the demo estate (on a processor of its own when there are two), links identities and serves
crmgraph as ``bench/peer.py`` does (``bench/peer_facade.py``: a process of its own, cache off, 0 ms
upstreams). Then one client asks each list page of ``bench/peer_queries.py`` ``--requests`` times in a
row and prints, per request, the facade process's CPU time (its event loop and its SQL driver threads
together), the estate's, and the p50 and mean of the wall clock. On a machine whose speed wanders, the
CPU figures move with it too: compare two commits by alternating them.

``--erp-rows`` also times the ERP's read of a page's orders by itself (the SQL adapter's ``fetch_related``
for the page's parties, rows read into records in the driver's thread), the largest single read of the
full page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

from common import LeanClient, estate_processors, linked_store, seeded_layout
from customer360 import config_for
from peer import facade
from peer_queries import LIST_CONTACTS, LIST_FULL, LIST_OWNER

from crmgraph.demo.process import estate_process
from crmgraph.identity.store import IdentityStore
from crmgraph.sources import build_adapters

PAGES = {"list with owner": LIST_OWNER, "list with owner + contacts": LIST_CONTACTS, "full list page": LIST_FULL}


def cpu_ms(pid: int) -> float:
    """User and system CPU time of a process so far (all its threads), in milliseconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def erp_orders_read(urls: dict[str, str], identity_url: str, store: IdentityStore, runs: int) -> tuple[int, float]:
    """Rows and median milliseconds of the ERP's read of the orders of a page's parties (its first 50 customers)."""
    parties = [link.source_id for links in asyncio.run(store.links_of(list(range(1, 51)))).values()
               for link in links if link.source == "erp" and link.entity == "party"]  # fmt: skip
    erp = build_adapters(config_for(urls, identity_url, 0))["erp"]

    async def read() -> tuple[int, float]:
        await erp.open()
        try:
            found = await erp.fetch_related("order", "party", parties)
            each = []
            for _ in range(runs):
                started = time.perf_counter()
                await erp.fetch_related("order", "party", parties)
                each.append((time.perf_counter() - started) * 1000)
            return sum(len(orders) for orders in found if isinstance(orders, list)), statistics.median(each)
        finally:
            await erp.close()

    return asyncio.run(read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--port", type=int, default=18720)
    parser.add_argument("--erp-rows", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-peer"))
    args = parser.parse_args()

    layout = seeded_layout(args.data_dir, args.customers)
    with estate_process(layout.root, customers=args.customers, seed=42, cpus=estate_processors(False)) as urls:
        identity_url = f"sqlite:///{layout.root.resolve() / 'bench-identity.sqlite'}"
        store = linked_store(identity_url, config_for(urls, identity_url, 0))
        urls_file = layout.root / "served-cpu-urls.json"
        urls_file.write_text(json.dumps(urls))
        estate_pid = _estate_pid(urls)
        print(f"{args.requests} requests in a row per page, cache off, 0 ms upstreams ({os.cpu_count()} processors)")
        print("| page | p50 ms | mean ms | facade CPU ms per request | estate CPU ms per request |")
        print("|---|---|---|---|---|")
        with facade(urls_file, identity_url, args.port, 0) as url:
            facade_pid = _listening_pid(args.port)
            client = LeanClient(url)
            try:
                for name, query in PAGES.items():
                    for _ in range(10):  # warm: imports, the parser's and the planner's caches
                        client.post("/graphql", {"query": query})
                    facade_before, estate_before = cpu_ms(facade_pid), cpu_ms(estate_pid)
                    walls = []
                    for _ in range(args.requests):
                        started = time.perf_counter()
                        status, _ = client.post("/graphql", {"query": query})
                        walls.append((time.perf_counter() - started) * 1000)
                        if status != 200:
                            raise SystemExit(f"{name}: status {status}")
                    n = args.requests
                    print(f"| {name} | {statistics.median(walls):.1f} | {statistics.fmean(walls):.1f} "
                          f"| {(cpu_ms(facade_pid) - facade_before) / n:.1f} "
                          f"| {(cpu_ms(estate_pid) - estate_before) / n:.1f} |")  # fmt: skip
            finally:
                client.close()
        if args.erp_rows:
            rows, median = erp_orders_read(urls, identity_url, store, 30)
            print(
                f"\nERP orders of the first 50 customers' parties: {rows} rows, read in {median:.2f} ms (median of 30)"
            )


def _listening_pid(port: int) -> int:
    """The process listening on ``port`` on 127.0.0.1 (from /proc: the socket's inode, then its owner)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes:
                    return int(entry.name)
        except OSError:
            continue
    raise SystemExit(f"nothing listens on port {port}")


def _estate_pid(urls: dict[str, str]) -> int:
    return _listening_pid(int(urls["crm"].rsplit(":", 1)[1].split("/")[0]))


if __name__ == "__main__":
    main()
