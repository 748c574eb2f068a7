"""Linking runs and steward decisions in the identity store, on SQLite and PostgreSQL.

The records are the demo estate's, read once through the adapters; each test links them into a fresh store,
makes its decisions, and links again: decisions survive every re-link, golden ids stay put, and a merged
id keeps resolving to its survivor.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from crmgraph.identity import decisions as steward
from crmgraph.identity.engine import resolve
from crmgraph.identity.incremental import Changed, NeedsFullRun, load, relink_changes, resolve_changes
from crmgraph.identity.linker import LinkReport, link, link_changes, scan_sources, write_run
from crmgraph.identity.profiles import SourceRecord
from crmgraph.identity.settings import IdentityConfig
from crmgraph.identity.stewardship import StewardError, Stewardship
from crmgraph.identity.store import IdentityStore, Link
from crmgraph.identity.tables import links, metadata, person_links, persons
from crmgraph.records import PartyRecord, PersonRecord
from crmgraph.sources import OpenSources
from tests.conftest import Estate, database_named
from tests.facade import facade_config

Records = tuple[dict[SourceRecord, PartyRecord], dict[SourceRecord, PersonRecord]]
OWN_DATABASE = "crmgraph_test_identity"


@pytest.fixture(scope="module")
def records(running_estate: Estate) -> Records:
    config = facade_config(running_estate.crm_url, running_estate.tickets_url, running_estate.layout.erp_url, "")

    async def scan() -> Records:
        async with OpenSources(config) as adapters:
            return await scan_sources(adapters, LinkReport())

    return asyncio.run(scan())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('identity') / 'identity.sqlite'}"
    else:
        url = database_named(request.getfixturevalue("postgres_url"), OWN_DATABASE)
    found = IdentityStore(url)
    metadata.drop_all(found.engine)
    found.create()
    yield found
    found.close()


def relink(store: IdentityStore, records: Records, config: IdentityConfig | None = None) -> LinkReport:
    parties, persons = records
    report = LinkReport()
    resolution = resolve(parties, persons, config or IdentityConfig(), steward.standing_from(store))
    write_run(store, resolution, report)
    return report


# Thresholds that send many pairs to review, so that there are candidates to decide on whatever the seed.
DOUBTFUL = IdentityConfig.model_validate(
    {"companies": {"thresholds": {"link": 0.999999999, "review": 0.01, "sole": None}}}
)


def _customers(store: IdentityStore) -> dict[SourceRecord, int]:
    return store.golden_of_records()[0]


def _multi_record_customer(store: IdentityStore) -> tuple[int, list[SourceRecord]]:
    members: dict[int, list[SourceRecord]] = {}
    for record, customer in sorted(_customers(store).items()):
        members.setdefault(customer, []).append(record)
    return next((cid, found) for cid, found in sorted(members.items()) if len({r[0] for r in found}) >= 3)


def test_a_re_link_without_changes_keeps_every_id_and_writes_nothing(store: IdentityStore, records: Records) -> None:
    first = relink(store, records)
    before = store.golden_of_records()
    assert first.companies.links_written == len(records[0]) and first.companies.golden < len(records[0])
    again = relink(store, records)
    assert store.golden_of_records() == before
    assert again.companies.links_written == 0 and again.persons.links_written == 0
    assert again.companies.new == 0 and again.persons.new == 0


def test_people_belong_to_golden_persons_under_their_customer(store: IdentityStore, records: Records) -> None:
    relink(store, records)
    _, persons = store.golden_of_records()
    sizes = Counter(Counter(persons.values()).values())
    assert sizes[2] > 0, "some people are known to the CRM and the ticket system both"
    links = asyncio.run(store.links_of(list(range(1, 40))))
    people = [link for found in links.values() for link in found if link.entity == "person"]
    assert people and all(link.person_id is not None for link in people)


def test_links_of_reads_every_column_into_its_field_in_a_stable_order(store: IdentityStore, records: Records) -> None:
    """Rows become links by position: each field must hold its own column, whatever the statement's layout."""
    relink(store, records)
    ids = list(range(1, 40))
    with store.engine.connect() as conn:
        own = conn.execute(select(links).where(links.c.customer_id.in_(ids))).mappings().all()
        people = conn.execute(
            select(persons.c.customer_id, person_links).join(persons, persons.c.id == person_links.c.person_id)
            .where(persons.c.customer_id.in_(ids))
        ).mappings().all()  # fmt: skip
    expected = [
        Link(r["customer_id"], r["source"], r["entity"], r["source_id"], r["rule"], r["confidence"]) for r in own
    ] + [
        Link(r["customer_id"], r["source"], "person", r["source_id"], r["rule"], r["confidence"], r["person_id"])
        for r in people
    ]
    found = asyncio.run(store.links_of(ids))
    assert {customer: sorted(found_links, key=repr) for customer, found_links in found.items()} == {
        customer: sorted((link for link in expected if link.customer_id == customer), key=repr)
        for customer in {link.customer_id for link in expected}
    }
    for found_links in found.values():
        order = [(link.customer_id, link.entity, link.source, link.source_id) for link in found_links]
        assert order == sorted(order)


def test_an_unlinked_record_is_never_linked_back_by_the_matcher(store: IdentityStore, records: Records) -> None:
    relink(store, records)
    customer, members = _multi_record_customer(store)
    record = members[-1]
    new = Stewardship(store).unlink(record, "steward@example.com", "a different branch")
    assert _customers(store)[record] == new != customer
    relink(store, records)
    after = _customers(store)
    assert after[record] != after[members[0]], "the steward's unlink holds"
    assert after[members[0]] == customer


def test_a_stewards_link_is_never_undone(store: IdentityStore, records: Records) -> None:
    relink(store, records)
    customers = _customers(store)
    first, second = sorted(set(customers.values()))[:2]
    record = next(r for r, c in sorted(customers.items()) if c == second)
    Stewardship(store).link(first, [record], "steward@example.com", "same company, new tax id")
    relink(store, records)
    after = _customers(store)
    assert after[record] == after[next(r for r, c in sorted(customers.items()) if c == first)]


def test_a_merged_id_still_resolves_to_its_survivor_after_re_links(store: IdentityStore, records: Records) -> None:
    relink(store, records)
    customers = sorted(set(_customers(store).values()))
    survivor, absorbed = customers[3], customers[4]
    assert Stewardship(store).merge(survivor, [absorbed], "steward@example.com", "one company") == survivor
    assert asyncio.run(store.survivors("customer", [absorbed])) == {absorbed: survivor}
    assert absorbed not in set(_customers(store).values())
    relink(store, records)
    relink(store, records)
    assert asyncio.run(store.survivors("customer", [absorbed])) == {absorbed: survivor}
    assert absorbed not in set(_customers(store).values()), "a merged id is never handed out again"
    # Merging the survivor in turn: the old alias follows to the new survivor.
    Stewardship(store).merge(customers[2], [survivor], "steward@example.com", "also the same")
    assert asyncio.run(store.survivors("customer", [absorbed, survivor])) == {
        absorbed: customers[2],
        survivor: customers[2],
    }


def test_a_split_keeps_the_parts_apart(store: IdentityStore, records: Records) -> None:
    relink(store, records)
    customer, members = _multi_record_customer(store)
    new = Stewardship(store).split(customer, members[:1], "steward@example.com", "two companies")
    relink(store, records)
    after = _customers(store)
    assert after[members[0]] != after[members[1]] and after[members[0]] == new


def test_decisions_on_review_candidates_are_kept(store: IdentityStore, records: Records) -> None:
    relink(store, records, DOUBTFUL)
    stewardship = Stewardship(store)
    candidates, _ = stewardship.candidates("company", 10, None)
    assert len(candidates) >= 2
    accepted, rejected = candidates[0], candidates[1]
    stewardship.accept(accepted.id, "steward@example.com", "checked the register")
    stewardship.reject(rejected.id, "steward@example.com", "different companies")
    relink(store, records, DOUBTFUL)
    after = _customers(store)
    assert after[accepted.left] == after[accepted.right]
    assert after[rejected.left] != after[rejected.right]
    remaining = {(c.left, c.right) for c in stewardship.candidates("company", 1000, None)[0]}
    assert (accepted.left, accepted.right) not in remaining and (rejected.left, rejected.right) not in remaining


def test_steward_mistakes_name_the_input_at_fault_and_change_nothing(store: IdentityStore, records: Records) -> None:
    relink(store, records)
    before = store.golden_of_records()
    stewardship = Stewardship(store)
    with pytest.raises(StewardError) as caught:
        stewardship.link(999_999, [("crm", "1")], "s", "r")
    assert caught.value.field == "customerId" and caught.value.code == "NOT_FOUND"
    customer = min(set(before[0].values()))
    with pytest.raises(StewardError) as caught:
        stewardship.link(customer, [next(iter(before[0])), ("crm", "no-such-record")], "s", "r")
    assert caught.value.field == "records.1"
    with pytest.raises(StewardError) as caught:
        stewardship.merge(customer, [customer], "s", "r")
    assert caught.value.field == "absorbedIds"
    with pytest.raises(StewardError):
        stewardship.reject(123_456, "s", "r")
    assert store.golden_of_records() == before


def _partition(store: IdentityStore) -> set[frozenset[SourceRecord]]:
    groups: dict[int, set[SourceRecord]] = {}
    for record, customer in _customers(store).items():
        groups.setdefault(customer, set()).add(record)
    return {frozenset(members) for members in groups.values()}


def test_an_incremental_run_compares_only_pairs_with_a_changed_record(
    store: IdentityStore, records: Records, tmp_path: Path
) -> None:
    parties, persons = records
    # Records the sources "create" after the first run: every tenth party, with the people filed under them.
    late = {key for n, key in enumerate(sorted(parties)) if n % 10 == 3}
    early_parties = {k: r for k, r in parties.items() if k not in late}
    early_persons = {k: r for k, r in persons.items() if (r.source, r.party_id) not in late}
    relink(store, (early_parties, early_persons))
    changes = Changed({k: parties[k] for k in late}, {k: r for k, r in persons.items() if k not in early_persons})
    stored = load(store)
    resolution, changed = resolve_changes(stored, changes, IdentityConfig(), steward.standing_from(store))
    compared = {resolution.companies.profiles[int(i)].key for pair in resolution.companies.pairs for i in pair}
    every_pair_touches_a_change = all(
        resolution.companies.profiles[int(i)].key in changed or resolution.companies.profiles[int(j)].key in changed
        for i, j in resolution.companies.pairs
    )
    assert every_pair_touches_a_change and late <= changed and compared
    report = relink_changes(store, IdentityConfig(), changes)
    assert report.companies.links_written >= len(late)
    incremental = _partition(store)
    # The same records linked in one full run: the new records land where a full run puts them.
    full_store = IdentityStore(f"sqlite:///{tmp_path / 'full.sqlite'}")
    full_store.create()
    relink(full_store, records)
    full = _partition(full_store)
    full_store.close()
    placed_alike = [k for k in late if next(g for g in incremental if k in g) == next(g for g in full if k in g)]
    assert len(placed_alike) >= 0.95 * len(late), (len(placed_alike), len(late))


def test_an_incremental_run_without_changes_moves_nothing(store: IdentityStore, records: Records) -> None:
    relink(store, records)
    before = store.golden_of_records()
    report = relink_changes(store, IdentityConfig(), Changed({}, {}))
    assert report.companies.links_written == 0 and report.persons.links_written == 0 and report.changed == 0
    assert store.golden_of_records() == before


def test_an_incremental_run_needs_a_full_run_first(store: IdentityStore) -> None:
    with pytest.raises(NeedsFullRun, match="full `crmgraph link`"):
        relink_changes(store, IdentityConfig(), Changed({}, {}))


def test_a_re_link_of_changes_reads_no_record_and_compares_nothing_when_nothing_changed(
    running_estate: Estate, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'identity.sqlite'}"
    config = facade_config(running_estate.crm_url, running_estate.tickets_url, running_estate.layout.erp_url, url)
    store = IdentityStore(url)
    store.create()

    async def run(incremental: bool) -> LinkReport:
        async with OpenSources(config) as adapters:
            if incremental:
                return await link_changes(store, adapters, config.identity)
            return await link(store, adapters, config.identity)

    try:
        with pytest.raises(NeedsFullRun):
            asyncio.run(run(incremental=True))
        full = asyncio.run(run(incremental=False))
        before = store.golden_of_records()
        again = asyncio.run(run(incremental=True))
        assert full.changed is None and again.changed == 0
        assert again.companies.links_written == 0 and again.persons.links_written == 0
        # Every source offers change feeds, and none has a change since the full run.
        assert sum(again.scanned.values()) == 0 and sum(full.scanned.values()) > 0 and again.read_whole == set()
        assert store.golden_of_records() == before
    finally:
        store.close()


def test_customers_are_found_by_any_part_of_a_name_tax_id_or_domain_whatever_the_case(
    store: IdentityStore, records: Records
) -> None:
    relink(store, records)
    parties, _ = records
    customers = _customers(store)
    record = next(r for r in parties.values() if r.tax_id and r.domain)
    customer = customers[(record.source, record.source_id)]
    for term in (record.tax_id.lower(), record.tax_id.upper(), record.domain.upper(), record.name.split()[0].upper()):
        found, _ = asyncio.run(store.page(after=customer - 1, first=1, search=term))
        assert found == [customer], term
