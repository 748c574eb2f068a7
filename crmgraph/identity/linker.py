"""The linking run: read every party and person of every source, match them, write golden ids and links.

Sources are read concurrently (each pages through its own records). Matching runs in a worker thread,
and everything is written in one transaction at the end: a source that fails while being read, or any
error before the commit, leaves the store as it was.

Each run also keeps, per source and entity, a watermark: the moment the next incremental run reads changes
from (less :data:`OVERLAP`). A source read whole leaves the moment its read began; a change feed, the
newest change it gave (in the source's own clock; the mark stays where it was when the feed was empty).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.identity import decisions as steward
from crmgraph.identity import normalize as norm
from crmgraph.identity import persist
from crmgraph.identity.engine import Resolution, resolve
from crmgraph.identity.persist import KindReport
from crmgraph.identity.profiles import COMPANY_TEXT, Profile, SourceRecord
from crmgraph.identity.settings import IdentityConfig
from crmgraph.identity.store import SCOPE_KINDS, IdentityStore
from crmgraph.records import PartyRecord, PersonRecord, Record

# (stage, done, total or None): "scan crm party", "match companies", "write", ...
Progress = Callable[[str, int, int | None], None]
PAGE_SIZE = 1000  # the most a page holds where an API allows it (Zendesk exports); others cap it themselves
ENTITIES = ("party", "person")
# How far before its watermark an incremental run reads a change feed again: a record stamped a little
# before a later one but committed after it was read (a long save), or a source clock a little behind
# crmgraph's, is still read. Records read twice are harmless: their profiles are the same.
OVERLAP = timedelta(minutes=1)


@dataclass
class LinkReport:
    scanned: Counter[str] = field(default_factory=Counter)  # "source entity" -> records read
    # An incremental run: the "source entity" read whole (no change feed, or no watermark yet); the others
    # were read through their change feeds, and ``scanned`` counts the changed records they gave.
    read_whole: set[str] = field(default_factory=set)
    companies: KindReport = field(default_factory=KindReport)
    persons: KindReport = field(default_factory=KindReport)
    dangling_xrefs: int = 0  # references to records that no source returned
    changed: int | None = None  # an incremental run: records compared again (changed, or their company did)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def customers(self) -> int:
        return self.companies.golden


def match_keys_of(profile: Profile) -> set[tuple[str, str]]:
    """Normalised values a customer can be searched by (``customers(search:)``), and the values a row scope
    tests (``SCOPE_KINDS``)."""
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
    # What a row scope tests (policy.roles.*.scope): every owner and country the customer's records name.
    for kind in SCOPE_KINDS:
        value = values.get(kind)
        if isinstance(value, str):
            keys.add((kind, value))
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


def _person_customers(
    resolution: Resolution, customer_of_record: Mapping[SourceRecord, int], golden_of_label: Mapping[int, int]
) -> dict[int, int | None]:
    """Person cluster label -> the golden customer most of its records are filed under; for a person whose
    records are filed under none, and who is known as a lead, the customer its lead records were assigned to
    (by e-mail domain or company name, see :func:`~crmgraph.identity.profiles.assign_customers`)."""
    votes: defaultdict[int, Counter[int]] = defaultdict(Counter)
    lead_votes: defaultdict[int, Counter[int]] = defaultdict(Counter)
    labels = resolution.persons.labels
    for row, profile in enumerate(resolution.persons.profiles):
        label = int(labels[row])
        votes.setdefault(label, Counter())
        if profile.parent is not None and profile.parent in customer_of_record:
            votes[label][customer_of_record[profile.parent]] += 1
        assigned = profile.values.get("customer")
        if COMPANY_TEXT in profile.values and isinstance(assigned, str) and int(assigned) in golden_of_label:
            lead_votes[label][golden_of_label[int(assigned)]] += 1
    return {
        label: (counted or lead_votes[label]).most_common(1)[0][0] if counted or lead_votes[label] else None
        for label, counted in votes.items()
    }


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
        parents = _person_customers(resolution, customer_of_record, companies.ids)
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


def _newest(record: Record) -> datetime | None:
    moment = getattr(record, "updated_at", None) or getattr(record, "created_at", None)
    return moment if isinstance(moment, datetime) else None


async def link(
    store: IdentityStore, adapters: Mapping[str, Adapter], config: IdentityConfig, progress: Progress | None = None
) -> LinkReport:
    """The full run: read every source, match, write. Steward decisions are obeyed throughout."""
    report = LinkReport()
    clock = time.monotonic()
    started = persist.utcnow()
    parties, persons = await scan_sources(adapters, report, progress)
    report.seconds["scan"] = time.monotonic() - clock
    report.dangling_xrefs = sum(1 for r in parties.values() for target in r.xrefs if target not in parties)
    marks = {
        (name, entity): started.isoformat()
        for name, adapter in adapters.items()
        for entity in ENTITIES
        if entity in adapter.scannable
    }

    def match_and_write() -> None:
        clock = time.monotonic()
        if progress is not None:
            progress("match", 0, None)
        resolution = resolve(parties, persons, config, steward.standing_from(store))
        report.seconds["match"] = time.monotonic() - clock
        clock = time.monotonic()
        write_run(store, resolution, report, progress, watermarks=marks)
        report.seconds["write"] = time.monotonic() - clock

    await asyncio.to_thread(match_and_write)
    return report


def _parse_mark(value: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None  # a mark this version cannot read: the source is read whole, and a new mark kept
    return moment if moment is not None and moment.tzinfo is not None else None


async def _read_changes(
    name: str, adapter: Adapter, entity: str, since: datetime, found: dict[SourceRecord, Record], report: LinkReport,
    progress: Progress | None,
) -> datetime | None:  # fmt: skip
    """Every record the source's change feed gives from ``since``; the newest change among them."""
    cursor: str | None = None
    stage = f"changes {name} {entity}"
    newest: datetime | None = None
    while True:
        page = await adapter.changes(entity, since, cursor, PAGE_SIZE)
        for record in page.records:
            found[(name, record.source_id)] = record  # a record given twice: its last copy is its newest
            moment = _newest(record)
            if moment is not None and (newest is None or moment > newest):
                newest = moment
        report.scanned[f"{name} {entity}"] += len(page.records)
        if progress is not None:
            progress(stage, report.scanned[f"{name} {entity}"], None)
        if page.next_cursor is None:
            return newest
        cursor = page.next_cursor


async def read_changes(
    adapters: Mapping[str, Adapter],
    marks: Mapping[tuple[str, str], str],
    report: LinkReport,
    progress: Progress | None = None,
    overlap: timedelta = OVERLAP,
) -> tuple[dict[SourceRecord, PartyRecord], dict[SourceRecord, PersonRecord], dict[tuple[str, str], str]]:
    """The records of every source changed since its watermarks (less ``overlap``), all sources at once, and
    the watermarks to keep. A source without a change feed for an entity, or without a watermark (added
    since the last run), is read whole: ``report.read_whole`` names it."""
    started = persist.utcnow()
    found: dict[str, dict[SourceRecord, Record]] = {entity: {} for entity in ENTITIES}
    new_marks: dict[tuple[str, str], str] = {}

    async def read(name: str, adapter: Adapter, entity: str) -> None:
        mark = _parse_mark(marks.get((name, entity)))
        if mark is None or entity not in adapter.change_feeds:
            report.read_whole.add(f"{name} {entity}")
            await _scan(name, adapter, entity, found[entity], report, progress)
            new_marks[(name, entity)] = started.isoformat()
            return
        newest = await _read_changes(name, adapter, entity, mark - overlap, found[entity], report, progress)
        new_marks[(name, entity)] = max(mark, newest).isoformat() if newest is not None else mark.isoformat()

    await asyncio.gather(
        *(read(name, adapter, entity) for name, adapter in adapters.items() for entity in ENTITIES
          if entity in adapter.scannable)
    )  # fmt: skip
    order = {name: position for position, name in enumerate(adapters)}
    parties = {
        k: r for k, r in sorted(found["party"].items(), key=lambda i: order[i[0][0]]) if isinstance(r, PartyRecord)
    }
    persons = {
        k: r for k, r in sorted(found["person"].items(), key=lambda i: order[i[0][0]]) if isinstance(r, PersonRecord)
    }
    return parties, persons, new_marks


async def link_changes(
    store: IdentityStore,
    adapters: Mapping[str, Adapter],
    config: IdentityConfig,
    progress: Progress | None = None,
    *,
    overlap: timedelta = OVERLAP,
) -> LinkReport:
    """The incremental run: read what each source changed since its watermark (its change feed; the whole
    source where it has none), and compare only the records whose match fields changed (see
    :mod:`crmgraph.identity.incremental`). Raises :class:`~crmgraph.identity.incremental.NeedsFullRun`
    before reading anything when the store holds no full run yet."""
    from crmgraph.identity.incremental import Changed, NeedsFullRun, relink_changes

    with store.engine.connect() as conn:
        if persist.read_model(conn, "company") is None or persist.read_model(conn, "person") is None:
            raise NeedsFullRun("no match model is stored yet: run a full `crmgraph link` first")
        marks = persist.read_watermarks(conn)
    read_report = LinkReport()
    clock = time.monotonic()
    parties, persons, new_marks = await read_changes(adapters, marks, read_report, progress, overlap)
    read_seconds = time.monotonic() - clock
    report = await asyncio.to_thread(relink_changes, store, config, Changed(parties, persons), new_marks)
    report.scanned, report.read_whole = read_report.scanned, read_report.read_whole
    report.seconds["scan"] = read_seconds
    return report
