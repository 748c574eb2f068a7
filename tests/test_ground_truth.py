"""The seed's identity ground truth agrees with the data it describes, and the seed is deterministic."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path
from statistics import median

import pytest

from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.seed import Manifest, generate_estate

Truth = list[dict[str, str]]


@pytest.fixture(scope="module")
def truth(estate_layout: EstateLayout) -> Truth:
    with estate_layout.ground_truth.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _rows(path: Path, sql: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def records(estate_layout: EstateLayout) -> dict[tuple[str, str], dict[str, dict[str, object]]]:
    """Every identity-bearing record of every system, as (system, object) -> source id -> fields."""
    found: dict[tuple[str, str], dict[str, dict[str, object]]] = {}
    for kind in ("companies", "contacts"):
        rows = _rows(estate_layout.crm_db, f"SELECT id, properties FROM objects WHERE object_type = '{kind}'")
        found[("crm", kind)] = {str(r["id"]): json.loads(r["properties"]) for r in rows}
    orgs = _rows(estate_layout.tickets_db, "SELECT * FROM organizations")
    found[("tickets", "organizations")] = {str(r["id"]): dict(r) for r in orgs}
    users = _rows(estate_layout.tickets_db, "SELECT * FROM users WHERE role = 'end-user'")
    found[("tickets", "users")] = {str(r["id"]): dict(r) for r in users}
    debtors = _rows(estate_layout.erp_db, "SELECT * FROM KNA1")
    found[("erp", "KNA1")] = {str(r["KUNNR"]): dict(r) for r in debtors}
    return found


def test_every_source_record_belongs_to_exactly_one_party(
    truth: Truth, records: dict[tuple[str, str], dict[str, dict[str, object]]]
) -> None:
    listed = Counter((row["system"], row["object"], row["source_id"]) for row in truth)
    assert max(listed.values()) == 1, "a record is claimed twice"
    for (system, obj), by_id in records.items():
        in_truth = {source_id for (s, o, source_id) in listed if (s, o) == (system, obj)}
        assert in_truth == set(by_id), f"{system}/{obj}: truth and store disagree"


def test_people_belong_to_a_party_and_companies_do_not_name_a_person(truth: Truth) -> None:
    for row in truth:
        is_person_record = row["object"] in ("contacts", "users")
        assert bool(row["person"]) == is_person_record
        if is_person_record:
            assert row["person"].startswith(row["party"] + "-")


def test_explicit_cross_references_point_to_the_same_party(
    truth: Truth, records: dict[tuple[str, str], dict[str, dict[str, object]]]
) -> None:
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


def test_noise_flags_describe_the_records(
    truth: Truth, records: dict[tuple[str, str], dict[str, dict[str, object]]]
) -> None:
    for row in truth:
        system, obj = row["system"], row["object"]
        fields = records[(system, obj)][row["source_id"]]
        noise = set(filter(None, row["noise"].split(";")))
        if obj not in ("organizations", "companies"):  # neither kind has an e-mail field
            assert ("missing_email" in noise) == (not _email(system, fields)), row
            assert ("missing_phone" in noise) == (not _phone(system, fields)), row
        if obj in ("companies", "organizations", "KNA1"):
            assert ("missing_domain" in noise) == (not _domain(system, obj, fields)), row
        if "email_case" in noise:
            email = str(_email(system, fields))
            assert email != email.strip().lower()


def test_each_duplicate_has_an_original_in_the_same_system(truth: Truth) -> None:
    by_party: defaultdict[tuple[str, str, str], list[str]] = defaultdict(list)
    for row in truth:
        if row["object"] in ("companies", "organizations", "KNA1"):
            by_party[(row["party"], row["system"], row["object"])].append(row["noise"])
    duplicates = {key: noises for key, noises in by_party.items() if len(noises) > 1}
    assert duplicates, "the seed should contain duplicates inside a system"
    for noises in duplicates.values():
        assert sorted("duplicate" in n for n in noises) == [False, True]


def test_manifest_counts_match_the_ground_truth(estate_layout: EstateLayout, truth: Truth) -> None:
    manifest = Manifest.read(estate_layout.manifest)
    assert manifest is not None
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


def test_the_same_seed_gives_the_same_estate_and_another_seed_does_not(tmp_path: Path) -> None:
    first, second, other = (EstateLayout(tmp_path / name) for name in ("a", "b", "c"))
    generate_estate(first, customers=40, seed=5)
    generate_estate(second, customers=40, seed=5)
    generate_estate(other, customers=40, seed=6)
    assert _digest(first) == _digest(second)
    assert _digest(first)["ground_truth.csv"] != _digest(other)["ground_truth.csv"]


def test_an_interrupted_generation_never_looks_complete(tmp_path: Path) -> None:
    layout = EstateLayout(tmp_path / "estate")

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_estate(layout, customers=600, seed=1, progress=interrupt)
    assert not layout.manifest.exists()
