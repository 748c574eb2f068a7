"""Seed a large estate and report how long it took and how much memory it needed.

    python bench/seed_scale.py --customers 100000 [--seed 42] [--data-dir var/bench-estate]

Prints rows per table, wall time, rows per second and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.seed import generate_estate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-estate"))
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()

    layout = EstateLayout(args.data_dir)
    started = time.monotonic()
    last_report = started

    def progress(done: int, total: int) -> None:
        nonlocal last_report
        now = time.monotonic()
        if now - last_report >= 10 or done == total:
            last_report = now
            print(f"  {done:>9,} / {total:,} customers  {now - started:6.1f} s", file=sys.stderr, flush=True)

    manifest = generate_estate(layout, customers=args.customers, seed=args.seed, progress=progress)
    seconds = time.monotonic() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    total_rows = sum(sum(tables.values()) for tables in manifest.rows.values())
    sizes = {p.name: p.stat().st_size / 2**20 for p in (layout.crm_db, layout.tickets_db, layout.erp_db)}

    print(f"customers            {args.customers:,} (seed {args.seed})")
    for store, tables in manifest.rows.items():
        for table, rows in sorted(tables.items()):
            print(f"  {store:<8} {table:<14} {rows:>12,}")
    print(f"rows in all          {total_rows:,}")
    print(f"wall time            {seconds:.1f} s")
    print(f"rows per second      {total_rows / seconds:,.0f}")
    print(f"peak memory (RSS)    {peak_mib:,.0f} MiB")
    print("files                " + ", ".join(f"{name} {mib:,.0f} MiB" for name, mib in sizes.items()))
    if not args.keep:
        shutil.rmtree(layout.root, ignore_errors=True)


if __name__ == "__main__":
    main()
