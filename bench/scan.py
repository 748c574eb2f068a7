"""Full scans of every source, as identity linking reads them: records per second by source and entity.

    .venv/bin/python bench/scan.py [--customers 100000] [--seed 42] [--data-dir var/scan-estate] [--size 1000]
                                   [--together] [--no-pin] [--synthetic-erp-persons]

Seeds the estate if its data dir is not current, serves the CRM and the ticket system in a process of their
own (pinned to the last processor when there are two or more, as on machines of their own), opens the
three adapters as the facade configures them, and pages through every entity each can scan, one after the
other. Prints records, pages, upstream calls, seconds and records/s per source and entity, and the total.
``--size`` is the page size asked for: each adapter caps it at what its system allows (HubSpot 100, a
Zendesk export 1,000). ``--together`` then scans everything at once as well, and prints the wall time.

``--synthetic-erp-persons`` fills the ERP's contact persons (KNVK) in the data dir with two made-up rows
per debtor if the table is empty (a seed from before it held people), so that their scan can be measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.calls import CallLog, current_call_log
from crmgraph.config import Config, parse_config
from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.process import estate_process
from crmgraph.demo.seed import data_dir_is_current, generate_estate
from crmgraph.sources import OpenSources


@dataclass
class Scanned:
    source: str
    entity: str
    records: int
    pages: int
    calls: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else float("nan")


def config_for(urls: dict[str, str]) -> Config:
    return parse_config(f"""
        sources:
          crm: {{adapter: hubspot, url: "{urls["crm"]}", token: demo-crm-token}}
          tickets: {{adapter: zendesk, url: "{urls["tickets"]}", email: api@demo.crmgraph.test,
                    token: demo-zendesk-token}}
          erp: {{adapter: sql, url: "{urls["erp"]}"}}
    """)


async def scan(source: str, adapter: Adapter, entity: str, size: int) -> Scanned:
    log = CallLog()
    token = current_call_log.set(log)
    records = pages = 0
    cursor: str | None = None
    started = time.perf_counter()
    try:
        while True:
            page = await adapter.scan(entity, cursor, size)
            records += len(page.records)
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    finally:
        current_call_log.reset(token)
    return Scanned(source, entity, records, pages, len(log.calls), time.perf_counter() - started)


async def scan_everything(urls: dict[str, str], size: int, together: bool) -> tuple[list[Scanned], float | None]:
    async with OpenSources(config_for(urls)) as adapters:
        work = [(name, adapter, entity) for name, adapter in adapters.items() for entity in sorted(adapter.scannable)]
        one_by_one = [await scan(name, adapter, entity, size) for name, adapter, entity in work]
        if not together:
            return one_by_one, None
        started = time.perf_counter()
        await asyncio.gather(*(scan(name, adapter, entity, size) for name, adapter, entity in work))
        return one_by_one, time.perf_counter() - started


def fill_erp_persons(erp_db: Path) -> int:
    """Two made-up contact persons per debtor in an empty KNVK; how many rows it holds afterwards."""
    conn = sqlite3.connect(erp_db)
    try:
        if conn.execute('SELECT COUNT(*) FROM "KNVK"').fetchone()[0] == 0:
            debtors = conn.execute('SELECT "KUNNR", "ERDAT", "LAND1" FROM "KNA1" ORDER BY "KUNNR"').fetchall()
            rows = []
            for n, (kunnr, erdat, country) in enumerate(debtors):
                for k in range(2):
                    first, last = ("海燕", "黄") if country == "CN" else ("Ada", f"Lovelace{n}")
                    rows.append((f"{5_000_000_000 + 2 * n + k:010d}", kunnr, first, last, "+49 30 1234567",
                                 f"person{n}.{k}@example.test", "0001", "Einkauf", erdat))  # fmt: skip
            conn.executemany(
                'INSERT INTO "KNVK" ("PARNR", "KUNNR", "NAMEV", "NAME1", "TELF1", "SMTP_ADDR", "ABTNR", "PAFKT", '
                '"ERDAT") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
                rows,
            )
            conn.commit()
        count: int = conn.execute('SELECT COUNT(*) FROM "KNVK"').fetchone()[0]
        return count
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", type=Path, default=Path("var/scan-estate"))
    parser.add_argument("--size", type=int, default=1000, help="page size asked for (each adapter caps it)")
    parser.add_argument("--together", action="store_true", help="also scan every source and entity at once")
    parser.add_argument("--synthetic-erp-persons", action="store_true", help="fill an empty KNVK (see above)")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=len(os.sched_getaffinity(0)) >= 2,
        help="the simulated systems on a processor of their own (default with 2+)",
    )
    args = parser.parse_args()

    layout = EstateLayout(args.data_dir)
    if not data_dir_is_current(layout.root, seed=args.seed, customers=args.customers):
        generate_estate(layout, customers=args.customers, seed=args.seed)
    if args.synthetic_erp_persons:
        print(f"ERP contact persons (KNVK): {fill_erp_persons(layout.erp_db):,} rows")
    estate_cpus: set[int] | None = None
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("--pin needs at least two processors")
        estate_cpus = {cpus[-1]}
        os.sched_setaffinity(0, set(cpus[:-1]))
    with estate_process(layout.root, customers=args.customers, seed=args.seed, cpus=estate_cpus) as urls:
        results, together = asyncio.run(scan_everything(urls, args.size, args.together))

    print(f"full scans, {args.customers:,} customers (seed {args.seed}), page size asked {args.size}; estate "
          + (f"pinned to processor {sorted(estate_cpus)[0]}" if estate_cpus else "sharing the processors"))  # fmt: skip
    print(f"{'source':8} {'entity':7} {'records':>9} {'pages':>6} {'calls':>6} {'seconds':>8} {'records/s':>10}")
    for r in results:
        print(f"{r.source:8} {r.entity:7} {r.records:>9,} {r.pages:>6,} {r.calls:>6,} {r.seconds:>8.1f} "
              f"{r.rate:>10,.0f}")  # fmt: skip
    records, seconds = sum(r.records for r in results), sum(r.seconds for r in results)
    print(f"{'total':16} {records:>9,} {sum(r.pages for r in results):>6,} {sum(r.calls for r in results):>6,} "
          f"{seconds:>8.1f} {records / seconds:>10,.0f}")  # fmt: skip
    if together is not None:
        print(f"everything at once: {together:.1f} s wall time ({records / together:,.0f} records/s)")


if __name__ == "__main__":
    main()
