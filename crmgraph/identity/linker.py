"""The linking run: read every party and person of every source, match them, write golden ids and links.

Sources are read concurrently (each pages through its own records). Matching runs in a worker thread,
and everything is written in one transaction at the end: a source that fails while being read, or any
error before the commit, leaves the store as it was.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crmgraph.adapters.base import Adapter
from crmgraph.identity import decisions as steward
from crmgraph.identity import normalize as norm
from crmgraph.identity import persist
from crmgraph.identity.engine import Resolution, resolve
from crmgraph.identity.persist import KindReport
from crmgraph.identity.profiles import Profile, SourceRecord
from crmgraph.identity.settings import IdentityConfig
from crmgraph.identity.store import IdentityStore
from crmgraph.records import PartyRecord, PersonRecord, Record

# (stage, done, total or None): "scan crm party", "match companies", "write", ...
Progress = Callable[[str, int, int | None], None]
PAGE_SIZE = 1000  # the most a page holds where an API allows it (Zendesk exports); others cap it themselves
ENTITIES = ("party", "person")


@dataclass
class LinkReport:
    scanned: Counter[str] = field(default_factory=Counter)  # "source entity" -> records
    companies: KindReport = field(default_factory=KindReport)
    persons: KindReport = field(default_factory=KindReport)
    dangling_xrefs: int = 0  # references to records that no source returned
    changed: int | None = None  # an incremental run: records compared again (changed, or their company did)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def customers(self) -> int:
        return self.companies.golden


def match_keys_of(profile: Profile) -> set[tuple[str, str]]:
    """Normalised values a customer can be searched by (``customers(search:)``)."""
    values = profile.values
    keys: set[tuple[str, str]] = set()
    name, form = values.get("name"), values.get("legal_form")
    if isinstance(name, str):
        suffix = form if isinstance(form, str) else ""
        # "northwind logistics ltd", "上海华信科技有限公司": found by any part of the name as people type it.
        keys.add(("name", name + suffix if norm.has_cjk(name) else f"{name} {suffix}".strip()))
    for kind, name_of_set in (("domain", "domains"), ("email", "emails")):
        found = values.get(name_of_set)
        if isinstance(found, frozenset):
            keys.update((kind, value) for value in found)
    tax_id = values.get("tax_id")
    if isinstance(tax_id, str):
        keys.add(("tax_id", tax_id.lower()))  # searched folded to lower case, and PostgreSQL LIKE minds case
    return keys


async def _scan(
    name: str, adapter: Adapter, entity: str, found: dict[SourceRecord, Record], report: LinkReport,
    progress: Progress | None,
) -> None:  # fmt: skip
    cursor: str | None = None
    stage = f"scan {name} {entity}"
    while True:
        page = await adapter.scan(entity, cursor, PAGE_SIZE)
        for record in page.records:
            found[(name, record.source_id)] = record
        report.scanned[f"{name} {entity}"] += len(page.records)
        if progress is not None:
            progress(stage, report.scanned[f"{name} {entity}"], None)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def scan_sources(
    adapters: Mapping[str, Adapter], report: LinkReport, progress: Progress | None = None
) -> tuple[dict[SourceRecord, PartyRecord], dict[SourceRecord, PersonRecord]]:
    """Every party and person of every source that can list them, all sources at once."""
    found: dict[str, dict[SourceRecord, Record]] = {entity: {} for entity in ENTITIES}
    scans = [
        _scan(name, adapter, entity, found[entity], report, progress)
        for name, adapter in adapters.items()
        for entity in ENTITIES
        if entity in adapter.scannable
    ]
    await asyncio.gather(*scans)
    # Source order is precedence order: keep it in the result, whatever order the scans finished in.
    order = {name: position for position, name in enumerate(adapters)}
    parties = {
        k: r for k, r in sorted(found["party"].items(), key=lambda i: order[i[0][0]]) if isinstance(r, PartyRecord)
    }
    persons = {
        k: r for k, r in sorted(found["person"].items(), key=lambda i: order[i[0][0]]) if isinstance(r, PersonRecord)
    }
    return parties, persons  # fmt: skip


def _person_customers(resolution: Resolution, customer_of_record: Mapping[SourceRecord, int]) -> dict[int, int | None]:
    """Person cluster label -> the golden customer most of its records are filed under."""
    votes: defaultdict[int, Counter[int]] = defaultdict(Counter)
    labels = resolution.persons.labels
    for row, profile in enumerate(resolution.persons.profiles):
        label = int(labels[row])
        votes.setdefault(label, Counter())
        if profile.parent is not None and profile.parent in customer_of_record:
            votes[label][customer_of_record[profile.parent]] += 1
    return {label: (counted.most_common(1)[0][0] if counted else None) for label, counted in votes.items()}


def write_run(
    store: IdentityStore,
    resolution: Resolution,
    report: LinkReport,
    progress: Progress | None = None,
    *,
    changed: set[SourceRecord] | None = None,
    watermarks: Mapping[tuple[str, str], str] | None = None,
) -> None:
    """Write a run. A full run (``changed`` None) replaces the review queue, the model and the profiles;
    an incremental one touches only what involves its ``changed`` records (companies and people)."""
    now = persist.utcnow()
    decisions = steward.standing_from(store)
    with store.engine.begin() as conn:
        if progress is not None:
            progress("write", 0, 3)
        before = {key: row.golden_id for key, row in persist.current_links(conn, "company").items()}
        companies, report.companies = persist.write_links(conn, "company", resolution.companies, now)
        customer_of_record = {
            profile.key: companies.ids[int(resolution.companies.labels[row])]
            for row, profile in enumerate(resolution.companies.profiles)
        }
        touched = {cid for key, cid in customer_of_record.items() if changed is None or key in changed
                   or before.get(key) != cid}  # fmt: skip
        keys: defaultdict[int, set[tuple[str, str]]] = defaultdict(set)
        for profile in resolution.company_records:
            customer = customer_of_record[profile.key]
            if customer in touched:
                keys[customer] |= match_keys_of(profile)
        persist.write_match_keys(conn, keys, companies.new)
        if progress is not None:
            progress("write", 1, 3)
        parents = _person_customers(resolution, customer_of_record)
        _, report.persons = persist.write_links(conn, "person", resolution.persons, now, parents)
        if progress is not None:
            progress("write", 2, 3)
        for kind, result, kind_report in (
            ("company", resolution.companies, report.companies),
            ("person", resolution.persons, report.persons),
        ):
            decided = steward.decided_pairs(decisions, kind)
            kind_report.review = persist.write_review(conn, kind, result, decided, now, touching=changed)
            if changed is None:
                persist.write_model(conn, kind, result.model, now)
        stored = resolution.company_records, list(resolution.persons.profiles)
        for kind, profiles in zip(("company", "person"), stored, strict=True):
            kept = profiles if changed is None else [p for p in profiles if p.key in changed]
            persist.write_profiles(conn, kind, kept, replace_all=changed is None)
        if watermarks:
            persist.write_watermarks(conn, watermarks, now)
    if progress is not None:
        progress("write", 3, 3)


def watermarks_of(
    records: Mapping[SourceRecord, PartyRecord | PersonRecord], entity: str
) -> dict[tuple[str, str], str]:
    """Per source, the newest change time among its records: where the next incremental run reads from."""
    newest: dict[tuple[str, str], str] = {}
    for (source, _), record in records.items():
        moment = getattr(record, "updated_at", None) or record.created_at
        if moment is not None:
            stamp = moment.isoformat()
            if stamp > newest.get((source, entity), ""):
                newest[(source, entity)] = stamp
    return newest


async def link(
    store: IdentityStore, adapters: Mapping[str, Adapter], config: IdentityConfig, progress: Progress | None = None
) -> LinkReport:
    """The full run: read every source, match, write. Steward decisions are obeyed throughout."""
    report = LinkReport()
    clock = time.monotonic()
    parties, persons = await scan_sources(adapters, report, progress)
    report.seconds["scan"] = time.monotonic() - clock
    report.dangling_xrefs = sum(1 for r in parties.values() for target in r.xrefs if target not in parties)

    def match_and_write() -> None:
        clock = time.monotonic()
        if progress is not None:
            progress("match", 0, None)
        resolution = resolve(parties, persons, config, steward.standing_from(store))
        report.seconds["match"] = time.monotonic() - clock
        clock = time.monotonic()
        marks = watermarks_of(parties, "party") | watermarks_of(persons, "person")
        write_run(store, resolution, report, progress, watermarks=marks)
        report.seconds["write"] = time.monotonic() - clock

    await asyncio.to_thread(match_and_write)
    return report


def changed_since(
    records: Mapping[SourceRecord, PartyRecord] | Mapping[SourceRecord, PersonRecord],
    entity: str,
    watermarks: Mapping[tuple[str, str], str],
) -> dict[SourceRecord, Any]:
    """The records changed (or created) after their source's watermark; every record of a source that has
    none (a source added since the last run)."""
    changed: dict[SourceRecord, Any] = {}
    for key, record in records.items():
        mark = watermarks.get((key[0], entity))
        moment = getattr(record, "updated_at", None) or record.created_at
        if mark is None or moment is None or moment.isoformat() > mark:
            changed[key] = record
    return changed


async def link_changes(
    store: IdentityStore, adapters: Mapping[str, Adapter], config: IdentityConfig, progress: Progress | None = None
) -> LinkReport:
    """The incremental run: only records changed since the last run are compared (see
    :mod:`crmgraph.identity.incremental`). The sources are still read whole: until the adapters offer their
    systems' change feeds, a change is told by each record's own modification time against the watermark
    the last run kept (a record that carries none counts as changed)."""
    from crmgraph.identity.incremental import Changed, relink_changes

    with store.engine.connect() as conn:
        marks = persist.read_watermarks(conn)
    scan_report = LinkReport()
    clock = time.monotonic()
    parties, persons = await scan_sources(adapters, scan_report, progress)
    scan_seconds = time.monotonic() - clock
    changes = Changed(changed_since(parties, "party", marks), changed_since(persons, "person", marks))
    new_marks = watermarks_of(parties, "party") | watermarks_of(persons, "person")
    report = await asyncio.to_thread(relink_changes, store, config, changes, new_marks)
    report.scanned = scan_report.scanned
    report.seconds["scan"] = scan_seconds
    return report
