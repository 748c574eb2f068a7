"""Identity resolution on seeded estates: accuracy against the ground truth, time and memory.

    python bench/identity.py                              # 2,000 customers, seeds 11 and 12345
    python bench/identity.py --customers 100000 --seed 42 --no-baselines

For each estate: seed it (kept under var/bench-identity/), serve it, then
1. read every party and person through the adapters (as `crmgraph link` does), timed;
2. score three linkings of the same records on record pairs against ground_truth.csv: cross-references
   only (what crmgraph did before matching), exact strong keys (same tax id, web or e-mail domain, or
   phone; people: same e-mail or phone), and crmgraph's matcher;
3. run the whole `crmgraph link` (read, match, write the store) in a child process and report its wall
   time and peak resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from crmgraph.config import parse_config
from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.process import estate_process
from crmgraph.demo.seed import data_dir_is_current, generate_estate
from crmgraph.identity import normalize as norm
from crmgraph.identity.engine import resolve
from crmgraph.identity.evaluate import Evaluation, evaluate, read_truth
from crmgraph.identity.linker import LinkReport, scan_sources
from crmgraph.identity.profiles import SourceRecord
from crmgraph.identity.settings import IdentityConfig
from crmgraph.records import PartyRecord, PersonRecord
from crmgraph.sources import OpenSources

CONFIG = """
sources:
  crm: {{adapter: hubspot, url: "{crm}", token: demo-crm-token}}
  erp: {{adapter: sql, url: "{erp}"}}
  tickets: {{adapter: zendesk, url: "{tickets}", email: api@demo.crmgraph.test, token: demo-zendesk-token}}
identity: {{url: "{identity}"}}
"""


# Runs the CLI and reports the process's own peak resident memory (VmHWM) when it exits. The rusage of
# children is no good here: on Linux a child's maximum starts at the size of the parent it forked from,
# and this script holds every record of the estate.
PEAK_REPORTING_CLI = """
import atexit, runpy, sys
def report():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM"))
    print("peak-rss-kib", peak, file=sys.stderr)
atexit.register(report)
sys.argv = ["crmgraph", *sys.argv[1:]]
runpy.run_module("crmgraph", run_name="__main__")
"""


def _groups(
    keys: Iterable[SourceRecord], joins: Iterable[tuple[SourceRecord, SourceRecord]]
) -> dict[SourceRecord, int]:
    parent: dict[SourceRecord, SourceRecord] = {key: key for key in keys}

    def find(node: SourceRecord) -> SourceRecord:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in joins:
        if a in parent and b in parent:
            parent[find(a)] = find(b)
    roots: dict[SourceRecord, int] = {}
    return {key: roots.setdefault(find(key), len(roots)) for key in parent}


def _by_shared_value(records: Mapping[SourceRecord, list[str]]) -> list[tuple[SourceRecord, SourceRecord]]:
    first_with: dict[str, SourceRecord] = {}
    joins = []
    for key, values in records.items():
        for value in values:
            if value in first_with:
                joins.append((first_with[value], key))
            else:
                first_with[value] = key
    return joins


def xref_baseline(parties: Mapping[SourceRecord, PartyRecord], persons: Mapping[SourceRecord, PersonRecord]) -> tuple[
    dict[SourceRecord, int], dict[SourceRecord, int]
]:  # fmt: skip
    companies = _groups(parties, ((key, x) for key, r in parties.items() for x in r.xrefs))
    people = _groups(persons, ((key, x) for key, r in persons.items() for x in r.xrefs))
    return companies, people


def strong_key_baseline(
    parties: Mapping[SourceRecord, PartyRecord], persons: Mapping[SourceRecord, PersonRecord]
) -> tuple[dict[SourceRecord, int], dict[SourceRecord, int]]:
    keys: dict[SourceRecord, list[str]] = {}
    for key, r in parties.items():
        values = [f"tax:{norm.tax_id(r.tax_id)}" if r.tax_id else "", f"dom:{norm.domain(r.domain)}",
                  f"dom:{norm.domain(r.email)}", f"tel:{norm.phone(r.phone, r.country)}"]  # fmt: skip
        keys[key] = [v for v in values if v and not v.endswith(":None") and v != "tax:None"]
    people_keys = {key: [v for v in (norm.email(r.email), norm.phone(r.phone)) if v] for key, r in persons.items()}
    return _groups(parties, _by_shared_value(keys)), _groups(persons, _by_shared_value(people_keys))


def _line(name: str, kind: str, evaluation: Evaluation) -> str:
    cells = [name, kind]
    for scope in ("all", "cross-system", "within systems"):
        score = evaluation.score(scope)
        cells += [f"{score.precision:.3f}", f"{score.recall:.3f}", f"{score.f1:.3f}"]
    cells.append(f"{evaluation.golden:,} / {evaluation.entities:,}")
    return "| " + " | ".join(cells) + " |"


def seeded_estate(customers: int, seed: int, data_root: Path) -> EstateLayout:
    """The estate under ``data_root``, seeded first when it is missing or from another generator version."""
    layout = EstateLayout(data_root / f"{customers}-{seed}")
    if not data_dir_is_current(layout.root, seed=seed, customers=customers):
        started = time.monotonic()
        generate_estate(layout, customers=customers, seed=seed)
        print(f"seeded {customers:,} customers (seed {seed}) in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return layout


def config_text(urls: Mapping[str, str]) -> str:
    """The configuration of a served estate, with an identity store of its own in a fresh folder."""
    identity = f"sqlite:///{tempfile.mkdtemp()}/identity.sqlite"
    return CONFIG.format(crm=urls["crm"], tickets=urls["tickets"], erp=urls["erp"], identity=identity)


def scan_estate(text: str) -> tuple[dict[SourceRecord, PartyRecord], dict[SourceRecord, PersonRecord], float]:
    """Every party and person record, read through the adapters as `crmgraph link` reads them, and the time."""
    config = parse_config(text, environ={})

    async def scan() -> tuple[dict[SourceRecord, PartyRecord], dict[SourceRecord, PersonRecord]]:
        async with OpenSources(config) as adapters:
            return await scan_sources(adapters, LinkReport())

    started = time.monotonic()
    parties, persons = asyncio.run(scan())
    return parties, persons, time.monotonic() - started


def run(customers: int, seed: int, baselines: bool, data_root: Path) -> None:
    layout = seeded_estate(customers, seed, data_root)
    truth = read_truth(layout.ground_truth)
    with estate_process(layout.root, customers=customers, seed=seed) as urls:
        text = config_text(urls)
        parties, persons, read_s = scan_estate(text)
        started = time.monotonic()
        resolution = resolve(parties, persons, IdentityConfig())
        match_s = time.monotonic() - started
        linkings = {"crmgraph": (resolution.customer_of(), resolution.person_of())}
        if baselines:
            linkings = {"cross-references": xref_baseline(parties, persons),
                        "exact strong keys": strong_key_baseline(parties, persons)} | linkings  # fmt: skip
        print(f"\n### {customers:,} customers, seed {seed}\n")
        print(f"{len(parties):,} party and {len(persons):,} person records read in {read_s:.1f} s; "
              f"matched in {match_s:.1f} s ({resolution.companies.report.blocking.pairs:,} company and "
              f"{resolution.persons.report.blocking.pairs:,} person pairs compared).\n")  # fmt: skip
        print(
            "| linking | records | P | R | F1 | P cross-system | R | F1 | P within systems | R | F1 | golden / true |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for name, (companies, people) in linkings.items():
            print(_line(name, "companies", evaluate("companies", companies, truth["companies"])))
            print(_line(name, "people", evaluate("persons", people, truth["persons"])))

        config_file = Path(tempfile.mkdtemp()) / "crmgraph.yaml"
        config_file.write_text(text)
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-c", PEAK_REPORTING_CLI, "link", "--config", str(config_file)],
                              capture_output=True, text=True, env=os.environ | {"COLUMNS": "200"})  # fmt: skip
        link_s = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"crmgraph link failed:\n{done.stderr}")
        peak_kib = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("peak-rss-kib"))
        print(
            f"\n`crmgraph link` (read, match, write the store): {link_s:.1f} s wall, "
            f"peak RSS {peak_kib / 1024:,.0f} MiB (the link process's own high-water mark)."
        )
        print("\n" + "\n".join(f"    {line}" for line in done.stdout.strip().splitlines()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, action="append", help="repeatable; default: 11 and 12345")
    parser.add_argument("--no-baselines", dest="baselines", action="store_false")
    parser.add_argument("--data-root", type=Path, default=Path("var/bench-identity"))
    args = parser.parse_args()
    for seed in args.seed or [11, 12345]:
        run(args.customers, seed, args.baselines, args.data_root)


if __name__ == "__main__":
    main()
