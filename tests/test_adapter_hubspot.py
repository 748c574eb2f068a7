"""The hubspot adapter against the running CRM simulator: mapping, alignment, upstream cost, faults.

Expectations come from the seeded SQLite store, read directly. Costs are counted twice: by the call log
the adapter reports to, and by the requests the simulator says it received. What the seed never holds
(more than 500 associations, records crmgraph cannot read) is served from a small store of our own.
"""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from crmgraph.adapters.hubspot import HubSpotAdapter
from crmgraph.adapters.hubspot.mapping import parse_instant
from crmgraph.adapters.sdk.calls import CallLog, current_call_log, expect_related
from crmgraph.adapters.sdk.names import person_name
from crmgraph.adapters.sdk.testing import AdapterContract, ContractSamples, run_with
from crmgraph.demo import crm_api
from crmgraph.demo.crm_api import build_crm_api
from crmgraph.demo.crm_stage_history import derived_stage_dates
from crmgraph.demo.seed.crm_projection import COUNTRY_NAMES
from crmgraph.demo.stores import crm as crm_store
from crmgraph.demo.wire import serving_in_thread
from crmgraph.errors import (
    ConfigError,
    SourceError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from crmgraph.records import (
    DealRecord,
    DealStage,
    InteractionKind,
    InteractionRecord,
    Money,
    OwnerRecord,
    PartyRecord,
    PersonRecord,
    Record,
)

if TYPE_CHECKING:
    from tests.conftest import Estate

T = TypeVar("T")
Props = dict[str, str]
SOURCE = "crm"
UNKNOWN = "999999999"
ENGAGEMENTS = ("calls", "emails", "meetings", "notes")
COUNTRY_CODES = {name: code for code, name in COUNTRY_NAMES.items()}


def run(make: Callable[[], HubSpotAdapter], scenario: Callable[[HubSpotAdapter], Awaitable[T]]) -> tuple[T, CallLog]:
    """Open a fresh adapter, run ``scenario`` with a call log, close it."""
    return run_with(make, scenario)


def adapter_for(estate: Estate, **settings: Any) -> Callable[[], HubSpotAdapter]:
    base = {"url": estate.crm_url, "token": estate.credentials.crm_token}
    return lambda: HubSpotAdapter(SOURCE, base | settings)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- the store, read directly -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(running_estate: Estate) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{running_estate.layout.crm_db}?mode=ro", uri=True)
    yield conn
    conn.close()


def stored(db: sqlite3.Connection, object_type: str) -> dict[str, tuple[Props, str, str]]:
    """Every live object of a type by id: its properties, created_at and updated_at."""
    rows = db.execute(
        "SELECT id, properties, created_at, updated_at FROM objects WHERE object_type = ? AND archived = 0 ORDER BY id",
        (object_type,),
    )
    return {str(oid): (json.loads(props), created, updated) for oid, props, created, updated in rows}


def associated(db: sqlite3.Connection, from_type: str, to_type: str) -> dict[str, list[str]]:
    rows = db.execute(
        "SELECT from_id, to_id FROM associations WHERE from_type = ? AND to_type = ? ORDER BY from_id, to_id",
        (from_type, to_type),
    )
    found: dict[str, list[str]] = {}
    for from_id, to_id in rows:
        found.setdefault(str(from_id), []).append(str(to_id))
    return found


def text(props: Props, key: str) -> str | None:
    """A property as the adapter gives it: outer spaces trimmed (the seed's noise adds some), "" as None."""
    return props.get(key, "").strip() or None


def expected_party(oid: str, props: Props, created: str, updated: str) -> PartyRecord:
    return PartyRecord(
        SOURCE, oid, name=props["name"].strip(), tax_id=text(props, "tax_id"), domain=text(props, "domain"),
        phone=text(props, "phone"), country=COUNTRY_CODES[props["country"]], city=text(props, "city"),
        address=text(props, "address"), postal_code=text(props, "zip"), industry=text(props, "industry"),
        lifecycle_stage=text(props, "lifecyclestage"), owner_id=text(props, "hubspot_owner_id"),
        created_at=instant(created), updated_at=instant(updated),
    )  # fmt: skip


def expected_person(oid: str, props: Props, created: str, party_id: str | None, updated: str) -> PersonRecord:
    first, last = props["firstname"], props["lastname"]
    # A Chinese contact is written family name first, unspaced, unless someone typed it in pinyin.
    name = f"{last}{first}" if props["hs_language"] == "zh-cn" and not first.isascii() else f"{first} {last}"
    return PersonRecord(
        SOURCE, oid, name=name, first_name=first, last_name=last, email=text(props, "email"),
        phone=text(props, "phone"), job_title=text(props, "jobtitle"), party_id=party_id, created_at=instant(created),
        updated_at=instant(updated),
    )  # fmt: skip


def expected_stage_entered(oid: str, props: Props, created: str, updated: str) -> tuple[tuple[str, datetime], ...]:
    """A seeded deal's stage history as the CRM derives it (tests/test_report_sources_deals.py checks how)."""
    dates = derived_stage_dates(int(oid), props["dealstage"], created, updated, props.get("closedate"))
    entered = [(name.removeprefix("hs_date_entered_"), instant(moment)) for name, moment in dates.items()]
    return tuple(sorted(entered, key=lambda item: item[1]))


def expected_deal(oid: str, props: Props, created: str, party_id: str, updated: str) -> DealRecord:
    stage = props["dealstage"]
    return DealRecord(
        SOURCE, oid, name=props["dealname"],
        stage={"closedwon": DealStage.WON, "closedlost": DealStage.LOST}.get(stage, DealStage.OPEN),
        stage_label=stage, amount=Money(Decimal(props["amount"]), props["deal_currency_code"]),
        pipeline=props["pipeline"], close_date=instant(props["closedate"]), owner_id=props["hubspot_owner_id"],
        party_id=party_id, created_at=instant(created), updated_at=instant(updated),
        stage_entered=expected_stage_entered(oid, props, created, updated),
    )  # fmt: skip


def expected_interaction(object_type: str, oid: str, props: Props, party_id: str) -> InteractionRecord:
    title, body, direction = {
        "calls": ("hs_call_title", "hs_call_body", "hs_call_direction"),
        "emails": ("hs_email_subject", "hs_email_text", "hs_email_direction"),
        "meetings": ("hs_meeting_title", "hs_meeting_body", ""),
        "notes": ("", "hs_note_body", ""),
    }[object_type]
    directions = {"INBOUND": "INBOUND", "OUTBOUND": "OUTBOUND", "EMAIL": "OUTBOUND", "INCOMING_EMAIL": "INBOUND"}
    return InteractionRecord(
        SOURCE, f"{object_type}:{oid}", kind=InteractionKind[object_type.upper().removesuffix("S")],
        occurred_at=instant(props["hs_timestamp"]), title=props.get(title), body=props[body],
        direction=directions.get(props.get(direction, "")), party_id=party_id,
    )  # fmt: skip


def upstream_requests(estate: Estate) -> int:
    total: int = estate.stats("crm")["total"]
    return total


# --- reading by id ----------------------------------------------------------------------------------


def test_150_party_ids_cost_two_batch_reads_and_map_every_company_as_stored(
    estate: Estate, db: sqlite3.Connection
) -> None:
    companies = stored(db, "companies")
    ids = [*companies, *(f"{UNKNOWN}{n}" for n in range(150 - len(companies)))]
    estate.reset("crm")
    results, log = run(adapter_for(estate), lambda a: a.fetch("party", ids))
    assert results == [
        expected_party(oid, *companies[oid]) if oid in companies else None for oid in ids
    ]  # fmt: skip
    assert [call.request for call in log.calls] == ["POST /crm/v3/objects/companies/batch/read"] * 2
    assert upstream_requests(estate) == 2


def test_fetch_aligns_results_with_unknown_and_repeated_ids(estate: Estate, db: sqlite3.Connection) -> None:
    first, second = list(stored(db, "companies"))[:2]
    ids = [second, UNKNOWN, first, second, "not-an-id"]
    estate.reset("crm")
    results, log = run(adapter_for(estate), lambda a: a.fetch("party", ids))
    assert [r.source_id if isinstance(r, Record) else r for r in results] == [second, None, first, second, None]
    assert results[0] == results[3]
    assert len(log.calls) == 1 and log.calls[0].keys == 4  # repeated ids go upstream once
    assert upstream_requests(estate) == 1


def test_contacts_by_id_carry_names_emails_and_their_company(estate: Estate, db: sqlite3.Connection) -> None:
    contacts = stored(db, "contacts")
    company_of = {contact: companies[0] for contact, companies in associated(db, "contacts", "companies").items()}
    ids = [*contacts, UNKNOWN]
    estate.reset("crm")
    results, log = run(adapter_for(estate), lambda a: a.fetch("person", ids))
    assert results == [
        expected_person(oid, props, created, company_of[oid], updated)
        for oid, (props, created, updated) in contacts.items()
    ] + [None]  # fmt: skip
    chinese = next(f"{p['lastname']}{p['firstname']}" for p, _, _ in contacts.values() if not p["firstname"].isascii())
    assert any(isinstance(r, PersonRecord) and r.name == chinese for r in results)  # 黄海燕, not 海燕 黄
    # Per 100 ids: one batch read and, alongside it, one associations read for party_id.
    batches = math.ceil(len(ids) / 100)
    assert sorted(call.request for call in log.calls) == sorted(
        ["POST /crm/v3/objects/contacts/batch/read", "POST /crm/v4/associations/contacts/companies/batch/read"]
        * batches
    )
    assert upstream_requests(estate) == 2 * batches


def test_deals_by_id_carry_stage_amount_and_company(estate: Estate, db: sqlite3.Connection) -> None:
    deals = stored(db, "deals")
    company_of = {deal: companies[0] for deal, companies in associated(db, "deals", "companies").items()}
    estate.reset("crm")
    results, log = run(adapter_for(estate), lambda a: a.fetch("deal", list(deals)))
    assert results == [
        expected_deal(oid, props, created, company_of[oid], updated) for oid, (props, created, updated) in deals.items()
    ]  # fmt: skip
    assert {r.stage for r in results if isinstance(r, DealRecord)} == set(DealStage)
    assert len(log.calls) == upstream_requests(estate) == 2 * math.ceil(len(deals) / 100)


def test_interactions_by_id_cost_one_batch_read_and_one_associations_read_per_type(
    estate: Estate, db: sqlite3.Connection
) -> None:
    wanted: list[str] = []
    expected: list[InteractionRecord | None] = []
    for object_type in ENGAGEMENTS:
        company_of = associated(db, object_type, "companies")
        for oid, (props, _, _) in list(stored(db, object_type).items())[:5]:
            wanted.append(f"{object_type}:{oid}")
            expected.append(expected_interaction(object_type, oid, props, company_of[oid][0]))
    ids = [*wanted, f"calls:{UNKNOWN}", UNKNOWN, f"tickets:{UNKNOWN}", wanted[0]]
    estate.reset("crm")
    results, log = run(adapter_for(estate), lambda a: a.fetch("interaction", ids))
    assert results == [*expected, None, None, None, expected[0]]
    assert {r.kind for r in results if isinstance(r, InteractionRecord)} == set(InteractionKind)
    assert sorted(call.request for call in log.calls) == sorted(
        f"POST /crm/v{version}/{path}/batch/read"
        for object_type in ENGAGEMENTS
        for version, path in ((3, f"objects/{object_type}"), (4, f"associations/{object_type}/companies"))
    )
    assert upstream_requests(estate) == 8


def test_owners_are_answered_from_one_read_of_the_owner_list(estate: Estate, db: sqlite3.Connection) -> None:
    owners = db.execute("SELECT id, email, first_name, last_name FROM owners ORDER BY id LIMIT 3").fetchall()
    a, b, c = (str(row[0]) for row in owners)
    estate.reset("crm")
    results, log = run(adapter_for(estate), lambda adapter: adapter.fetch("owner", [a, b, a, UNKNOWN, c]))
    by_id = {str(oid): OwnerRecord(SOURCE, str(oid), name=f"{first} {last}", email=email)
             for oid, email, first, last in owners}  # fmt: skip
    assert results == [by_id[a], by_id[b], by_id[a], None, by_id[c]]
    # HubSpot has no batch read of owners: the whole list (GET /crm/v3/owners, 500 a page) is read once.
    assert [call.request for call in log.calls] == ["GET /crm/v3/owners"]
    assert upstream_requests(estate) == 1


def test_an_owner_is_mapped_once_per_read_of_the_owner_list(estate: Estate, db: sqlite3.Connection) -> None:
    """Pages ask for the same owners again and again: each is mapped into its record once per read of the list,
    and again after the list is read anew."""
    (owner_id,) = db.execute("SELECT id FROM owners ORDER BY id LIMIT 1").fetchone()
    owner = str(owner_id)

    async def scenario(adapter: HubSpotAdapter) -> tuple[Any, Any, Any]:
        first = (await adapter.fetch("owner", [owner]))[0]
        again = (await adapter.fetch("owner", [owner]))[0]
        adapter._owners.forget()
        return first, again, (await adapter.fetch("owner", [owner]))[0]

    (first, again, reread), log = run(adapter_for(estate), scenario)
    assert isinstance(first, OwnerRecord) and again is first
    assert reread == first and reread is not first
    assert [call.request for call in log.calls] == ["GET /crm/v3/owners", "GET /crm/v3/owners"]


# --- reading by company -----------------------------------------------------------------------------


def test_contacts_of_fifty_companies_cost_one_associations_call_and_one_batch_read(
    estate: Estate, db: sqlite3.Connection
) -> None:
    contacts = stored(db, "contacts")
    of_company = associated(db, "companies", "contacts")
    # Fifty companies whose contacts fit one batch read of 100 (a whale's would not).
    companies = [company for company in of_company if len(of_company[company]) <= 2][:50]
    assert len(companies) == 50 and 50 < sum(len(of_company[c]) for c in companies) <= 100
    without = next(company for company in stored(db, "companies") if company not in of_company)
    keys = [*companies, without, UNKNOWN, companies[0]]
    estate.reset("crm")
    results, log = run(adapter_for(estate), lambda a: a.fetch_related("person", "party", keys))
    assert results == [
        [expected_person(oid, *contacts[oid][:2], company, contacts[oid][2]) for oid in of_company.get(company, [])]
        for company in keys
    ]
    assert results[-3] == results[-2] == []  # HubSpot reports NO_ASSOCIATIONS_FOUND for both
    assert [call.request for call in log.calls] == [
        "POST /crm/v4/associations/companies/contacts/batch/read",
        "POST /crm/v3/objects/contacts/batch/read",
    ]
    assert upstream_requests(estate) == 2


def test_foreseen_contacts_are_read_beside_the_associations_and_only_the_unforeseen_after(
    estate: Estate, db: sqlite3.Connection
) -> None:
    """The identity links foresee a company's contacts: they are read in the same round as the associations,
    and the answer is what the associations alone give (a foreseen contact not associated is left out, an
    associated one not foreseen is read afterwards)."""
    contacts = stored(db, "contacts")
    of_company = associated(db, "companies", "contacts")
    companies = [company for company in of_company if len(of_company[company]) <= 2][:20]
    elsewhere = next(oid for company, oids in of_company.items() if company not in companies for oid in oids)
    expected = [
        [expected_person(oid, *contacts[oid][:2], company, contacts[oid][2]) for oid in of_company[company]]
        for company in companies
    ]

    def foreseeing(foreseen: dict[str, list[str]]) -> Callable[[HubSpotAdapter], Awaitable[Any]]:
        async def scenario(adapter: HubSpotAdapter) -> Any:
            for company, ids in foreseen.items():
                expect_related(SOURCE, "person", "party", company, ids)
            return await adapter.fetch_related("person", "party", companies)

        return scenario

    # Every contact foreseen: one round, two calls side by side.
    estate.reset("crm")
    results, log = run(adapter_for(estate), foreseeing({c: of_company[c] for c in companies}))
    assert results == expected
    listing, read = log.calls
    assert listing.request == "POST /crm/v4/associations/companies/contacts/batch/read"
    assert read.request == "POST /crm/v3/objects/contacts/batch/read"
    assert read.at_ms < listing.at_ms + listing.milliseconds, "the contacts were read before the listing answered"
    # A stale foresight: one contact missing from it, one of another company and one unknown id in it.
    missing = of_company[companies[0]][0]
    stale = {c: [oid for oid in of_company[c] if oid != missing] for c in companies}
    stale[companies[1]] += [elsewhere, UNKNOWN]
    estate.reset("crm")
    results, log = run(adapter_for(estate), foreseeing(stale))
    assert results == expected
    assert [call.request for call in log.calls] == [
        "POST /crm/v4/associations/companies/contacts/batch/read",
        "POST /crm/v3/objects/contacts/batch/read",
        "POST /crm/v3/objects/contacts/batch/read",  # the one contact not foreseen, after the listing
    ]
    assert log.calls[2].at_ms >= log.calls[0].at_ms + log.calls[0].milliseconds
    # Shortly after a 429 nothing is read on a guess: the listing first, then what it lists.
    estate.reset("crm")

    async def rate_limited_lately(adapter: HubSpotAdapter) -> Any:
        adapter.resilience._pause(0.001)  # as a 429 with Retry-After: 0.001 does
        await asyncio.sleep(0.01)
        assert not adapter.resilience.unhurried()
        return await foreseeing({c: of_company[c] for c in companies})(adapter)

    results, log = run(adapter_for(estate), rate_limited_lately)
    assert results == expected
    listing, read = log.calls
    assert read.at_ms >= listing.at_ms + listing.milliseconds


def test_deals_of_every_company_cost_one_associations_call_and_a_batch_read_per_hundred_deals(
    estate: Estate, db: sqlite3.Connection
) -> None:
    deals = stored(db, "deals")
    of_company = associated(db, "companies", "deals")
    companies = list(stored(db, "companies"))
    assert any(company not in of_company for company in companies)  # some have no deals at all
    estate.reset("crm")
    results, log = run(adapter_for(estate), lambda a: a.fetch_related("deal", "party", companies))
    assert results == [
        [expected_deal(oid, *deals[oid][:2], company, deals[oid][2]) for oid in of_company.get(company, [])]
        for company in companies
    ]
    assert len(log.calls) == upstream_requests(estate) == 1 + math.ceil(len(deals) / 100)


def test_interactions_of_companies_cost_one_associations_call_per_type_and_come_newest_first(
    estate: Estate, db: sqlite3.Connection
) -> None:
    # The forty busiest companies: more than a batch read's hundred interactions between them.
    links = [associated(db, "companies", object_type) for object_type in ENGAGEMENTS]
    busy = {company: sum(len(of.get(company, [])) for of in links) for company in stored(db, "companies")}
    companies = sorted(busy, key=lambda company: -busy[company])[:40]
    expected: dict[str, list[InteractionRecord]] = {company: [] for company in companies}
    reads = 0
    for object_type in ENGAGEMENTS:
        engagements = stored(db, object_type)
        of_company = associated(db, "companies", object_type)
        found = {oid for company in companies for oid in of_company.get(company, [])}
        reads += math.ceil(len(found) / 100)
        for company in companies:
            expected[company] += [
                expected_interaction(object_type, oid, engagements[oid][0], company)
                for oid in of_company.get(company, [])
            ]
    for records in expected.values():
        records.sort(key=lambda r: (-r.occurred_at.timestamp(), r.source_id))
    estate.reset("crm")
    results, log = run(adapter_for(estate), lambda a: a.fetch_related("interaction", "party", companies))
    assert results == [expected[company] for company in companies]
    assert sum(map(len, expected.values())) > 100
    associations = [call for call in log.calls if "/associations/" in call.request]
    assert len(associations) == 4
    assert len(log.calls) == upstream_requests(estate) == 4 + reads


# --- one company: its own GET serves every path ------------------------------------------------------


def test_one_company_costs_one_get_for_its_record_and_everything_associated(
    estate: Estate, db: sqlite3.Connection
) -> None:
    contacts, deals = associated(db, "companies", "contacts"), associated(db, "companies", "deals")
    company = next(c for c in contacts if c in deals and len(contacts[c]) <= 100)
    partner = next(c for c in contacts if c != company)

    async def every_path(adapter: HubSpotAdapter, keys: list[str]) -> list[list[Any]]:
        return list(
            await asyncio.gather(
                adapter.fetch("party", keys),
                adapter.fetch_related("person", "party", keys),
                adapter.fetch_related("deal", "party", keys),
                adapter.fetch_related("interaction", "party", keys),
            )
        )

    estate.reset("crm")
    single, log = run(adapter_for(estate), lambda a: every_path(a, [company]))
    requests = [call.request for call in log.calls]
    assert requests.count(f"GET /crm/v3/objects/companies/{company}") == 1
    assert not [r for r in requests if "/associations/" in r]  # the GET listed them all
    assert len(requests) == upstream_requests(estate)
    # The same records, read the batch way (two companies) for comparison.
    batched, _ = run(adapter_for(estate), lambda a: every_path(a, [company, partner]))
    assert single == [[answers[0]] for answers in batched]
    assert single[1][0] and single[2][0]  # it has contacts and deals: the comparison is not empty


def test_one_unknown_company_is_absent_on_every_path_for_one_call(estate: Estate) -> None:
    async def every_path(adapter: HubSpotAdapter) -> list[Any]:
        return list(
            await asyncio.gather(
                adapter.fetch("party", [UNKNOWN]),
                adapter.fetch_related("person", "party", [UNKNOWN]),
                adapter.fetch_related("interaction", "party", [UNKNOWN]),
            )
        )

    estate.reset("crm")
    results, log = run(adapter_for(estate), every_path)
    assert results == [[None], [[]], [[]]]
    assert [call.request for call in log.calls] == [f"GET /crm/v3/objects/companies/{UNKNOWN}"]
    assert log.calls[0].outcome == "404"


def test_outside_a_request_each_path_reads_the_company_itself(estate: Estate, db: sqlite3.Connection) -> None:
    company = next(iter(associated(db, "companies", "contacts")))

    async def two_paths_without_a_log() -> None:
        token = current_call_log.set(None)  # as in linking or a readiness probe: no request around the calls
        try:
            adapter = adapter_for(estate)()
            await adapter.open()
            try:
                await adapter.fetch("party", [company])
                await adapter.fetch_related("person", "party", [company])
            finally:
                await adapter.close()
        finally:
            current_call_log.reset(token)

    estate.reset("crm")
    asyncio.run(two_paths_without_a_log())
    assert estate.stats("crm")["by_endpoint"]["GET /crm/v3/objects/{objectType}/{objectId}"]["total"] == 2


# --- scanning ---------------------------------------------------------------------------------------


def test_scanning_pages_through_every_company_exactly_once(estate: Estate, db: sqlite3.Connection) -> None:
    companies = stored(db, "companies")

    async def scan_all(adapter: HubSpotAdapter) -> list[Record]:
        records: list[Record] = []
        cursor: str | None = None
        while True:
            page = await adapter.scan("party", cursor, size=37)
            records += page.records
            if page.next_cursor is None:
                return records
            cursor = page.next_cursor

    estate.reset("crm")
    records, log = run(adapter_for(estate), scan_all)
    assert records == [expected_party(oid, *row) for oid, row in companies.items()]
    assert len(log.calls) == upstream_requests(estate) == math.ceil(len(companies) / 37)


def test_a_page_of_contacts_carries_each_contacts_company_in_one_call(estate: Estate, db: sqlite3.Connection) -> None:
    contacts = list(stored(db, "contacts").items())[:100]
    company_of = associated(db, "contacts", "companies")
    estate.reset("crm")
    page, log = run(adapter_for(estate), lambda a: a.scan("person", None, size=500))
    assert page.records == [
        expected_person(oid, p, created, company_of[oid][0], updated) for oid, (p, created, updated) in contacts
    ]
    assert page.next_cursor is not None
    # The list answers with each contact's companies (?associations=companies): no associations read.
    assert [call.request for call in log.calls] == ["GET /crm/v3/objects/contacts"]
    assert upstream_requests(estate) == 1


def test_companies_carry_their_street_address_and_postal_code(estate: Estate, db: sqlite3.Connection) -> None:
    companies = stored(db, "companies")
    results, _ = run(adapter_for(estate), lambda a: a.fetch("party", list(companies)[:20]))
    for record in results:
        assert isinstance(record, PartyRecord)
        props, _, _ = companies[record.source_id]
        assert (record.address, record.postal_code) == (text(props, "address"), text(props, "zip"))
    # The seed leaves some out, as sales reps do (docs/demo-estate.md); most companies have both.
    assert sum(bool(r.address and r.postal_code) for r in results if isinstance(r, PartyRecord)) >= 10


# --- faults -----------------------------------------------------------------------------------------

FAULTS: dict[str, tuple[dict[str, Any], type[SourceError]]] = {
    "down": ({"down": True}, UpstreamUnavailable),
    "500": ({"error_rate": 1}, UpstreamUnavailable),
    "429": ({"rate_limit_per_s": 0.001}, UpstreamRateLimited),
    "truncated json": ({"malformed_rate": 1, "malformed_kinds": ["truncated_json"]}, UpstreamBadResponse),
    "invalid json": ({"malformed_rate": 1, "malformed_kinds": ["invalid_json"]}, UpstreamBadResponse),
    "html page": ({"malformed_rate": 1, "malformed_kinds": ["html_page"]}, UpstreamUnavailable),
    "cut transfer": ({"malformed_rate": 1, "malformed_kinds": ["cut_transfer"]}, UpstreamBadResponse),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_crm_gives_each_key_a_typed_error_naming_the_source(
    fault: str, estate: Estate, db: sqlite3.Connection
) -> None:
    plan, error = FAULTS[fault]
    companies = list(stored(db, "companies"))[:3]
    owner = str(db.execute("SELECT min(id) FROM owners").fetchone()[0])

    async def every_path(adapter: HubSpotAdapter) -> list[object]:
        return [
            *await adapter.fetch("party", companies),
            *await adapter.fetch("person", companies),
            *await adapter.fetch("interaction", [f"calls:{c}" for c in companies]),
            *await adapter.fetch("owner", [owner]),
            *await adapter.fetch_related("interaction", "party", companies),
        ]

    estate.faults("crm", **plan)
    if error is UpstreamRateLimited:
        with estate.crm() as crm:
            crm.get("/crm/v3/owners")  # the bucket lets one request through: spend it here
    results, _ = run(adapter_for(estate), every_path)
    assert len(results) == 13
    for result in results:
        assert isinstance(result, error), result
        assert result.source == SOURCE
    if error is UpstreamRateLimited:
        assert all(isinstance(r, UpstreamRateLimited) and r.retry_after for r in results)


def test_a_scan_of_a_failing_crm_raises_the_typed_error(estate: Estate) -> None:
    estate.faults("crm", error_rate=1)
    with pytest.raises(UpstreamUnavailable, match="crm: answered 500"):
        run(adapter_for(estate), lambda a: a.scan("party"))


def test_a_wrong_token_is_a_rejection_not_a_missing_record(estate: Estate) -> None:
    results, _ = run(adapter_for(estate, token="wrong"), lambda a: a.fetch("owner", ["50000001"]))
    assert isinstance(results[0], SourceError) and results[0].code == "UPSTREAM_REJECTED"
    assert "private app token" in results[0].message


# --- settings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        ({"token": "t"}, "sources.crm.url"),
        ({"url": "http://x"}, "sources.crm.token"),
        ({"url": "http://x", "token": "t", "timeout_s": 0}, "sources.crm.timeout_s"),
        ({"url": "http://x", "token": "t", "currency": "euro"}, "sources.crm.currency"),
    ],
)
def test_bad_settings_name_the_key_to_fix(settings: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as raised:
        HubSpotAdapter(SOURCE, settings)
    assert raised.value.path == path


# --- what the seed never holds: a company with 1,201 contacts, records crmgraph cannot read -----------

TOKEN = "scratch-token"
STAMP = "2024-01-01T00:00:00.000Z"
WHALE_CONTACTS = 1_201
DEAL_TO_COMPANY, COMPANY_TO_DEAL, PRIMARY_DEAL_TO_COMPANY, PRIMARY_CONTACT_TO_COMPANY = 341, 342, 5, 1


def _fill_scratch_store(path: Path) -> None:
    conn = crm_store.connect(path)
    objects: list[tuple[str, int, dict[str, str], str]] = [
        ("companies", 1, {"name": "Whale Corp", "country": "Atlantis"}, STAMP),
        ("companies", 2, {"name": " ", "domain": "nameless.test", "country": " united   KINGDOM "}, STAMP),
        ("companies", 3, {"phone": "+1 555 0100"}, STAMP),  # neither name nor domain
        ("companies", 4, {"name": "Bad Stamp Ltd"}, "yesterday"),
        ("companies", 5, {"name": "Odd Contacts Inc"}, STAMP),
        ("contacts", 5001, {"email": "  Lee@Example.TEST "}, STAMP),
        ("contacts", 5002, {"jobtitle": "nobody"}, STAMP),
        ("contacts", 5003, {"firstname": "Two", "lastname": "Companies"}, STAMP),
        ("deals", 10, {"dealname": "No currency", "dealstage": "closedwon", "amount": "12.50"}, STAMP),
        ("deals", 11, {"dealname": "Lots", "dealstage": "closedlost", "amount": "lots",
                       "deal_currency_code": "EUR"}, STAMP),
        ("deals", 12, {"dealname": "No stage"}, STAMP),
        ("deals", 13, {"dealname": "Two companies", "dealstage": "x1", "closedate": "2024-06-30"}, STAMP),
        ("calls", 20, {"hs_call_title": "When?"}, STAMP),
        ("calls", 21, {"hs_timestamp": "1717200000000", "hs_call_body": "  spaced  ",
                       "hs_call_direction": "SIDEWAYS"}, STAMP),
    ]  # fmt: skip
    objects += [("contacts", n, {"firstname": "C", "lastname": str(n)}, STAMP) for n in range(1, WHALE_CONTACTS + 1)]
    conn.executemany(
        "INSERT INTO objects VALUES (?, ?, ?, ?, ?, 0)",
        [(kind, oid, json.dumps(props), created, STAMP) for kind, oid, props, created in objects],
    )
    links = [("companies", 1, "contacts", n, 280) for n in range(1, WHALE_CONTACTS + 1)]
    links += [
        ("companies", 5, "contacts", 5001, 280),
        ("companies", 5, "contacts", 5002, 280),
        ("contacts", 5001, "companies", 5, 279),
        ("contacts", 5002, "companies", 5, 279),
        ("contacts", 5003, "companies", 1, 279),
        ("contacts", 5003, "companies", 4, 279),
        ("contacts", 5003, "companies", 4, PRIMARY_CONTACT_TO_COMPANY),
    ]
    links += [("deals", 13, "companies", 1, DEAL_TO_COMPANY), ("deals", 13, "companies", 4, DEAL_TO_COMPANY),
              ("deals", 13, "companies", 4, PRIMARY_DEAL_TO_COMPANY), ("companies", 1, "deals", 13, COMPANY_TO_DEAL),
              ("calls", 21, "companies", 1, 182)]  # fmt: skip
    conn.executemany("INSERT INTO associations VALUES (?, ?, ?, ?, ?)", links)
    conn.commit()
    conn.close()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The CRM app over a store of our own, on a real loopback server run by a thread of this process."""
    path = tmp_path_factory.mktemp("hubspot-scratch") / "crm.sqlite"
    _fill_scratch_store(path)
    app = build_crm_api(path, TOKEN)
    try:
        with serving_in_thread(app) as url:
            yield url
    finally:
        app.state.store.close()


def run_scratch(url: str, scenario: Callable[[HubSpotAdapter], Awaitable[T]], **settings: Any) -> tuple[T, CallLog]:
    return run(lambda: HubSpotAdapter(SOURCE, {"url": url, "token": TOKEN, **settings}), scenario)


def test_a_company_with_more_than_500_contacts_is_read_to_the_end(scratch: str) -> None:
    results, log = run_scratch(scratch, lambda a: a.fetch_related("person", "party", ["1"]))
    assert isinstance(results[0], list)
    assert [r.source_id for r in results[0]] == [str(n) for n in range(1, WHALE_CONTACTS + 1)]
    assert all(isinstance(r, PersonRecord) and r.party_id == "1" for r in results[0])
    requests = [call.request for call in log.calls]
    # 500 + 500 + 201 associations in three rounds, then 13 batch reads of at most 100.
    assert requests.count("POST /crm/v4/associations/companies/contacts/batch/read") == 3
    assert requests.count("POST /crm/v3/objects/contacts/batch/read") == math.ceil(WHALE_CONTACTS / 100)


def test_a_company_crmgraph_cannot_read_fails_its_own_key_only(scratch: str) -> None:
    results, _ = run_scratch(scratch, lambda a: a.fetch("party", ["1", "2", "3", "4", UNKNOWN]))
    whale, nameless, unnamed, bad_stamp, unknown = results
    assert isinstance(whale, PartyRecord) and whale.country is None  # a country outside the table
    assert isinstance(nameless, PartyRecord)
    assert (nameless.name, nameless.country) == ("nameless.test", "GB")
    assert isinstance(unnamed, UpstreamBadResponse) and "company 3: it has neither a name nor a domain" in str(unnamed)
    assert isinstance(bad_stamp, UpstreamBadResponse) and "createdAt 'yesterday'" in str(bad_stamp)
    assert unknown is None


def test_a_contact_without_a_name_is_named_by_email_and_one_with_neither_fails_its_company(
    scratch: str,
) -> None:
    results, _ = run_scratch(scratch, lambda a: a.fetch("person", ["5001", "5002"]))
    lee, nobody = results
    assert isinstance(lee, PersonRecord)
    assert (lee.name, lee.email, lee.party_id) == ("Lee@Example.TEST", "Lee@Example.TEST", "5")
    assert isinstance(nobody, UpstreamBadResponse) and nobody.source == SOURCE
    related, _ = run_scratch(scratch, lambda a: a.fetch_related("person", "party", ["5", "2"]))
    assert isinstance(related[0], UpstreamBadResponse)  # half a contact list would mislead
    assert related[1] == []


@pytest.mark.parametrize(("currency", "amount"), [(None, None), ("USD", Money(Decimal("12.50"), "USD"))])
def test_a_deal_without_a_currency_takes_the_configured_one(
    scratch: str, currency: str | None, amount: Money | None
) -> None:
    settings = {"currency": currency} if currency else {}
    results, _ = run_scratch(scratch, lambda a: a.fetch("deal", ["10", "11", "12", "13"]), **settings)
    no_currency, lots, no_stage, two_companies = results
    if amount is None:
        assert isinstance(no_currency, UpstreamBadResponse) and "`currency`" in str(no_currency)
    else:
        assert isinstance(no_currency, DealRecord) and no_currency.amount == amount
        assert no_currency.stage is DealStage.WON and no_currency.party_id is None
    assert isinstance(lots, UpstreamBadResponse) and "amount 'lots'" in str(lots)
    assert isinstance(no_stage, UpstreamBadResponse) and "dealstage is missing" in str(no_stage)
    assert isinstance(two_companies, DealRecord)
    # The company marked primary, although HubSpot lists company 1 first; a custom stage is open.
    assert (two_companies.party_id, two_companies.stage, two_companies.amount) == ("4", DealStage.OPEN, None)
    assert two_companies.close_date == datetime(2024, 6, 30, tzinfo=UTC)


def test_an_engagement_without_a_timestamp_fails_its_own_key(scratch: str) -> None:
    results, _ = run_scratch(scratch, lambda a: a.fetch("interaction", ["calls:20", "calls:21"]))
    no_time, epoch = results
    assert isinstance(no_time, UpstreamBadResponse) and "hs_timestamp is missing" in str(no_time)
    assert epoch == InteractionRecord(
        SOURCE, "calls:21", kind=InteractionKind.CALL, occurred_at=datetime(2024, 6, 1, tzinfo=UTC), title=None,
        body="  spaced  ", direction=None, party_id="1",
    )  # fmt: skip


def test_a_scan_leaves_out_what_it_cannot_read_and_says_so(scratch: str, caplog: pytest.LogCaptureFixture) -> None:
    page, _ = run_scratch(scratch, lambda a: a.scan("party", None, size=100))
    assert [record.source_id for record in page.records] == ["1", "2", "5"]
    assert page.next_cursor is None
    assert [r.getMessage() for r in caplog.records if "left out" in r.getMessage()] == [
        "crm: scan party left out a record: crm: unexpected answer: company 3: it has neither a name nor a domain",
        "crm: scan party left out a record: crm: unexpected answer: company 4: createdAt 'yesterday' is not an "
        "instant (ISO 8601 with a zone, a date, or epoch ms)",
    ]


@pytest.mark.parametrize("inline", [100, 1], ids=["listed", "cut short"])
def test_a_scanned_contact_belongs_to_its_primary_company_however_its_companies_are_listed(
    scratch: str, inline: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Contact 5003 is with companies 1 and 4, 4 marked primary. The list names 4 twice (primary and plain);
    when it lists fewer companies than the contact has, the v4 associations API reads them all."""
    monkeypatch.setattr(crm_api, "INLINE_ASSOCIATIONS", inline)

    async def scan_all(adapter: HubSpotAdapter) -> list[Record]:
        records: list[Record] = []
        cursor: str | None = None
        while True:
            page = await adapter.scan("person", cursor, size=100)
            records += page.records
            if page.next_cursor is None:
                return records
            cursor = page.next_cursor

    records, log = run_scratch(scratch, scan_all)
    found = {record.source_id: record for record in records if isinstance(record, PersonRecord)}
    assert (found["5003"].name, found["5003"].party_id) == ("Two Companies", "4")
    assert (found["5001"].party_id, found["1"].party_id) == ("5", None)
    associations_reads = [call for call in log.calls if "/associations/" in call.request]
    assert len(associations_reads) == (0 if inline == 100 else 1)


# --- mapping helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "name"),
    [("海燕", "黄", "黄海燕"), ("Ada", "Lovelace", "Ada Lovelace"), ("Ada", "黄", "Ada 黄"), (None, "黄", "黄"),
     ("Ada", None, "Ada"), (None, None, None)],
)  # fmt: skip
def test_a_person_is_named_as_their_culture_writes_names(first: str | None, last: str | None, name: str | None) -> None:
    assert person_name(first, last) == name


@pytest.mark.parametrize(
    ("text", "moment"),
    [("2024-03-05T10:15:00.000Z", datetime(2024, 3, 5, 10, 15, tzinfo=UTC)),
     ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)), ("1709633700000", datetime(2024, 3, 5, 10, 15, tzinfo=UTC)),
     ("2024-03-05T10:15:00", None), ("soon", None), ("99999999999999999", None)],
)  # fmt: skip
def test_instants_are_read_with_their_zone_or_not_at_all(text: str, moment: datetime | None) -> None:
    assert parse_instant(text) == moment


# --- the shared contract ----------------------------------------------------------------------------


class TestTheHubSpotAdapterPassesTheContractSuite(AdapterContract):
    @pytest.fixture
    def make_adapter(self, estate: Estate) -> Callable[[], HubSpotAdapter]:
        return adapter_for(estate)

    @pytest.fixture
    def make_unreachable_adapter(self) -> Callable[[], HubSpotAdapter]:
        return lambda: HubSpotAdapter(SOURCE, {"url": "http://127.0.0.1:9", "token": "t"})

    @pytest.fixture
    def contract_samples(self, db: sqlite3.Connection) -> ContractSamples:
        def first(object_type: str, count: int = 5) -> list[str]:
            return list(stored(db, object_type))[:count]

        companies = first("companies", 20)
        owners = [str(row[0]) for row in db.execute("SELECT id FROM owners ORDER BY id LIMIT 3")]
        return ContractSamples(
            known_ids={"party": companies, "person": first("contacts"), "deal": first("deals"),
                       "interaction": [f"calls:{oid}" for oid in first("calls")], "owner": owners},
            related_keys={(entity, "party"): companies for entity in ("person", "deal", "interaction")},
            # Shaped like an interaction id, so that unknown interactions too are asked of HubSpot.
            unknown_key=f"calls:{UNKNOWN}",
            scan_totals={"party": len(stored(db, "companies")), "person": len(stored(db, "contacts"))},
        )  # fmt: skip
