"""The golden record and stewardship in the graph: survivorship with provenance, contacts once per person,
merged ids that keep resolving, the review queue, and the steward mutations with their user errors.

Mutations run against an identity store of their own (a copy of the session's linked store), so that the
other tests keep reading the store as ``crmgraph link`` wrote it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from crmgraph.identity.linker import LinkReport, scan_sources
from crmgraph.identity.profiles import SourceRecord
from crmgraph.identity.store import Link, normalize
from crmgraph.records import PartyRecord, PersonRecord
from crmgraph.resolvers.loaders import Loaders
from crmgraph.resolvers.people import group
from crmgraph.resolvers.survivorship import decide
from crmgraph.schema.ids import encode_id
from crmgraph.sources import OpenSources
from tests.conftest import Estate
from tests.facade import Facade, facade_config, serve_facade
from tests.test_graph import LINK_RULES, _active_everywhere

SOURCES = ("crm", "erp", "tickets")  # the configured order
GRAPH_NAMES = {
    "name": "name", "tax_id": "taxId", "domain": "domain", "email": "email", "phone": "phone",
    "country": "country", "city": "city", "industry": "industry", "lifecycle_stage": "lifecycleStage",
}  # fmt: skip
ACTOR = {"X-Crmgraph-Actor": "anna.steward@example.test"}


def _path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _rows(url: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(_path(url)) as conn:
        return conn.execute(sql, args).fetchall()


def _customer_id(customer: int) -> str:
    return encode_id("Customer", str(customer))


def _records_by_customer(url: str) -> dict[int, list[SourceRecord]]:
    found: dict[int, list[SourceRecord]] = {}
    for customer, source, source_id in _rows(
        url, "SELECT customer_id, source, source_id FROM crmgraph_links ORDER BY customer_id, source, source_id"
    ):
        found.setdefault(customer, []).append((source, source_id))
    return found


def _record_input(record: SourceRecord) -> dict[str, str]:
    return {"system": record[0], "recordId": record[1]}


def _sources(customer: dict[str, Any]) -> set[SourceRecord]:
    return {(s["system"], s["recordId"]) for s in customer["sources"]}


@pytest.fixture(scope="module")
def parties(running_estate: Estate) -> dict[SourceRecord, PartyRecord]:
    """Every party record of the estate, read through the adapters."""
    config = facade_config(running_estate.crm_url, running_estate.tickets_url, running_estate.layout.erp_url, "")

    async def scan() -> dict[SourceRecord, PartyRecord]:
        async with OpenSources(config) as adapters:
            found, _ = await scan_sources(adapters, LinkReport())
            return found

    return asyncio.run(scan())


def _copy_of(url: str, folder: Path) -> str:
    """A copy of an SQLite identity store that a test may change; its URL."""
    copy = folder / "identity.sqlite"
    shutil.copy(_path(url), copy)
    return f"sqlite:///{copy}"


def _serving(estate: Estate, identity_url: str) -> Iterator[Facade]:
    with serve_facade(
        facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, identity_url)
    ) as running:
        yield running


@pytest.fixture
def own_store(linked_identity: str, tmp_path: Path) -> str:
    """A copy of the linked identity store that a test may change; its URL."""
    return _copy_of(linked_identity, tmp_path)


@pytest.fixture
def steward(estate: Estate, own_store: str) -> Iterator[Facade]:
    """The facade on a store of the test's own."""
    yield from _serving(estate, own_store)


# Thresholds that send every pair not certain either way to the review queue: the queue then holds company
# and person candidates whatever the seed (the session's store, linked as shipped, may hold none).
DOUBTFUL = {"link": 0.999999999999, "review": 0.001, "sole": None}


@pytest.fixture(scope="module")
def doubtful_identity(running_estate: Estate, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An identity store linked from the running estate with :data:`DOUBTFUL` thresholds; its URL."""
    from crmgraph.identity.linker import link
    from crmgraph.identity.store import IdentityStore

    url = f"sqlite:///{tmp_path_factory.mktemp('doubtful') / 'identity.sqlite'}"
    config = facade_config(running_estate.crm_url, running_estate.tickets_url, running_estate.layout.erp_url, url)
    identity = config.identity.model_validate(
        config.identity.model_dump() | {"companies": {"thresholds": DOUBTFUL}, "persons": {"thresholds": DOUBTFUL}}
    )

    async def run() -> None:
        store = IdentityStore(url)
        store.create()
        async with OpenSources(config) as adapters:
            await link(store, adapters, identity)
        store.close()

    asyncio.run(run())
    return url


@pytest.fixture
def reviewer(estate: Estate, doubtful_identity: str) -> Iterator[Facade]:
    """The facade on the store linked with doubtful thresholds (read only)."""
    yield from _serving(estate, doubtful_identity)


@pytest.fixture
def review_store(doubtful_identity: str, tmp_path: Path) -> str:
    """A copy of the doubtfully linked store that a test may change; its URL."""
    return _copy_of(doubtful_identity, tmp_path)


@pytest.fixture
def review_steward(estate: Estate, review_store: str) -> Iterator[Facade]:
    yield from _serving(estate, review_store)


# --- the golden record ------------------------------------------------------------------------------


def test_provenance_names_the_system_record_rule_and_freshness_of_every_golden_field(
    facade: Facade, estate: Estate, linked_identity: str, parties: dict[SourceRecord, PartyRecord]
) -> None:
    customer_id = _active_everywhere(estate, linked_identity)
    fields = " ".join(GRAPH_NAMES.values())
    result = facade.query(
        f"""query($id: ID!) {{ customer(id: $id) {{ {fields} sources {{ system recordId linkedBy confidence }}
             provenance {{ field value rule updatedAt source {{ system recordId linkedBy confidence }} }} }} }}""",
        {"id": _customer_id(customer_id)},
    )
    assert "errors" not in result, result.get("errors")
    customer = result["data"]["customer"]
    provenance = {entry["field"]: entry for entry in customer["provenance"]}
    assert set(provenance) == {name for name in GRAPH_NAMES.values() if customer[name] is not None}
    links = {(s["system"], s["recordId"]): s for s in customer["sources"]}
    own = [parties[record] for record in sorted(links, key=lambda r: (SOURCES.index(r[0]), r[1]))]
    for attribute, name in GRAPH_NAMES.items():
        if name not in provenance:
            continue
        entry = provenance[name]
        record = (entry["source"]["system"], entry["source"]["recordId"])
        assert entry["value"] == customer[name]
        assert entry["source"] == links[record], "the supplying record is one of the customer's, linked as shown"
        assert entry["rule"] == "SOURCE_PRIORITY"
        first_with_value = next(p for p in own if getattr(p, attribute))
        assert record == (first_with_value.source, first_with_value.source_id)
        changed = parties[record].updated_at or parties[record].created_at
        assert entry["updatedAt"] is not None and changed is not None
        assert datetime.fromisoformat(entry["updatedAt"]) == changed


@dataclass(frozen=True)
class Disagreement:
    """A field on which a customer's three records disagree: two agree, the newest says something else."""

    customer: int
    field: str
    records: list[PartyRecord]  # in configured source order, each with a value
    odd: PartyRecord  # the newest record, whose value the other two do not share


def _stamp(record: PartyRecord) -> datetime:
    at = record.updated_at or record.created_at
    assert at is not None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def disagreement(linked_identity: str, parties: dict[SourceRecord, PartyRecord]) -> Disagreement:
    for customer, records in _records_by_customer(linked_identity).items():
        if sorted(source for source, _ in records) != list(SOURCES):
            continue
        own = sorted((parties[r] for r in records), key=lambda p: SOURCES.index(p.source))
        for field in GRAPH_NAMES:
            values = [getattr(p, field) for p in own]
            if not all(values) or len({_stamp(p) for p in own}) != 3:
                continue
            counts = Counter(normalize(v) for v in values)
            newest = max(own, key=_stamp)
            if sorted(counts.values()) == [1, 2] and counts[normalize(getattr(newest, field))] == 1:
                return Disagreement(customer, field, own, newest)
    pytest.fail("the seeded estate should have a customer whose newest record disagrees with the other two")


def _expected_by_priority(d: Disagreement, order: list[str]) -> PartyRecord:
    return min(d.records, key=lambda p: order.index(p.source))


def _expected_by_frequency(d: Disagreement, order: list[str]) -> PartyRecord:
    agreeing = [p for p in d.records if p is not d.odd]
    return min(agreeing, key=lambda p: order.index(p.source))


@pytest.mark.parametrize(
    ("rules", "rule", "expected"),
    [
        (lambda d: {}, "SOURCE_PRIORITY", lambda d: _expected_by_priority(d, list(SOURCES))),
        (
            lambda d: {"source_priority": ["tickets", "erp", "crm"]},
            "SOURCE_PRIORITY",
            lambda d: _expected_by_priority(d, ["tickets", "erp", "crm"]),
        ),
        (lambda d: {"fields": {d.field: ["most_recent"]}}, "MOST_RECENT", lambda d: d.odd),
        (
            # The newest record's system is trusted most, yet the value two records agree on wins.
            lambda d: {"source_priority": [d.odd.source], "fields": {d.field: ["most_frequent", "source_priority"]}},
            "MOST_FREQUENT",
            lambda d: _expected_by_frequency(d, [d.odd.source, *(s for s in SOURCES if s != d.odd.source)]),
        ),
        (
            lambda d: {"source_priority": ["tickets"], "fields": {d.field: ["non_empty"]}},
            "NON_EMPTY",
            lambda d: d.records[0],
        ),
    ],
    ids=["source_priority", "source_priority_configured", "most_recent", "most_frequent", "non_empty"],
)
def test_each_survivorship_rule_picks_its_record_on_a_customer_whose_records_disagree(
    estate: Estate,
    linked_identity: str,
    disagreement: Disagreement,
    rules: Callable[[Disagreement], dict[str, Any]],
    rule: str,
    expected: Callable[[Disagreement], PartyRecord],
) -> None:
    config = facade_config(
        estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity, survivorship=rules(disagreement)
    )
    name = GRAPH_NAMES[disagreement.field]
    with serve_facade(config) as facade:
        result = facade.query(
            f"""query($id: ID!) {{ customer(id: $id) {{ {name}
                 provenance {{ field value rule source {{ system recordId }} }} }} }}""",
            {"id": _customer_id(disagreement.customer)},
        )
    assert "errors" not in result, result.get("errors")
    customer = result["data"]["customer"]
    winner = expected(disagreement)
    assert customer[name] == getattr(winner, disagreement.field)
    (entry,) = [entry for entry in customer["provenance"] if entry["field"] == name]
    assert (entry["source"]["system"], entry["source"]["recordId"], entry["rule"]) == (
        winner.source, winner.source_id, rule,
    )  # fmt: skip


def _party(source: str, value: str | None, at: datetime | None = None) -> PartyRecord:
    return PartyRecord(source=source, source_id=f"{source}-1", name="x", phone=value, updated_at=at)


def _rule(records: list[PartyRecord], rules: tuple[str, ...]) -> str:
    survived = decide("phone", records, rules, list(SOURCES))
    assert survived is not None
    return survived.rule


def test_a_rule_that_cannot_decide_leaves_the_field_to_the_next_and_a_tie_to_source_priority() -> None:
    order = list(SOURCES)
    tie = [_party("crm", "+1 555"), _party("erp", "+1 666")]
    # most_frequent: one each, a tie; most_recent: no times; so source_priority decides.
    assert _rule(tie, ("most_frequent", "most_recent")) == "source_priority"
    assert _rule(tie, ("most_frequent", "non_empty")) == "non_empty"
    # Blank values take no part; equal values differing in case and spacing count as one.
    three = [_party("crm", "  "), _party("erp", "ACME  Ltd"), _party("tickets", "acme ltd")]
    survived = decide("phone", three, ("most_frequent",), ["tickets", "erp", "crm"])
    assert survived is not None and (survived.record.source, survived.rule) == ("tickets", "most_frequent")
    # A time without a zone is read as UTC, and compares with one that has it.
    naive, aware = datetime(2025, 1, 2), datetime(2025, 1, 1, tzinfo=UTC)
    newest = decide("phone", [_party("crm", "1", aware), _party("erp", "2", naive)], ("most_recent",), order)
    assert newest is not None and newest.record.source == "erp"
    # Two records changed at the same moment that disagree: most_recent cannot decide.
    same = [_party("crm", "1", aware), _party("erp", "2", aware)]
    assert _rule(same, ("most_recent",)) == "source_priority"
    assert decide("phone", [_party("crm", None)], ("source_priority",), order) is None


# --- contacts, once per person ----------------------------------------------------------------------


def _person_groups(url: str) -> dict[int, tuple[int | None, list[SourceRecord]]]:
    found: dict[int, tuple[int | None, list[SourceRecord]]] = {}
    for person, customer, source, source_id in _rows(
        url,
        "SELECT l.person_id, p.customer_id, l.source, l.source_id FROM crmgraph_person_links l"
        " JOIN crmgraph_persons p ON p.id = l.person_id ORDER BY l.person_id, l.source, l.source_id",
    ):
        found.setdefault(person, (customer, []))[1].append((source, source_id))
    return found


CONTACTS = """query($id: ID!) { customer(id: $id) { contacts(first: 200) { totalCount nodes {
  id name source { system recordId } sources { system recordId linkedBy confidence } } } } }"""


@pytest.mark.parametrize("other", ["tickets", "erp"])
def test_a_person_with_records_in_two_systems_is_one_contact_listing_both(
    facade: Facade, linked_identity: str, other: str
) -> None:
    candidates = [
        (customer, records)
        for customer, records in _person_groups(linked_identity).values()
        if customer is not None and {source for source, _ in records} == {"crm", other} and len(records) == 2
    ]
    assert candidates, f"the seeded estate should have people known to the CRM and to {other}"
    checked = 0
    for customer, records in candidates[:5]:
        result = facade.query(CONTACTS, {"id": _customer_id(customer)})
        assert "errors" not in result, result.get("errors")
        contacts = result["data"]["customer"]["contacts"]
        listed = [(c["source"]["system"], c["source"]["recordId"]) for c in contacts["nodes"]]
        crm = next(record for record in records if record[0] == "crm")
        if crm not in listed:
            continue  # the CRM files this contact under another company
        (contact,) = [c for c in contacts["nodes"] if (c["source"]["system"], c["source"]["recordId"]) == crm]
        assert contact["id"] == encode_id("Contact", *crm), "the id stays the primary record's"
        assert [(s["system"], s["recordId"]) for s in contact["sources"]] == records
        assert {s["linkedBy"] for s in contact["sources"]} <= set(LINK_RULES.values())
        assert all(0 < s["confidence"] <= 1 for s in contact["sources"])
        other_record = next(record for record in records if record[0] == other)
        assert other_record not in listed, "the other record is not a contact of its own"
        shown = [(s["system"], s["recordId"]) for c in contacts["nodes"] for s in c["sources"]]
        assert len(shown) == len(set(shown)), "no record belongs to two contacts"
        assert contacts["totalCount"] == len(contacts["nodes"])
        again = facade.query("query($id: ID!) { node(id: $id) { ... on Contact { sources { system recordId } } } }",
                             {"id": contact["id"]})  # fmt: skip
        assert [(s["system"], s["recordId"]) for s in again["data"]["node"]["sources"]] == records
        checked += 1
    assert checked, "at least one such person should be listed by the CRM under the customer"


def test_a_person_known_only_to_the_ticket_system_is_a_contact_and_every_golden_person_is_listed_once(
    facade: Facade, linked_identity: str
) -> None:
    groups = _person_groups(linked_identity)
    people_of: dict[int, dict[int, list[SourceRecord]]] = {}
    for person, (customer, records) in groups.items():
        if customer is not None:
            people_of.setdefault(customer, {})[person] = records
    only_tickets = [
        customer
        for customer, people in people_of.items()
        if any({source for source, _ in records} == {"tickets"} for records in people.values())
    ]
    assert only_tickets, "the seeded estate should have people known only to the ticket system"
    for customer in only_tickets[:5]:
        result = facade.query(CONTACTS, {"id": _customer_id(customer)})
        assert "errors" not in result, result.get("errors")
        contacts = result["data"]["customer"]["contacts"]
        assert contacts["totalCount"] == len(contacts["nodes"])
        person_of = {record: person for person, records in people_of[customer].items() for record in records}
        listed = [[person_of.get((s["system"], s["recordId"])) for s in c["sources"]] for c in contacts["nodes"]]
        golden = [persons[0] for persons in listed if persons[0] is not None]
        assert len(golden) == len(set(golden)), "each golden person is one contact"
        assert all(len(set(persons)) == 1 for persons in listed), "a contact's records are of one person"
        for person, records in people_of[customer].items():
            if any(source == "tickets" for source, _ in records):  # read by id: listed whatever the CRM files
                assert person in golden, f"golden person {person} ({records}) is not a contact"
            if {source for source, _ in records} == {"tickets"}:
                (contact,) = [c for c, persons in zip(contacts["nodes"], listed, strict=True) if persons[0] == person]
                assert contact["id"] == encode_id("Contact", *records[0]), "the id is the ticket user's"
                # The first record is the contact's source; a person who came in twice has a second one.
                assert [(contact["source"]["system"], contact["source"]["recordId"])] == records[:1]
                assert [(s["system"], s["recordId"]) for s in contact["sources"]] == records


def _person(source: str, source_id: str, name: str) -> PersonRecord:
    return PersonRecord(source=source, source_id=source_id, name=name)


def test_records_of_one_golden_person_group_under_the_first_system_and_unlinked_ones_stay_apart() -> None:
    loaders = cast(Loaders, SimpleNamespace(adapters=dict.fromkeys(SOURCES)))
    people = [_person("erp", "7", "Ann Lee"), _person("crm", "1", "Ann Lee"), _person("crm", "2", "Bo Ng")]
    links = [
        Link(customer_id=1, source="erp", entity="person", source_id="7", rule="model", confidence=0.99, person_id=5),
        Link(customer_id=1, source="crm", entity="person", source_id="1", rule="model", confidence=0.99, person_id=5),
        Link(customer_id=1, source="tickets", entity="person", source_id="9", rule="xref", confidence=1, person_id=5),
        Link(customer_id=1, source="crm", entity="party", source_id="c1", rule="self", confidence=1),
    ]
    grouped = group(loaders, people, links)
    assert [(p.primary.source_id, [r.source_id for r in p.records]) for p in grouped] == [
        ("1", ["1", "7"]),
        ("2", ["2"]),
    ]
    assert [(link.source, link.source_id) for link in grouped[0].links] == [
        ("crm", "1"),
        ("erp", "7"),
        ("tickets", "9"),
    ]
    assert grouped[1].links == []


# --- merged ids ---------------------------------------------------------------------------------------

MERGE = """mutation($input: CustomerMergeInput!) { customerMerge(input: $input) {
  customer { id sources { system recordId linkedBy confidence } } absorbedIds userErrors { field message code } } }"""


def test_a_merged_customer_id_resolves_to_the_survivor_through_node_and_customer(
    steward: Facade, own_store: str
) -> None:
    records = _records_by_customer(own_store)
    survivor, absorbed = sorted(records)[:2]
    result = steward.query(
        MERGE,
        {"input": {"survivorId": _customer_id(survivor), "absorbedIds": [_customer_id(absorbed)], "reason": "dup"}},
        headers=ACTOR,
    )
    payload = result["data"]["customerMerge"]
    assert payload["userErrors"] == []
    assert payload["customer"]["id"] == _customer_id(survivor)
    assert payload["absorbedIds"] == [_customer_id(absorbed)]
    assert _sources(payload["customer"]) == set(records[survivor]) | set(records[absorbed])
    moved = [s for s in payload["customer"]["sources"] if (s["system"], s["recordId"]) in records[absorbed]]
    assert {(s["linkedBy"], s["confidence"]) for s in moved} == {("STEWARD", 1.0)}

    old = _customer_id(absorbed)
    via_node = steward.query("query($id: ID!) { node(id: $id) { id ... on Customer { name } } }", {"id": old})
    via_customer = steward.query("query($id: ID!) { customer(id: $id) { id name } }", {"id": old}, explain=True)
    assert via_node["data"]["node"]["id"] == via_customer["data"]["customer"]["id"] == _customer_id(survivor)
    assert via_customer["data"]["customer"]["name"]
    aliases = [c for c in via_customer["extensions"]["upstream"]["calls"] if c["request"] == "SELECT aliases"]
    assert len(aliases) == 1
    live = steward.query("query($id: ID!) { customer(id: $id) { id } }", {"id": _customer_id(survivor)}, explain=True)
    assert not [c for c in live["extensions"]["upstream"]["calls"] if c["request"] == "SELECT aliases"], (
        "a customer with links never pays for the alias look-up"
    )
    assert steward.query('{ node(id: "Q3VzdG9tZXI6OTk5OTk5") { id } }')["data"]["node"] is None  # Customer:999999
    (decision,) = _rows(own_store, "SELECT action, actor, reason FROM crmgraph_decisions")
    assert decision == ("merge", ACTOR["X-Crmgraph-Actor"], "dup")


# --- the other steward mutations ----------------------------------------------------------------------

LINK = """mutation($input: CustomerLinkInput!) { customerLink(input: $input) {
  customer { id sources { system recordId linkedBy confidence } } userErrors { field message code } } }"""
UNLINK = """mutation($input: CustomerUnlinkInput!) { customerUnlink(input: $input) {
  customer { id sources { system recordId linkedBy } } previousCustomer { id sources { system recordId } }
  userErrors { field message code } } }"""
SPLIT = """mutation($input: CustomerSplitInput!) { customerSplit(input: $input) {
  customer { id sources { system recordId } } newCustomer { id sources { system recordId linkedBy } }
  userErrors { field message code } } }"""
ACCEPT = """mutation($input: ReviewCandidateAcceptInput!) { reviewCandidateAccept(input: $input) {
  acceptedCandidateId customer { id sources { system recordId } } userErrors { field message code } } }"""
REJECT = """mutation($input: ReviewCandidateRejectInput!) { reviewCandidateReject(input: $input) {
  rejectedCandidateId userErrors { field message code } } }"""


def _single_and_multi(url: str) -> tuple[list[int], list[int]]:
    records = _records_by_customer(url)
    return [c for c, r in records.items() if len(r) == 1], [c for c, r in records.items() if len(r) >= 2]


def test_customer_link_moves_records_and_absorbs_the_customer_they_leave_empty(steward: Facade, own_store: str) -> None:
    single, _ = _single_and_multi(own_store)
    target, donor = single[0], single[1]
    (record,) = _records_by_customer(own_store)[donor]
    result = steward.query(
        LINK,
        {"input": {"customerId": _customer_id(target), "records": [_record_input(record)], "reason": "same VAT id"}},
        headers=ACTOR,
    )
    payload = result["data"]["customerLink"]
    assert payload["userErrors"] == []
    assert payload["customer"]["id"] == _customer_id(target)
    moved = {(s["system"], s["recordId"]): (s["linkedBy"], s["confidence"]) for s in payload["customer"]["sources"]}
    assert moved[record] == ("STEWARD", 1.0)
    emptied = steward.query("query($id: ID!) { customer(id: $id) { id } }", {"id": _customer_id(donor)})
    assert emptied["data"]["customer"]["id"] == _customer_id(target), "the emptied customer's id answers the target"
    (decision,) = _rows(own_store, "SELECT action, actor, reason FROM crmgraph_decisions")
    assert decision == ("link", ACTOR["X-Crmgraph-Actor"], "same VAT id")


def test_customer_unlink_gives_the_record_a_customer_of_its_own(steward: Facade, own_store: str) -> None:
    _, multi = _single_and_multi(own_store)
    customer = multi[0]
    records = _records_by_customer(own_store)[customer]
    record = records[-1]
    result = steward.query(UNLINK, {"input": {"record": _record_input(record), "reason": "another branch"}})
    payload = result["data"]["customerUnlink"]
    assert payload["userErrors"] == []
    assert [(s["system"], s["recordId"], s["linkedBy"]) for s in payload["customer"]["sources"]] == [
        (*record, "STEWARD")
    ]
    assert payload["customer"]["id"] != _customer_id(customer)
    assert payload["previousCustomer"]["id"] == _customer_id(customer)
    assert _sources(payload["previousCustomer"]) == set(records) - {record}
    (decision,) = _rows(own_store, "SELECT action, actor FROM crmgraph_decisions")
    assert decision == ("unlink", "anonymous"), "without the header the actor is anonymous"


def test_customer_split_moves_the_records_named_into_one_new_customer(steward: Facade, own_store: str) -> None:
    records = _records_by_customer(own_store)
    customer = next(c for c, r in records.items() if len(r) >= 3)
    leaving = records[customer][:2]
    result = steward.query(
        SPLIT,
        {"input": {"customerId": _customer_id(customer), "records": [_record_input(r) for r in leaving],
                   "reason": "two subsidiaries"}},
        headers=ACTOR,
    )  # fmt: skip
    payload = result["data"]["customerSplit"]
    assert payload["userErrors"] == []
    assert payload["customer"]["id"] == _customer_id(customer)
    assert _sources(payload["customer"]) == set(records[customer]) - set(leaving)
    assert _sources(payload["newCustomer"]) == set(leaving)
    assert {s["linkedBy"] for s in payload["newCustomer"]["sources"]} == {"STEWARD"}


# --- the review queue ---------------------------------------------------------------------------------

QUEUE = """query($first: Int!, $after: String, $kind: MatchKind) {
  reviewCandidates(first: $first, after: $after, kind: $kind) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id kind probability weight reason keptApartBy createdAt
      left { source { system recordId } party { name taxId domain email phone city country }
             person { name email phone jobTitle } customer { id } }
      right { source { system recordId } party { name } person { name } customer { id } }
      evidence { field grade weight left right } } } }"""


def _queue(facade: Facade, size: int, kind: str | None = None) -> tuple[list[dict[str, Any]], int]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        result = facade.query(QUEUE, {"first": size, "after": after, "kind": kind})
        assert "errors" not in result, result.get("errors")
        page = result["data"]["reviewCandidates"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, page["totalCount"]
        after = page["pageInfo"]["endCursor"]


def test_review_candidates_come_strongest_first_with_their_evidence_and_both_records(
    reviewer: Facade, doubtful_identity: str, parties: dict[SourceRecord, PartyRecord]
) -> None:
    facade = reviewer
    stored = {
        row[0]: row[1:]
        for row in _rows(
            doubtful_identity, "SELECT id, kind, left_source, left_id, right_source, right_id, weight, evidence "
            "FROM crmgraph_review"
        )
    }  # fmt: skip
    whole, total = _queue(facade, 200)
    assert total == len(whole) == len(stored) and {"COMPANY", "PERSON"} <= {n["kind"] for n in whole}
    assert _queue(facade, 7) == (whole, total), "page by page is the same list"
    keys = [(-n["weight"], n["id"]) for n in whole]
    assert [n["weight"] for n in whole] == sorted((n["weight"] for n in whole), reverse=True)
    assert len(set(keys)) == len(keys)
    for node in whole:
        kind, left_source, left_id, right_source, right_id, weight, evidence = stored[_decode_number(node["id"])]
        assert node["kind"] == kind.upper() and node["weight"] == weight
        assert node["evidence"] == json.loads(evidence)
        assert (node["left"]["source"]["system"], node["left"]["source"]["recordId"]) == (left_source, left_id)
        assert (node["right"]["source"]["system"], node["right"]["source"]["recordId"]) == (right_source, right_id)
        assert node["reason"] in {"SCORE", "DISTINCT_KEY", "STEWARD_DECISION", "CONSTRAINT"}
        assert datetime.fromisoformat(node["createdAt"]).tzinfo is not None
        if kind == "company":
            assert node["left"]["person"] is None
            assert node["left"]["party"]["name"] == parties[(left_source, left_id)].name, "read live"
            assert node["left"]["customer"]["id"] and node["right"]["party"]["name"]
        else:
            assert node["left"]["party"] is None and node["left"]["person"]["name"]
    persons, person_total = _queue(facade, 200, "PERSON")
    assert person_total == len(persons) == sum(1 for row in stored.values() if row[0] == "person")
    assert persons == [n for n in whole if n["kind"] == "PERSON"]
    again = facade.query("query($id: ID!) { node(id: $id) { id ... on ReviewCandidate { weight } } }",
                         {"id": whole[0]["id"]})  # fmt: skip
    assert again["data"]["node"] == {"id": whole[0]["id"], "weight": whole[0]["weight"]}


def test_a_failing_system_nulls_only_its_side_of_a_review_candidate(
    reviewer: Facade, estate: Estate, doubtful_identity: str
) -> None:
    facade = reviewer
    (number,), *_ = _rows(
        doubtful_identity,
        "SELECT id FROM crmgraph_review WHERE kind = 'company' AND left_source != 'tickets'"
        " AND right_source = 'tickets' ORDER BY id",
    )
    estate.faults("tickets", down=True)
    result = facade.query(
        "query($id: ID!) { node(id: $id) { ... on ReviewCandidate { weight evidence { field }"
        " left { party { name } } right { source { system } party { name } } } } }",
        {"id": encode_id("ReviewCandidate", str(number))},
    )
    candidate = result["data"]["node"]
    assert candidate["left"]["party"]["name"] and candidate["evidence"], "the other system and the store answer"
    assert candidate["right"] == {"source": {"system": "tickets"}, "party": None}
    (error,) = result["errors"]
    assert error["path"] == ["node", "right", "party"] and error["extensions"]["source"] == "tickets"


def _decode_number(global_id: str) -> int:
    return int(base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().split(":")[1])


def _first_candidate(url: str, kind: str) -> tuple[int, SourceRecord, SourceRecord]:
    row = _rows(
        url,
        "SELECT id, left_source, left_id, right_source, right_id FROM crmgraph_review WHERE kind = ?"
        " ORDER BY weight DESC, id LIMIT 1",
        kind,
    )[0]
    return row[0], (row[1], row[2]), (row[3], row[4])


def test_accepting_a_company_candidate_joins_its_records_and_takes_it_off_the_queue(
    review_steward: Facade, review_store: str
) -> None:
    steward, own_store = review_steward, review_store
    number, left, right = _first_candidate(own_store, "company")
    candidate = encode_id("ReviewCandidate", str(number))
    _, before = _queue(steward, 200)
    result = steward.query(ACCEPT, {"input": {"id": candidate, "reason": "same company"}}, headers=ACTOR)
    payload = result["data"]["reviewCandidateAccept"]
    assert payload["userErrors"] == [] and payload["acceptedCandidateId"] == candidate
    assert {left, right} <= _sources(payload["customer"])
    remaining, after = _queue(steward, 200)
    assert after == before - 1 and candidate not in {n["id"] for n in remaining}
    gone = steward.query("query($id: ID!) { node(id: $id) { id } }", {"id": candidate})
    assert gone["data"]["node"] is None
    again = steward.query(ACCEPT, {"input": {"id": candidate, "reason": "same company"}})
    (error,) = again["data"]["reviewCandidateAccept"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "id"], "NOT_FOUND")


def test_accepting_a_person_candidate_joins_the_two_people(review_steward: Facade, review_store: str) -> None:
    steward, own_store = review_steward, review_store
    number, left, right = _first_candidate(own_store, "person")
    result = steward.query(ACCEPT, {"input": {"id": encode_id("ReviewCandidate", str(number)), "reason": "same"}})
    payload = result["data"]["reviewCandidateAccept"]
    assert payload["userErrors"] == []
    people = {
        (source, source_id): person
        for person, source, source_id in _rows(
            own_store, "SELECT person_id, source, source_id FROM crmgraph_person_links"
        )
    }
    assert people[left] == people[right]
    (customer,) = _rows(own_store, "SELECT customer_id FROM crmgraph_persons WHERE id = ?", people[left])[0]
    expected = None if customer is None else _customer_id(customer)
    assert (payload["customer"] or {}).get("id") == expected


def test_rejecting_a_candidate_keeps_the_records_apart_and_takes_it_off_the_queue(
    review_steward: Facade, review_store: str
) -> None:
    steward, own_store = review_steward, review_store
    number, left, right = _first_candidate(own_store, "company")
    candidate = encode_id("ReviewCandidate", str(number))
    result = steward.query(REJECT, {"input": {"id": candidate, "reason": "different companies"}}, headers=ACTOR)
    payload = result["data"]["reviewCandidateReject"]
    assert payload == {"rejectedCandidateId": candidate, "userErrors": []}
    remaining, _ = _queue(steward, 200)
    assert candidate not in {n["id"] for n in remaining}
    customers = {r: c for c, rs in _records_by_customer(own_store).items() for r in rs}
    assert customers[left] != customers[right]
    (pair,) = _rows(
        own_store, "SELECT together, left_source, left_id, right_source, right_id FROM crmgraph_decision_pairs"
    )
    assert pair == (0, *left, *right)


# --- user errors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    single: int  # a customer with one record
    multi: int  # a customer with several
    records: dict[int, list[SourceRecord]]

    def record(self, customer: int) -> dict[str, str]:
        return _record_input(self.records[customer][0])


def _link(customer: str, records: list[dict[str, str]], reason: str = "why") -> tuple[str, dict[str, Any]]:
    return LINK, {"input": {"customerId": customer, "records": records, "reason": reason}}


ERRORS: list[tuple[str, Callable[[Sample], tuple[str, dict[str, Any]]], list[tuple[list[str] | None, str]]]] = [
    ("garbage id", lambda s: _link("bm9wZQ", [s.record(s.multi)]), [(["input", "customerId"], "INVALID_ID")]),
    (
        "id of another type",
        lambda s: _link(encode_id("Contact", "crm", "1"), [s.record(s.multi)]),
        [(["input", "customerId"], "INVALID_ID")],
    ),
    (
        "blank reason",
        lambda s: _link(_customer_id(s.single), [s.record(s.multi)], " "),
        [(["input", "reason"], "BLANK")],
    ),
    (
        "unknown system and blank record id",
        lambda s: _link(
            _customer_id(s.single), [{"system": "crmm", "recordId": "1"}, {"system": "erp", "recordId": ""}]
        ),
        [(["input", "records", "0", "system"], "UNKNOWN_SYSTEM"), (["input", "records", "1", "recordId"], "BLANK")],
    ),
    (
        "every mistake at once",
        lambda s: _link("bm9wZQ", [{"system": "nope", "recordId": "1"}], ""),
        [
            (["input", "customerId"], "INVALID_ID"),
            (["input", "records", "0", "system"], "UNKNOWN_SYSTEM"),
            (["input", "reason"], "BLANK"),
        ],
    ),
    (
        "unknown customer",
        lambda s: _link(_customer_id(999_999), [s.record(s.multi)]),
        [(["input", "customerId"], "NOT_FOUND")],
    ),
    (
        "record nobody linked",
        lambda s: _link(_customer_id(s.single), [{"system": "crm", "recordId": "no-such-record"}]),
        [(["input", "records", "0"], "NOT_FOUND")],
    ),
    ("no records", lambda s: _link(_customer_id(s.single), []), [(["input", "records"], "INVALID")]),
    (
        "unlink the only record",
        lambda s: (UNLINK, {"input": {"record": s.record(s.single), "reason": "why"}}),
        [(["input", "record"], "INVALID")],
    ),
    (
        "merge into itself",
        lambda s: (
            MERGE,
            {"input": {"survivorId": _customer_id(s.multi), "absorbedIds": [_customer_id(s.multi)], "reason": "why"}},
        ),
        [(["input", "absorbedIds"], "INVALID")],
    ),
    (
        "merge a garbage id",
        lambda s: (MERGE, {"input": {"survivorId": _customer_id(s.multi), "absorbedIds": ["bm9wZQ"], "reason": "why"}}),
        [(["input", "absorbedIds", "0"], "INVALID_ID")],
    ),
    (
        "split off every record",
        lambda s: (
            SPLIT,
            {
                "input": {
                    "customerId": _customer_id(s.multi),
                    "records": [_record_input(r) for r in s.records[s.multi]],
                    "reason": "why",
                }
            },
        ),
        [(["input", "records"], "INVALID")],
    ),
    (
        "split off another customer's record",
        lambda s: (
            SPLIT,
            {"input": {"customerId": _customer_id(s.multi), "records": [s.record(s.single)], "reason": "why"}},
        ),
        [(["input", "records", "0"], "INVALID")],
    ),
    (
        "accept a customer id",
        lambda s: (ACCEPT, {"input": {"id": _customer_id(s.single), "reason": "why"}}),
        [(["input", "id"], "INVALID_ID")],
    ),
    (
        "accept an unknown candidate",
        lambda s: (ACCEPT, {"input": {"id": encode_id("ReviewCandidate", "999999"), "reason": "why"}}),
        [(["input", "id"], "NOT_FOUND")],
    ),
    (
        "reject without a reason",
        lambda s: (REJECT, {"input": {"id": encode_id("ReviewCandidate", "1"), "reason": ""}}),
        [(["input", "reason"], "BLANK")],
    ),
]


@pytest.mark.parametrize(("mistake", "request_of", "expected"), ERRORS, ids=[case[0] for case in ERRORS])
def test_a_mutation_with_a_mistake_answers_user_errors_and_changes_nothing(
    steward: Facade,
    own_store: str,
    mistake: str,
    request_of: Callable[[Sample], tuple[str, dict[str, Any]]],
    expected: list[tuple[list[str] | None, str]],
) -> None:
    single, multi = _single_and_multi(own_store)
    before = _records_by_customer(own_store)
    query, variables = request_of(Sample(single[0], multi[0], before))
    result = steward.query(query, variables)
    assert "errors" not in result, result.get("errors")
    (payload,) = result["data"].values()
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == expected
    assert all(e["message"] for e in payload["userErrors"])
    assert all(value in (None, []) for key, value in payload.items() if key != "userErrors"), "no result"
    assert _records_by_customer(own_store) == before
    assert _rows(own_store, "SELECT COUNT(*) FROM crmgraph_decisions") == [(0,)]


def test_an_actor_header_longer_than_the_store_keeps_is_a_user_error(steward: Facade, own_store: str) -> None:
    _, multi = _single_and_multi(own_store)
    record = _records_by_customer(own_store)[multi[0]][-1]
    result = steward.query(
        UNLINK, {"input": {"record": _record_input(record), "reason": "why"}}, headers={"X-Crmgraph-Actor": "x" * 300}
    )
    (error,) = result["data"]["customerUnlink"]["userErrors"]
    assert (error["field"], error["code"]) == (None, "INVALID") and "X-Crmgraph-Actor" in error["message"]
