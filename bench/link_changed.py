"""`crmgraph link --changed` after a few records changed, against the full `crmgraph link`.

    .venv/bin/python bench/link_changed.py --customers 2000 --seed 11 --changes 10

Seeds (if needed) and serves the estate, links it in full into a fresh SQLite store, then changes
``--changes`` records spread over the three systems (as each system's save does: new values and a new
change time) and runs the incremental link. Prints, for both runs, the wall time, the upstream calls by
source (the ERP's mapping check when it opens left out) and the records read. Records changed less than
a minute before the full run began (an earlier run of this script) are read again: the overlap.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections import Counter
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select

from crmgraph.adapters.sdk.calls import CallLog, current_call_log
from crmgraph.config import Config, parse_config
from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.process import estate_process
from crmgraph.demo.seed.timefmt import hubspot, zendesk
from crmgraph.demo.stores.erp import KNA1, KNVK, change_rows
from crmgraph.identity.linker import LinkReport, link, link_changes
from crmgraph.identity.store import IdentityStore
from crmgraph.sources import OpenSources


def _config(urls: dict[str, str], identity_url: str) -> Config:
    return parse_config(
        f"""
        sources:
          crm: {{adapter: hubspot, url: "{urls["crm"]}", token: demo-crm-token}}
          erp: {{adapter: sql, url: "{urls["erp"]}"}}
          tickets: {{adapter: zendesk, url: "{urls["tickets"]}", email: api@demo.crmgraph.test,
                    token: demo-zendesk-token}}
        identity: {{url: "{identity_url}"}}
        """
    )


def _run(config: Config, store: IdentityStore, incremental: bool) -> tuple[LinkReport, float, Counter[str]]:
    async def main() -> tuple[LinkReport, float, CallLog]:
        log = CallLog()
        current_call_log.set(log)
        async with OpenSources(config) as adapters:
            started = time.perf_counter()
            report = await (link_changes if incremental else link)(store, adapters, config.identity)
            return report, time.perf_counter() - started, log

    report, seconds, log = asyncio.run(main())
    return report, seconds, Counter(call.source for call in log.calls if not call.request.startswith("INSPECT"))


def _change(layout: EstateLayout, count: int) -> None:
    """``count`` records changed: a party and a person in turn, in the CRM, the ticket system, the ERP; each
    gets a phone number of this moment, so that every run changes them again."""
    now = datetime.now(UTC)
    per_system = [count // 3 + (1 if n < count % 3 else 0) for n in range(3)]
    with closing(sqlite3.connect(layout.crm_db)) as conn:
        for n in range(per_system[0]):
            object_type = ("companies", "contacts")[n % 2]
            (oid,) = conn.execute(
                "SELECT id FROM objects WHERE object_type = ? ORDER BY id LIMIT 1 OFFSET ?", (object_type, n)
            ).fetchone()
            conn.execute(
                "UPDATE objects SET properties = json_set(properties, '$.phone', ?), updated_at = ? WHERE id = ?",
                (f"+49 30 {now:%H%M%S}{n:02d}", hubspot(now), oid),
            )
        conn.commit()
    with closing(sqlite3.connect(layout.tickets_db)) as conn:
        for n in range(per_system[1]):
            table, column = (("organizations", "details"), ("users", "phone"))[n % 2]
            (rid,) = conn.execute(f"SELECT id FROM {table} ORDER BY id DESC LIMIT 1 OFFSET ?", (n,)).fetchone()
            conn.execute(
                f"UPDATE {table} SET {column} = ?, updated_at = ? WHERE id = ?",
                (f"+49 40 {now:%H%M%S}{n:02d}", zendesk(now), rid),
            )
        conn.commit()
    engine = create_engine(layout.erp_url)
    with engine.begin() as conn:
        for n in range(per_system[2]):
            erp_table, key = (KNA1, KNA1.c.KUNNR) if n % 2 == 0 else (KNVK, KNVK.c.PARNR)
            (value,) = conn.execute(select(key).order_by(key).offset(n).limit(1)).one()
            change_rows(conn, erp_table, {key.name: value}, {"TELF1": f"030 {now:%H%M%S}{n:02d}"})
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-link-changed"))
    args = parser.parse_args()
    with estate_process(args.data_dir, customers=args.customers, seed=args.seed) as urls:
        store = IdentityStore(f"sqlite:///{Path(tempfile.mkdtemp()) / 'identity.sqlite'}")
        store.create()
        config = _config(urls, store.url)
        runs = [("full", _run(config, store, incremental=False))]
        _change(EstateLayout(args.data_dir), args.changes)
        runs.append(("--changed", _run(config, store, incremental=True)))
        store.close()
    for name, (report, seconds, calls) in runs:
        by_source = ", ".join(f"{source} {n}" for source, n in sorted(calls.items()))
        compared = "" if report.changed is None else f", {report.changed:,} records compared again"
        whole = f", read whole: {', '.join(sorted(report.read_whole))}" if report.read_whole else ""
        print(
            f"{name:>9}: {seconds:5.2f} s, {sum(calls.values()):,} upstream calls ({by_source}), "
            f"{sum(report.scanned.values()):,} records read{compared}{whole}; "
            f"read {report.seconds.get('scan', 0):.2f} s, match {report.seconds.get('match', 0):.2f} s, "
            f"write {report.seconds.get('write', 0):.2f} s"
        )


if __name__ == "__main__":
    main()
