"""The seed's identity ground truth agrees with the data it describes, the data gives nothing away that a
real estate would not (ids, dates, identical addresses), and the seed is deterministic."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import pytest

from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.seed import Manifest, generate_estate, load_erp
from crmgraph.demo.seed.generate import OWNERS
from crmgraph.demo.seed.manifest import GENERATOR_VERSION
from crmgraph.demo.seed.party import Party, make_party
from crmgraph.demo.seed.vocabulary import CN_FREE_MAIL_DOMAINS, FREE_MAIL_DOMAINS
from tests.conftest import ESTATE_CUSTOMERS, ESTATE_SEED

Truth = list[dict[str, str]]
Records = dict[tuple[str, str], dict[str, dict[str, object]]]
PERSON_OBJECTS = ("contacts", "users", "KNVK")
COMPANY_OBJECTS = ("companies", "organizations", "KNA1")
ADDRESS_NOISE = {
    "address_abbreviation", "address_script", "address_typo", "address_case_spacing", "city_alias",
    "postcode_slip", "missing_address", "missing_street", "missing_street_number", "missing_postcode",
    "missing_city",
}  # fmt: skip


@pytest.fixture(scope="module")
def truth(estate_layout: EstateLayout) -> Truth:
    """The CRM's, ticket system's and ERP's rows; the marketing system's are checked in test_marketing_seed."""
    with estate_layout.ground_truth.open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["system"] != "marketing"]


def _rows(path: Path, sql: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def records(estate_layout: EstateLayout) -> Records:
    """Every identity-bearing record of every system, as (system, object) -> source id -> fields."""
    found: dict[tuple[str, str], dict[str, dict[str, object]]] = {}
    for kind in ("companies", "contacts"):
        query = f"SELECT id, properties, created_at FROM objects WHERE object_type = '{kind}'"
        rows = _rows(estate_layout.crm_db, query)
        found[("crm", kind)] = {str(r["id"]): json.loads(r["properties"]) | {"_created": r["created_at"]} for r in rows}
    orgs = _rows(estate_layout.tickets_db, "SELECT * FROM organizations")
    found[("tickets", "organizations")] = {str(r["id"]): dict(r) for r in orgs}
    users = _rows(estate_layout.tickets_db, "SELECT * FROM users WHERE role = 'end-user'")
    found[("tickets", "users")] = {str(r["id"]): dict(r) for r in users}
    debtors = _rows(estate_layout.erp_db, "SELECT * FROM KNA1")
    found[("erp", "KNA1")] = {str(r["KUNNR"]): dict(r) for r in debtors}
    contacts = _rows(estate_layout.erp_db, "SELECT * FROM KNVK")
    found[("erp", "KNVK")] = {str(r["PARNR"]): dict(r) for r in contacts}
    return found


@pytest.fixture(scope="module")
def parties(truth: Truth) -> dict[str, Party]:
    """The true parties behind the estate, as the generator drew them."""
    keys = {row["party"] for row in truth}
    drawn = (make_party(ESTATE_SEED, index, OWNERS) for index in range(ESTATE_CUSTOMERS))
    return {party.key: party for party in drawn if party.key in keys}


def _noise(row: dict[str, str]) -> set[str]:
    return set(filter(None, row["noise"].split(";")))


def test_every_source_record_belongs_to_exactly_one_party(truth: Truth, records: Records) -> None:
    listed = Counter((row["system"], row["object"], row["source_id"]) for row in truth)
    assert max(listed.values()) == 1, "a record is claimed twice"
    # The evaluation keys records by (system, source id): ids must not repeat across a system's objects.
    assert max(Counter((row["system"], row["source_id"]) for row in truth).values()) == 1
    assert len(records) == 6 and all(records.values()), "every kind of identity record is seeded"
    for (system, obj), by_id in records.items():
        in_truth = {source_id for (s, o, source_id) in listed if (s, o) == (system, obj)}
        assert in_truth == set(by_id), f"{system}/{obj}: truth and store disagree"


def test_people_belong_to_a_party_and_companies_do_not_name_a_person(truth: Truth) -> None:
    for row in truth:
        is_person_record = row["object"] in PERSON_OBJECTS
        assert bool(row["person"]) == is_person_record
        if is_person_record:
            assert row["person"].startswith(row["party"] + "-")


def test_explicit_cross_references_point_to_the_same_party(truth: Truth, records: Records) -> None:
    party_of = {(r["system"], r["object"], r["source_id"]): r["party"] for r in truth}
    person_of = {(r["system"], r["object"], r["source_id"]): r["person"] for r in truth}
    checked = Counter[str]()
    for source_id, debtor in records[("erp", "KNA1")].items():
        if debtor["ZZCRMID"]:
            target = ("crm", "companies", str(debtor["ZZCRMID"]))
            assert party_of[target] == party_of[("erp", "KNA1", source_id)]
            checked["erp"] += 1
    for source_id, org in records[("tickets", "organizations")].items():
        if org["external_id"]:
            target = ("crm", "companies", str(org["external_id"]))
            assert party_of[target] == party_of[("tickets", "organizations", source_id)]
            checked["organizations"] += 1
    for source_id, user in records[("tickets", "users")].items():
        if user["external_id"]:
            target = ("crm", "contacts", str(user["external_id"]))
            assert person_of[target] == person_of[("tickets", "users", source_id)]
            checked["users"] += 1
    assert min(checked.values()) > 0 and len(checked) == 3, f"too few cross-references to check: {checked}"
    # The truth's xref column is the store's value, and only the referenced records carry one.
    xrefs = {(r["system"], r["object"], r["source_id"]): r["xref"] for r in truth if r["xref"]}
    assert len(xrefs) == sum(checked.values())


def _email(system: str, fields: dict[str, object]) -> object:
    return {"crm": fields.get("email"), "tickets": fields.get("email"), "erp": fields.get("SMTP_ADDR")}[system]


def _phone(system: str, fields: dict[str, object]) -> object:
    return fields.get("TELF1") if system == "erp" else fields.get("phone")


def _domain(system: str, obj: str, fields: dict[str, object]) -> object:
    if obj == "organizations":
        return json.loads(str(fields["domain_names"]))
    return fields.get("KNURL") if system == "erp" else fields.get("domain")


def _address(system: str, fields: dict[str, object]) -> tuple[str, str, str]:
    """(street, city, postcode) of a CRM company or an ERP debtor, "" for what is not recorded."""
    names = ("STRAS", "ORT01", "PSTLZ") if system == "erp" else ("address", "city", "zip")
    street, city, postcode = (str(fields.get(name) or "") for name in names)
    return street, city, postcode


def test_noise_flags_describe_the_records(truth: Truth, records: Records, parties: dict[str, Party]) -> None:
    for row in truth:
        system, obj = row["system"], row["object"]
        fields = records[(system, obj)][row["source_id"]]
        noise = _noise(row)
        if obj not in ("organizations", "companies"):  # neither kind has an e-mail field
            assert ("missing_email" in noise) == (not _email(system, fields)), row
            assert ("missing_phone" in noise) == (not _phone(system, fields)), row
        if obj in COMPANY_OBJECTS:
            assert ("missing_domain" in noise) == (not _domain(system, obj, fields)), row
        if "email_case" in noise:
            email = str(_email(system, fields))
            assert email != email.strip().lower()
        if "other_email" in noise:
            domain = str(_email(system, fields)).rpartition("@")[2]
            assert domain in FREE_MAIL_DOMAINS + CN_FREE_MAIL_DOMAINS, row
        if obj in ("companies", "KNA1"):
            street, city, postcode = _address(system, fields)
            assert ("missing_address" in noise) == (not (street or city or postcode)), row
            if "missing_address" not in noise:
                assert ("missing_street" in noise) == (not street), row
                assert ("missing_city" in noise) == (not city), row
                assert ("missing_postcode" in noise) == (not postcode), row
        if obj == "organizations":
            assert ("missing_address" in noise) == (fields["details"] is None), row


def test_a_record_without_address_noise_holds_the_party_s_own_address_and_one_with_it_does_not(
    truth: Truth, records: Records, parties: dict[str, Party]
) -> None:
    clean = noisy = 0
    for row in truth:
        system, obj = row["system"], row["object"]
        if obj not in COMPANY_OBJECTS:
            continue
        fields = records[(system, obj)][row["source_id"]]
        address = parties[row["party"]].address
        own = (address.street, address.city, address.postcode)
        flagged = bool(_noise(row) & ADDRESS_NOISE)
        if obj == "organizations":  # free text: the parts in whatever order and separators
            if not flagged:
                assert all(part in str(fields["details"]) for part in own), (row, fields["details"], own)
            continue
        assert (_address(system, fields) != own) == flagged, (row, _address(system, fields), own)
        clean += not flagged
        noisy += flagged
    assert clean > 50 and noisy > 50, (clean, noisy)


def test_addresses_vary_between_systems_like_names_do(truth: Truth, records: Records) -> None:
    crm_of = {r["party"]: r["source_id"] for r in truth if r["object"] == "companies" and "duplicate" not in r["noise"]}
    both = [
        (
            _address("crm", records[("crm", "companies")][crm_of[r["party"]]]),
            _address("erp", records[r["system"], r["object"]][r["source_id"]]),
        )
        for r in truth
        if r["object"] == "KNA1" and r["party"] in crm_of
    ]
    assert len(both) > 50
    same_street_and_city = sum(crm[:2] == erp[:2] and bool(crm[0]) for crm, erp in both)
    assert same_street_and_city < 0.6 * len(both), "street and city alone should not pair the CRM and the ERP"

    streets = [
        _address(system, fields)[0]
        for (system, obj), by_id in records.items()
        if obj in ("companies", "KNA1")
        for fields in by_id.values()
    ]
    text = "\n".join(streets)
    for ways in (
        (" Road", " Street", " Avenue"),  # in full
        (" Rd", " St", " Ave", " Dr", " Blvd"),  # abbreviated
        ("路", "街", "大道"),  # hanzi
        ("No. ",),  # a Chinese address in English
        ("straße", "Straße", "strasse", "Strasse", "weg", "platz", "allee"),  # German
        ("rue ", "avenue ", "av. ", "boulevard ", "bd ", "place "),  # French
    ):
        assert any(way in text for way in ways), f"no street written with any of {ways}"
    kinds = Counter(street.rsplit(" ", 1)[-1] for street in streets if street.isascii() and " " in street)
    assert len(kinds) > 15, kinds
    details = [str(org["details"]) for org in records[("tickets", "organizations")].values() if org["details"]]
    assert any("\n" in d for d in details) and any(d[:1].isdigit() for d in details)


def test_each_duplicate_has_an_original_in_the_same_system(truth: Truth) -> None:
    by_entity: defaultdict[tuple[str, str, str], list[str]] = defaultdict(list)
    for row in truth:
        by_entity[(row["person"] or row["party"], row["system"], row["object"])].append(row["noise"])
    duplicates = {key: noises for key, noises in by_entity.items() if len(noises) > 1}
    kinds = {(system, obj) for _, system, obj in duplicates}
    assert {("crm", "companies"), ("crm", "contacts"), ("tickets", "users"), ("erp", "KNA1")} <= kinds, kinds
    for noises in duplicates.values():
        assert sorted("duplicate" in n for n in noises) == [False, True]


def test_a_duplicate_person_lacks_the_work_address_its_original_has(truth: Truth, records: Records) -> None:
    for row in truth:
        if row["object"] in ("contacts", "users") and "duplicate" in row["noise"]:
            email = _email(row["system"], records[(row["system"], row["object"])][row["source_id"]])
            assert not email or str(email).rpartition("@")[2] in FREE_MAIL_DOMAINS + CN_FREE_MAIL_DOMAINS, row


def test_the_erp_knows_some_people_of_most_debtors(truth: Truth, records: Records) -> None:
    debtors = records[("erp", "KNA1")]
    people = records[("erp", "KNVK")]
    party_of = {r["source_id"]: r["party"] for r in truth if r["system"] == "erp"}
    known = Counter(str(person["KUNNR"]) for person in people.values())
    assert set(known) <= set(debtors)
    for parnr, person in people.items():
        assert party_of[parnr] == party_of[str(person["KUNNR"])], "a contact person filed under another party"
        assert len(parnr) == 10 and parnr.isdigit()
        assert str(person["ERDAT"]) >= str(debtors[str(person["KUNNR"])]["ERDAT"])
    with_people = {party_of[kunnr] for kunnr in known}
    share = len(with_people) / len(set(party_of[k] for k in debtors))
    assert 0.4 < share < 0.8, share
    assert max(known.values()) >= 2
    names = [(person["NAMEV"], person["NAME1"]) for person in people.values()]
    assert any(not str(last).isascii() for _, last in names) and any(str(last).isascii() for _, last in names)


def _spearman(pairs: Iterable[tuple[int, int]]) -> float:
    """Rank correlation of (x, y) pairs: 1 when y grows with x, about 0 when it does not."""
    xs, ys = zip(*pairs, strict=True)

    def ranks(values: tuple[int, ...]) -> list[float]:
        order = sorted(range(len(values)), key=values.__getitem__)
        rank = [0.0] * len(values)
        for position, i in enumerate(order):
            rank[i] = position
        return rank

    rx, ry = ranks(xs), ranks(ys)
    mean = (len(rx) - 1) / 2
    covariance = sum((a - mean) * (b - mean) for a, b in zip(rx, ry, strict=True))
    variance = sum((a - mean) ** 2 for a in rx)
    return covariance / variance


def _unordered(n: int) -> float:
    """The rank correlation below which n pairs are not ordered alike: 3.5 standard deviations of chance
    (numbering in party order would give 1)."""
    return max(0.3, 3.5 / n**0.5)


def test_ids_are_not_numbered_in_party_order(truth: Truth, estate_layout: EstateLayout) -> None:
    """Sorting any system's ids does not pair its records up with another system's."""
    index = {r["source_id"]: int(r["party"][1:]) for r in truth}
    by_kind: defaultdict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for row in truth:
        by_kind[(row["system"], row["object"])].append((int(row["party"][1:]), int(row["source_id"])))
    for table, key, owner in (("VBAK", "VBELN", "KUNNR"), ("VBRK", "VBELN", "KUNRG"), ("BSAD", "BELNR", "KUNNR")):
        rows = _rows(estate_layout.erp_db, f"SELECT {key}, {owner} FROM {table}")
        by_kind[("erp", table)] = [(index[r[owner]], int(r[key])) for r in rows]
    for kind, table in (("tickets", "tickets"), ("tickets", "users")):
        rows = _rows(
            estate_layout.tickets_db, f"SELECT id, organization_id FROM {table} WHERE organization_id IS NOT NULL"
        )
        by_kind[(kind, table)] = [(index[str(r["organization_id"])], r["id"]) for r in rows]
    for kind, pairs in by_kind.items():
        first_id: dict[int, int] = {}  # per party: big accounts would otherwise weigh in thousands of times
        for party, source_id in pairs:
            first_id[party] = min(source_id, first_id.get(party, source_id))
        assert len(first_id) >= 20, kind
        assert abs(_spearman(first_id.items())) < _unordered(len(first_id)), f"{kind} ids follow the party order"
    originals = {
        (r["system"], r["party"]): int(r["source_id"])
        for r in truth
        if r["object"] in COMPANY_OBJECTS and "duplicate" not in r["noise"]
    }
    for a, b in (("crm", "erp"), ("crm", "tickets"), ("erp", "tickets")):
        paired = [(originals[(a, p)], originals[(b, p)]) for (s, p) in originals if s == a and (b, p) in originals]
        assert len(paired) > 40 and abs(_spearman(paired)) < _unordered(len(paired)), f"{a} and {b} ids pair up"
    # A duplicate is typed in later: its id is not the one after its original's.
    ranks = {
        kind: {
            source_id: rank
            for rank, source_id in enumerate(
                sorted(r["source_id"] for r in truth if (r["system"], r["object"]) == kind)
            )
        }
        for kind in by_kind
        if kind[1] in COMPANY_OBJECTS + PERSON_OBJECTS
    }
    neighbours = []
    for row in truth:
        if "duplicate" in row["noise"]:
            kind, entity = (row["system"], row["object"]), row["person"] or row["party"]
            (original,) = (
                r["source_id"]
                for r in truth
                if (r["system"], r["object"]) == kind
                and (r["person"] or r["party"]) == entity
                and "duplicate" not in r["noise"]
            )
            neighbours.append(abs(ranks[kind][row["source_id"]] - ranks[kind][original]) == 1)
    assert len(neighbours) > 10 and sum(neighbours) <= 0.2 * len(neighbours), neighbours
    for row in truth:
        if row["system"] == "erp":
            assert len(row["source_id"]) == 10 and row["source_id"].isdigit()


def _day(value: str) -> datetime:
    return datetime.strptime(value[:10].replace("-", ""), "%Y%m%d").replace(tzinfo=UTC)


def test_creation_dates_do_not_pair_records_but_come_before_what_they_hold(
    truth: Truth, records: Records, estate_layout: EstateLayout
) -> None:
    created = {
        (r["system"], r["party"]): _day(str(fields.get("ERDAT") or fields.get("created_at") or fields.get("_created")))
        for r in truth
        if r["object"] in COMPANY_OBJECTS and "duplicate" not in r["noise"]
        for fields in [records[(r["system"], r["object"])][r["source_id"]]]
    }
    for a, b in (("crm", "erp"), ("crm", "tickets"), ("erp", "tickets")):
        gaps = [abs((created[(a, p)] - created[(b, p)]).days) for (s, p) in created if s == a and (b, p) in created]
        assert len(gaps) > 30
        assert sum(gap <= 30 for gap in gaps) < 0.5 * len(gaps), f"{a} and {b} open records too close together"
        assert median(gaps) > 60, (a, b, median(gaps))
    orders = _rows(estate_layout.erp_db, "SELECT o.ERDAT, k.ERDAT AS OPENED FROM VBAK o JOIN KNA1 k USING (KUNNR)")
    assert orders and all(row["ERDAT"] >= row["OPENED"] for row in orders)
    tickets = _rows(
        estate_layout.tickets_db,
        "SELECT t.created_at, o.created_at AS opened FROM tickets t JOIN organizations o ON o.id = t.organization_id",
    )
    assert tickets and all(row["created_at"] >= row["opened"] for row in tickets)


def test_load_erp_alone_gives_the_erp_rows_of_the_whole_estate(estate_layout: EstateLayout, tmp_path: Path) -> None:
    alone = tmp_path / "erp.sqlite"
    load_erp(f"sqlite:///{alone}", customers=ESTATE_CUSTOMERS, seed=ESTATE_SEED)
    for table, key in (("KNA1", "KUNNR"), ("KNVK", "PARNR"), ("VBAK", "VBELN"), ("BSAD", "BELNR")):
        query = f"SELECT * FROM {table} ORDER BY {key}"
        assert [tuple(r) for r in _rows(alone, query)] == [tuple(r) for r in _rows(estate_layout.erp_db, query)]


def test_manifest_counts_match_the_ground_truth(estate_layout: EstateLayout) -> None:
    manifest = Manifest.read(estate_layout.manifest)
    assert manifest is not None
    with estate_layout.ground_truth.open(newline="", encoding="utf-8") as handle:
        truth = list(csv.DictReader(handle))  # every system's rows, the marketing system's included
    counted = Counter(f"{r['system']}/{r['object']}" for r in truth)
    assert manifest.records == dict(counted)
    noise: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for row in truth:
        key = f"{row['system']}/{row['object']}"
        noise[key].update(filter(None, row["noise"].split(";")))
        if row["xref"]:
            noise[key]["explicit_xref"] += 1
    assert manifest.noise == {key: dict(kinds) for key, kinds in noise.items() if kinds}


def test_the_data_is_varied_like_a_real_estate(estate_layout: EstateLayout) -> None:
    names = [r[0] for r in _rows(estate_layout.erp_db, "SELECT NAME1 FROM KNA1")]
    assert any("有限公司" in n or "（" in n for n in names) and any(n.isascii() for n in names)
    currencies = {r[0] for r in _rows(estate_layout.erp_db, "SELECT DISTINCT WAERK FROM VBAK")}
    assert len(currencies) >= 4
    per_customer = [r[0] for r in _rows(estate_layout.erp_db, "SELECT COUNT(*) FROM VBAK GROUP BY KUNNR")]
    assert max(per_customer) >= 5 * median(per_customer), "order counts should be skewed"
    years = {r[0][:4] for r in _rows(estate_layout.erp_db, "SELECT ERDAT FROM VBAK")}
    assert len(years) >= 3
    statuses = {r[0] for r in _rows(estate_layout.tickets_db, "SELECT DISTINCT status FROM tickets")}
    assert {"solved", "closed"} & statuses and {"new", "open", "pending", "hold"} & statuses
    stages = {json.loads(r[0]).get("dealstage") for r in _rows(
        estate_layout.crm_db, "SELECT properties FROM objects WHERE object_type = 'deals'")}  # fmt: skip
    assert {"closedwon", "closedlost"} <= stages


def _digest(layout: EstateLayout) -> dict[str, str]:
    digests = {"ground_truth.csv": hashlib.sha256(layout.ground_truth.read_bytes()).hexdigest()}
    for db in (layout.crm_db, layout.tickets_db, layout.erp_db):
        conn = sqlite3.connect(db)
        digests[db.name] = hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
        conn.close()
    return digests


def _identity_digest(layout: EstateLayout) -> str:
    """The ground truth and every identity-bearing row, as text (independent of SQLite's dump format)."""
    digest = hashlib.sha256(layout.ground_truth.read_bytes())
    for db, query in (
        (layout.crm_db, "SELECT * FROM objects WHERE object_type IN ('companies', 'contacts') ORDER BY id"),
        (layout.tickets_db, "SELECT * FROM organizations ORDER BY id"),
        (layout.tickets_db, "SELECT * FROM users ORDER BY id"),
        (layout.erp_db, "SELECT * FROM KNA1 ORDER BY KUNNR"),
        (layout.erp_db, "SELECT * FROM KNVK ORDER BY PARNR"),
    ):
        for row in _rows(db, query):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


# The estate of seed 5 with 40 customers. A change to the generator that alters it must bump
# GENERATOR_VERSION (so that existing data directories are generated again) and this digest together.
PINNED = (9, "a04fe0d7f25f7d752c30d239203787c5c2bbd232e41ac02860438bece51591cb")


def test_the_same_seed_gives_the_same_estate_and_another_seed_does_not(tmp_path: Path) -> None:
    first, second, other = (EstateLayout(tmp_path / name) for name in ("a", "b", "c"))
    generate_estate(first, customers=40, seed=5)
    generate_estate(second, customers=40, seed=5)
    generate_estate(other, customers=40, seed=6)
    assert _digest(first) == _digest(second)
    assert _digest(first)["ground_truth.csv"] != _digest(other)["ground_truth.csv"]
    assert (GENERATOR_VERSION, _identity_digest(first)) == PINNED


def test_an_interrupted_generation_never_looks_complete(tmp_path: Path) -> None:
    layout = EstateLayout(tmp_path / "estate")

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_estate(layout, customers=600, seed=1, progress=interrupt)
    assert not layout.manifest.exists()
