"""`crmgraph link --changed` on the systems' change feeds: records are changed in each system of a running
estate of its own (the CRM's and the ticket system's stores, as their own saves would; the ERP through SQL,
as its save does), and an incremental run reads those records only and links them as a full run would.

Every value a test relies on is looked up in the estate first: nothing here knows the seed's names.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, select

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.calls import CallLog, current_call_log
from crmgraph.adapters.sql.mapping import DEFAULT_MAPPING_DATA
from crmgraph.config import Config, parse_config
from crmgraph.demo.layout import EstateCredentials, EstateLayout
from crmgraph.demo.seed import generate_estate
from crmgraph.demo.seed.timefmt import hubspot, zendesk
from crmgraph.demo.stores.erp import KNA1, KNVK, change_rows
from crmgraph.identity.linker import LinkReport, link, link_changes
from crmgraph.identity.profiles import SourceRecord
from crmgraph.identity.store import IdentityStore
from crmgraph.records import Page, PersonRecord
from crmgraph.sources import OpenSources
from tests.conftest import Estate
from tests.facade import facade_config

CUSTOMERS = 60
SEED = 4242
T = TypeVar("T")
FEEDS = {f"{source} {entity}" for source in ("crm", "tickets", "erp") for entity in ("party", "person")}


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    """An estate these tests change as they go, served by a process of its own."""
    layout = EstateLayout(tmp_path_factory.mktemp("changing-estate"))
    generate_estate(layout, customers=CUSTOMERS, seed=SEED)
    ready = layout.root / "ready.json"
    command = [
        sys.executable, "-m", "crmgraph", "demo", "estate", "--data-dir", str(layout.root),
        "--customers", str(CUSTOMERS), "--seed", str(SEED), "--port-base", "0", "--ready-file", str(ready),
    ]  # fmt: skip
    with (layout.root / "estate.log").open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not ready.exists():
                assert process.poll() is None, (layout.root / "estate.log").read_text()
                assert time.monotonic() < deadline, "the estate did not become ready within 60 s"
                time.sleep(0.05)
            urls = json.loads(ready.read_text())
            yield Estate(layout, urls["crm"], urls["tickets"], EstateCredentials())
        finally:
            process.terminate()
            process.wait(timeout=10)


def config_of(estate: Estate, identity_url: str, erp_mapping: dict[str, Any] | None = None) -> Config:
    if erp_mapping is None:
        return facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, identity_url)
    mapping = json.dumps(erp_mapping)  # JSON is YAML
    return parse_config(
        f"""
        sources:
          crm: {{adapter: hubspot, url: "{estate.crm_url}", token: demo-crm-token}}
          erp: {{adapter: sql, url: "{estate.layout.erp_url}", mapping: {mapping}}}
          tickets: {{adapter: zendesk, url: "{estate.tickets_url}", email: api@demo.crmgraph.test,
                    token: demo-zendesk-token}}
        identity: {{url: "{identity_url}"}}
        """
    )


def logged(scenario: Callable[[], Awaitable[T]]) -> tuple[T, CallLog]:
    """Run ``scenario`` with a call log of every upstream round trip it makes."""

    async def main() -> tuple[T, CallLog]:
        log = CallLog()
        token = current_call_log.set(log)
        try:
            return await scenario(), log
        finally:
            current_call_log.reset(token)

    return asyncio.run(main())


def run_link(config: Config, store: IdentityStore, *, incremental: bool) -> tuple[LinkReport, Counter[str]]:
    """A linking run and its upstream calls by source (the mapping's check when the ERP opens left out)."""

    async def once() -> LinkReport:
        async with OpenSources(config) as adapters:
            run = link_changes if incremental else link
            return await run(store, adapters, config.identity)

    report, log = logged(once)
    return report, Counter(call.source for call in log.calls if not call.request.startswith("INSPECT"))


def partition(store: IdentityStore) -> tuple[set[frozenset[SourceRecord]], set[frozenset[SourceRecord]]]:
    """The golden customers and persons as sets of records (golden ids differ between stores)."""
    found = []
    for golden_of in store.golden_of_records():
        groups: dict[int, set[SourceRecord]] = {}
        for record, golden in golden_of.items():
            groups.setdefault(golden, set()).add(record)
        found.append({frozenset(members) for members in groups.values()})
    return found[0], found[1]


def group_of(groups: set[frozenset[SourceRecord]], record: SourceRecord) -> frozenset[SourceRecord]:
    return next(group for group in groups if record in group)


# --- changing records as each system does ----------------------------------------------------------


def change_crm(layout: EstateLayout, object_type: str, object_id: str, **properties: str | None) -> None:
    """A save in the CRM: new property values and a new last-modified time."""
    with closing(sqlite3.connect(layout.crm_db)) as conn:
        (stored,) = conn.execute(
            "SELECT properties FROM objects WHERE object_type = ? AND id = ?", (object_type, int(object_id))
        ).fetchone()
        merged = json.loads(stored) | properties
        conn.execute(
            "UPDATE objects SET properties = ?, updated_at = ? WHERE object_type = ? AND id = ?",
            (json.dumps(merged), hubspot(datetime.now(UTC)), object_type, int(object_id)),
        )
        conn.commit()


def change_tickets(layout: EstateLayout, table: str, record_id: str, **columns: str | None) -> None:
    """A save in the ticket system: new values and a new ``updated_at``."""
    assignments = ", ".join(f"{column} = ?" for column in columns)
    with closing(sqlite3.connect(layout.tickets_db)) as conn:
        conn.execute(
            f"UPDATE {table} SET {assignments}, updated_at = ? WHERE id = ?",
            (*columns.values(), zendesk(datetime.now(UTC)), int(record_id)),
        )
        conn.commit()


def change_erp(layout: EstateLayout, table: Any, keys: dict[str, str], **values: str | None) -> None:
    engine = create_engine(layout.erp_url)
    with engine.begin() as conn:
        assert change_rows(conn, table, keys, values) == 1
    engine.dispose()


def crm_companies(layout: EstateLayout) -> dict[str, dict[str, str]]:
    with closing(sqlite3.connect(layout.crm_db)) as conn:
        rows = conn.execute("SELECT id, properties FROM objects WHERE object_type = 'companies' ORDER BY id")
        return {str(oid): json.loads(props) for oid, props in rows}


def first_id(path: Path, sql: str) -> str:
    with closing(sqlite3.connect(path)) as conn:
        return str(conn.execute(sql).fetchone()[0])


def erp_rows(layout: EstateLayout, statement: Any) -> list[Any]:
    engine = create_engine(layout.erp_url)
    with engine.connect() as conn:
        rows = list(conn.execute(statement))
    engine.dispose()
    return rows


def make_changes(layout: EstateLayout, turn: int) -> tuple[set[SourceRecord], SourceRecord, SourceRecord]:
    """One party and one person changed in each system (values of this ``turn``); an ERP debtor re-keyed to
    look like another customer's CRM company (name, tax id, phone, web address), so that linking must move
    it. Returns the changed records, the debtor and the CRM company it now looks like."""
    companies = crm_companies(layout)
    # A CRM company with every identifier, and an ERP debtor without a declared link that is not it.
    target_id, target = next(
        (oid, props) for oid, props in companies.items() if all(props.get(k) for k in ("name", "tax_id", "phone"))
    )
    debtors = erp_rows(layout, select(KNA1.c.KUNNR, KNA1.c.STCD1).where(KNA1.c.ZZCRMID.is_(None)))
    kunnr = next(str(row.KUNNR).strip() for row in debtors if target["tax_id"] != row.STCD1)
    change_erp(
        layout, KNA1, {"KUNNR": kunnr}, NAME1=target["name"], STCD1=target["tax_id"], TELF1=target["phone"],
        KNURL=f"www.{target['domain']}" if target.get("domain") else None, SMTP_ADDR=None,
    )  # fmt: skip
    parnr = str(erp_rows(layout, select(KNVK.c.PARNR).order_by(KNVK.c.PARNR).limit(1))[0].PARNR).strip()
    change_erp(layout, KNVK, {"PARNR": parnr}, SMTP_ADDR=f"moved.on.{turn}@changes.example")
    other_id = next(oid for oid in companies if oid != target_id)
    change_crm(layout, "companies", other_id, phone=f"+49 30 5550 12{turn:02d}")
    contact = first_id(layout.crm_db, "SELECT id FROM objects WHERE object_type = 'contacts' ORDER BY id")
    change_crm(layout, "contacts", contact, email=f"renamed.{turn}@changes.example", lastname=f"Renamed{turn}")
    organization = first_id(layout.tickets_db, "SELECT id FROM organizations ORDER BY id")
    change_tickets(layout, "organizations", organization, details=f"Hauptstraße {turn}, 10115 Berlin")
    user = first_id(layout.tickets_db, "SELECT id FROM users WHERE role = 'end-user' ORDER BY id")
    change_tickets(layout, "users", user, email=f"new.address.{turn}@changes.example")
    changed = {("erp", kunnr), ("erp", parnr), ("crm", other_id), ("crm", contact), ("tickets", organization),
               ("tickets", user)}  # fmt: skip
    return changed, ("erp", kunnr), ("crm", target_id)


# --- linking -------------------------------------------------------------------------------------------


def test_a_re_link_reads_only_the_changed_records_of_each_system_and_links_them_as_a_full_run_does(
    estate: Estate, tmp_path: Path
) -> None:
    store = IdentityStore(f"sqlite:///{tmp_path / 'incremental.sqlite'}")
    store.create()
    config = config_of(estate, store.url)
    full, _ = run_link(config, store, incremental=False)
    changed, debtor, twin = make_changes(estate.layout, 1)

    report, calls = run_link(config, store, incremental=True)

    # One record of each entity changed in each system, and that is all each change feed gave.
    assert report.scanned == Counter(dict.fromkeys(FEEDS, 1)) and report.read_whole == set()
    # Two searches and the contacts' companies; two exports; two statements, whatever the estate's size.
    assert calls == Counter({"crm": 3, "tickets": 2, "erp": 2})
    assert sum(full.scanned.values()) > 10 * sum(report.scanned.values())
    assert report.changed is not None and report.changed >= len(changed)
    # A full run over the changed estate puts every changed record where the incremental run put it.
    fresh = IdentityStore(f"sqlite:///{tmp_path / 'full.sqlite'}")
    fresh.create()
    run_link(config_of(estate, fresh.url), fresh, incremental=False)
    for incremental, whole in zip(partition(store), partition(fresh), strict=True):
        for record in changed:
            if any(record in group for group in whole):
                assert group_of(incremental, record) == group_of(whole, record), record
    customers, _ = store.golden_of_records()
    assert customers[debtor] == customers[twin]  # the re-keyed debtor moved to the company it now matches
    fresh.close()
    store.close()


def test_a_source_without_a_change_feed_is_read_whole_and_only_its_changed_records_are_compared(
    estate: Estate, tmp_path: Path
) -> None:
    without_change_column = json.loads(json.dumps(DEFAULT_MAPPING_DATA))
    for entity in ("party", "person"):
        del without_change_column[entity]["fields"]["updated_at"]
    store = IdentityStore(f"sqlite:///{tmp_path / 'identity.sqlite'}")
    store.create()
    config = config_of(estate, store.url, without_change_column)
    full, _ = run_link(config, store, incremental=False)
    changed, _, _ = make_changes(estate.layout, 2)

    report, calls = run_link(config, store, incremental=True)

    assert report.read_whole == {"erp party", "erp person"}
    assert report.scanned["erp party"] == full.scanned["erp party"] and calls["erp"] >= 2
    assert report.scanned["crm party"] == report.scanned["tickets person"] == 1
    # The ERP was read whole, yet only the records whose match fields changed are compared again: the two
    # changed in each system and the records filed under or over them.
    related = report.changed or 0
    assert len(changed) <= related < 0.2 * (sum(full.scanned.values()))
    store.close()


# --- the adapters' change feeds ---------------------------------------------------------------------------


async def _feed(adapter: Adapter, entity: str, since: datetime, size: int) -> list[Page]:
    pages = [await adapter.changes(entity, since, None, size)]
    while pages[-1].next_cursor is not None:
        pages.append(await adapter.changes(entity, since, pages[-1].next_cursor, size))
    return pages


def read_feed(estate: Estate, source: str, entity: str, since: datetime, size: int, **settings: Any) -> tuple[
    list[Page], CallLog
]:  # fmt: skip
    config = config_of(estate, "")

    async def scenario() -> list[Page]:
        async with OpenSources(config) as adapters:
            adapter = adapters[source]
            for name, value in settings.items():
                setattr(adapter, name, value)
            return await _feed(adapter, entity, since, size)

    return logged(scenario)


def ids_of(pages: list[Page]) -> list[str]:
    return [record.source_id for page in pages for record in page.records]


def test_the_crm_feed_moves_its_lower_bound_page_by_page_and_gives_each_record_once(estate: Estate) -> None:
    # Seven contacts saved in one millisecond, and three more a millisecond later: pages of two must step
    # through the first millisecond and move on without giving any contact twice or leaving one out.
    with closing(sqlite3.connect(estate.layout.crm_db)) as conn:
        contacts = [str(r[0]) for r in conn.execute("SELECT id FROM objects WHERE object_type = 'contacts' LIMIT 10")]
        moment = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)  # later than any other test saves
        for n, contact in enumerate(contacts):
            at = moment + timedelta(milliseconds=0 if n < 7 else 1)
            conn.execute(
                "UPDATE objects SET updated_at = ? WHERE object_type = 'contacts' AND id = ?",
                (at.isoformat(timespec="milliseconds").replace("+00:00", "Z"), int(contact)),
            )
        conn.commit()
    pages, log = read_feed(estate, "crm", "person", moment, 2)
    assert sorted(ids_of(pages)) == sorted(contacts)
    searches = [call for call in log.calls if call.request.endswith("/search")]
    assert len(searches) == len(pages) and len(pages) >= 5
    stamps = [getattr(record, "updated_at", None) for page in pages for record in page.records]
    assert all(stamp is not None and stamp >= moment for stamp in stamps)


def test_the_crm_feed_pages_past_the_searchs_ten_thousand_results_by_moving_its_bound(estate: Estate) -> None:
    companies = list(crm_companies(estate.layout))
    since = datetime(2000, 1, 1, tzinfo=UTC)
    everything, _ = read_feed(estate, "crm", "party", since, 200)
    assert sorted(ids_of(everything)) == sorted(companies)  # more than one page, none of them past `after` 0
    # Where one search could not hold them (pages of 7 through a window shrunk to 10 results), the same.
    import crmgraph.adapters.hubspot.changes as feed

    window = feed.SEARCH_WINDOW
    feed.SEARCH_WINDOW = 10
    try:
        small, _ = read_feed(estate, "crm", "party", since, 7)
    finally:
        feed.SEARCH_WINDOW = window
    assert sorted(ids_of(small)) == sorted(companies)


def test_the_ticket_feeds_start_at_the_second_asked_for(estate: Estate) -> None:
    since = datetime.now(UTC) + timedelta(days=2)  # after every record: the exports give nothing
    for entity in ("party", "person"):
        pages, log = read_feed(estate, "tickets", entity, since, 100)
        assert ids_of(pages) == [] and log.count("tickets") == 1


def test_the_erp_feed_reads_rows_changed_since_a_moment_by_their_change_stamp(estate: Estate) -> None:
    persons = [str(r.PARNR).strip() for r in erp_rows(estate.layout, select(KNVK.c.PARNR).limit(5))]
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    engine = create_engine(estate.layout.erp_url)
    with engine.begin() as conn:
        for n, parnr in enumerate(persons):
            change_rows(conn, KNVK, {"PARNR": parnr}, {}, at=later + timedelta(seconds=n % 2))
    engine.dispose()
    pages, log = read_feed(estate, "erp", "person", later, 2)
    assert sorted(ids_of(pages)) == sorted(persons)
    assert [call.request for call in log.calls if not call.request.startswith("INSPECT")] == ["SELECT KNVK"] * 3
    stamps = [r.updated_at for page in pages for r in page.records if isinstance(r, PersonRecord) and r.updated_at]
    assert len(stamps) == len(persons) and stamps == sorted(stamps) and stamps[0] == later
