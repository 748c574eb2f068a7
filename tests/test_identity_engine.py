"""The matching engine's parts, each on small inputs whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from crmgraph.identity import normalize as norm
from crmgraph.identity.blocking import candidate_pairs
from crmgraph.identity.clustering import cluster
from crmgraph.identity.columns import Table
from crmgraph.identity.comparisons import grade
from crmgraph.identity.evaluate import evaluate
from crmgraph.identity.fellegi_sunter import estimate, probability
from crmgraph.identity.golden_ids import assign
from crmgraph.identity.matcher import match
from crmgraph.identity.profiles import Profile, SourceRecord
from crmgraph.identity.settings import SET_FIELDS, Comparison, MatchSettings, Thresholds


@pytest.mark.parametrize(
    ("written", "core", "form"),
    [
        ("Northwind Logistics Ltd.", "northwind logistics", "ltd"),
        ("NORTHWIND  LOGISTICS LIMITED ", "northwind logistics", "ltd"),
        ("Atlas Motors Co.rp", "atlas motors", "corp"),
        ("上海华信科技有限公司", "上海华信科技", "有限公司"),
        ("华信科技（上海）有限公司", "上海华信科技", "有限公司"),
        ("上 海 华 信 科 技 有 限 公 司", "上海华信科技", "有限公司"),
        ("ＡＢＣ Trading GmbH", "abc trading", "gmbh"),
        ("Quarry West Electronics In.", "quarry west electronics", "inc"),
        ("新辰建材（成都）有限公司", "成都新辰建材", "有限公司"),
        ("新辰建材（都）有限公司", "成都新辰建材", "有限公司"),
    ],
)
def test_company_names_written_differently_normalise_to_one_core(written: str, core: str, form: str) -> None:
    assert norm.company_name(written) == (core, form)


@pytest.mark.parametrize(
    ("written", "region", "e164"),
    [
        ("+86 21 1234 5678", None, "+862112345678"),
        ("021-12345678", "CN", "+862112345678"),
        ("86.21.1234.5678", "CN", "+862112345678"),
        ("(415) 987-6543", "US", "+14159876543"),
        ("+1 415 987 6543", None, "+14159876543"),
        ("0161-12345678", "GB", "+4416112345678"),
        ("44.161.1234.5678", "GB", "+4416112345678"),
        ("12", "GB", None),
    ],
)
def test_phones_in_every_habit_become_one_e164_number(written: str, region: str | None, e164: str | None) -> None:
    assert norm.phone(written, region) == e164


@pytest.mark.parametrize(
    ("written", "city"),
    [("成都市", "chengdu"), ("成都", "chengdu"), ("Greater Manchester", "manchester"), ("Berlin-Mitte", "berlin"),
     ("NEW YORK", "new york")],
)  # fmt: skip
def test_a_city_written_with_its_suffix_or_district_is_the_same_city(written: str, city: str) -> None:
    assert norm.city_name(written) == city


def test_a_name_within_one_typo_shares_a_blocking_key_and_two_typos_do_not() -> None:
    names = ["redstone point pharma", "rredstone point pharma", "redstone poitn pharma", "redston point pharma",
             "redstone pointe pharma", "restone piont pharma", "北京云康咨询", "北京云康询咨"]  # fmt: skip
    table = Table([Profile("crm", str(n), {"name": name}) for n, name in enumerate(names)], SET_FIELDS)
    pairs, _ = candidate_pairs(table, [("name~1",)], max_block=100)
    found = {(names[i], names[j]) for i, j in pairs.tolist()}
    for typo in names[1:5]:
        assert ("redstone point pharma", typo) in found
    assert not any("restone piont pharma" in pair for pair in found), "two typos away: not a candidate"
    assert ("北京云康咨询", "北京云康询咨") in found


def test_e_mails_fold_case_and_free_mail_domains_say_nothing_about_a_company() -> None:
    assert norm.email(" Wei.Li3@HUAXIN.cn ") == "wei.li3@huaxin.cn"
    assert norm.email("not an address") is None
    assert norm.domain("https://www.Northwind-Logistics.co.uk/about") == "northwind-logistics.co.uk"
    assert norm.domain("someone@gmail.com") is None and norm.domain("a@qq.com") is None
    assert norm.street("12 Harbor Road") == norm.street("12 harbor rd.")
    assert norm.person_name("Wei Li") == norm.person_name("li wei") and norm.person_name("李伟") == norm.person_name(
        "伟 李"
    )


def _profiles(*rows: dict[str, str | frozenset[str] | None]) -> list[Profile]:
    return [Profile("s", str(n), dict(values)) for n, values in enumerate(rows)]


def test_blocking_compares_only_records_sharing_a_key_and_skips_keys_too_common_to_mean_anything() -> None:
    profiles = _profiles(
        {"tax_id": "T1", "city": "x"}, {"tax_id": "T1", "city": "y"}, {"tax_id": "T2", "city": "x"},
        {"tax_id": None, "city": "x"}, {"tax_id": "T3", "city": "z"},
    )  # fmt: skip
    table = Table(profiles, SET_FIELDS)
    pairs, report = candidate_pairs(table, [("tax_id",)], max_block=10)
    assert pairs.tolist() == [[0, 1]]
    pairs, report = candidate_pairs(table, [("tax_id",), ("city",)], max_block=2)
    assert pairs.tolist() == [[0, 1]], "the city x is shared by three records, more than max_block"
    assert report.skipped_keys["city"] == 1


def test_set_fields_block_and_compare_on_any_shared_value() -> None:
    profiles = _profiles(
        {"domains": frozenset({"a.com", "b.com"})}, {"domains": frozenset({"b.com"})},
        {"domains": frozenset({"c.com"})}, {"domains": None},
    )  # fmt: skip
    table = Table(profiles, SET_FIELDS)
    pairs, _ = candidate_pairs(table, [("domains",)], max_block=10)
    assert pairs.tolist() == [[0, 1]]
    every = np.array([[0, 1], [0, 2], [0, 3]])
    grades = grade(table, every, [Comparison(field="domains", kind="overlap")])
    assert grades[:, 0].tolist() == [1, 0, -1]  # shared, different, missing


def test_fuzzy_grades_follow_the_similarity_levels() -> None:
    profiles = _profiles({"name": "northwind logistics"}, {"name": "northwind logistisc"}, {"name": "contoso foods"})
    table = Table(profiles, SET_FIELDS)
    comparison = Comparison.model_validate({"field": "name", "kind": "fuzzy", "levels": [0.95, 0.88]})
    grades = grade(table, np.array([[0, 0], [0, 1], [0, 2]]), [comparison])
    assert grades[:, 0].tolist() == [3, 2, 0]  # exact, similar >= 0.95, different


def test_em_learns_which_grades_mean_a_match_without_labels() -> None:
    rng = np.random.default_rng(5)
    matches = np.stack([rng.random(300) < 0.95, rng.random(300) < 0.9], axis=1)
    others = np.stack([rng.random(3000) < 0.01, rng.random(3000) < 0.3], axis=1)
    grades = np.concatenate([matches, others]).astype(np.int8)
    model = estimate(grades, [2, 2], prior=0.2, iterations=100)
    assert 0.07 < model.prior < 0.12
    weights = model.weights()
    assert weights[0][1] > 5 and weights[0][0] < -2, "agreeing on the rare key is strong evidence"
    both, neither = probability(model.score(np.array([[1, 1], [0, 0]], dtype=np.int8)))
    assert both > 0.9 and neither < 0.01


def test_clusters_never_chain_two_records_with_different_tax_ids() -> None:
    profiles = _profiles({"tax_id": "T1"}, {"tax_id": None}, {"tax_id": "T2"}, {"tax_id": "T2"})
    table = Table(profiles, SET_FIELDS)
    pairs = np.array([[0, 1], [1, 2], [2, 3]])
    result = cluster(table, ["tax_id"], pairs=pairs, probabilities=np.array([0.999, 0.998, 0.997]), link_at=0.99)
    labels = result.labels.tolist()
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[1] != labels[2]
    assert result.refused == [(1, 2, "distinct:0")]


def test_a_stewards_no_holds_against_any_score_and_a_stewards_link_against_tax_ids() -> None:
    profiles = _profiles({"tax_id": "T1"}, {"tax_id": "T1"}, {"tax_id": "T2"})
    table = Table(profiles, SET_FIELDS)
    pairs = np.array([[0, 1]])
    apart = cluster(table, ["tax_id"], cannot=[(0, 1)], pairs=pairs, probabilities=np.array([0.9999]), link_at=0.5)
    assert apart.labels[0] != apart.labels[1]
    forced = cluster(table, ["tax_id"], forced=[(1, 2, "steward")], pairs=pairs, probabilities=np.array([0.1]),
                     link_at=0.5)  # fmt: skip
    assert forced.labels[1] == forced.labels[2] and forced.joined[2].rule == "steward"


def test_matching_links_the_same_company_across_systems_and_nothing_else() -> None:
    words = ("Northwind", "Contoso", "Fabrikam", "Keystone", "Summit", "Atlas")
    profiles = []
    for n in range(30):
        name = f"{words[n % 6]} {('Logistics', 'Foods', 'Labs', 'Media', 'Motors')[n // 6]} Ltd"
        for system in ("crm", "erp"):
            named = norm.company_name(name.upper() if system == "erp" else name)
            assert named is not None
            values: dict[str, str | frozenset[str] | None] = {
                "name": named[0], "legal_form": named[1], "city": ("Berlin", "Paris", "Tokyo")[n % 3],
                "tax_id": None if system == "crm" and n % 2 else f"T{n}",
                "domains": frozenset({f"d{n}.example"}) if system == "crm" or n % 3 else None,
            }  # fmt: skip
            profiles.append(Profile(system, str(n), values))
    settings = MatchSettings(
        blocking=(("tax_id",), ("domains",), ("city",)),
        comparisons=(
            Comparison(field="tax_id"), Comparison(field="domains", kind="overlap"),
            Comparison.model_validate({"field": "name", "kind": "fuzzy", "levels": [0.9]}), Comparison(field="city"),
        ),
        distinct=("tax_id",),
        thresholds=Thresholds(link=0.99, sole=None),
        max_block=100,
    )  # fmt: skip
    result = match(profiles, settings, SET_FIELDS)
    clusters = sorted(sorted(profiles[row].key for row in rows) for rows in result.clusters().values())
    # Without a tax id or a domain on both sides, a name and a city are not enough: those pairs wait for review.
    weak = {n for n in range(30) if n % 2 and not n % 3}
    linked = [[("crm", str(n)), ("erp", str(n))] for n in range(30) if n not in weak]
    alone = [[(system, str(n))] for n in weak for system in ("crm", "erp")]
    assert clusters == sorted(linked + alone)
    reviewed = {(profiles[c.left].key, profiles[c.right].key) for c in result.review}
    assert reviewed == {(("crm", str(n)), ("erp", str(n))) for n in weak}
    pair = next(row for row, (i, j) in enumerate(result.pairs.tolist()) if profiles[i].key == ("crm", "0")
                and profiles[j].key == ("erp", "0"))  # fmt: skip
    evidence = {item.field: item for item in result.explain(pair)}
    assert evidence["tax_id"].grade == "missing" or evidence["tax_id"].grade == "exact"
    assert evidence["name"].grade == "exact" and evidence["name"].weight > 0

    # Each weak record's one plausible match is its twin, and nothing speaks against it: with the
    # sole-candidate rule on (the default) the twins are joined, and say so.
    sole = match(profiles, settings.model_copy(update={"thresholds": Thresholds(link=0.99)}), SET_FIELDS)
    sole_clusters = sorted(sorted(profiles[row].key for row in rows) for rows in sole.clusters().values())
    assert sole_clusters == sorted([("crm", str(n)), ("erp", str(n))] for n in range(30))
    rows = {profile.key: row for row, profile in enumerate(profiles)}
    assert {sole.joined[rows[(system, str(n))]].rule for n in weak for system in ("crm", "erp")} == {"sole"}
    assert not sole.review


def test_a_record_with_plausible_matches_in_two_customers_is_left_alone() -> None:
    """A sparse record named like two customers (namesakes) joins neither: the rule needs one customer."""

    def company(system: str, key: str, name: str, tax_id: str | None, xrefs: tuple[SourceRecord, ...] = ()) -> Profile:
        named = norm.company_name(name)
        assert named is not None
        return Profile(system, key, {"name": named[0], "legal_form": named[1], "tax_id": tax_id}, xrefs)

    profiles = [
        company("crm", "1", "Corvanta Media GmbH", "T1"),
        company("erp", "1", "CORVANTA MEDIA GMBH", "T1", xrefs=(("crm", "1"),)),
        company("crm", "2", "Corvanta Media GmbH", "T2"),  # a namesake: its own tax id
        company("tickets", "9", "Corvanta  Media GmbH ", None),  # typed in a hurry: whose is it?
        *(company("crm", f"x{n}", f"Other{n} Foods Ltd", f"X{n}") for n in range(40)),
    ]
    settings = MatchSettings(
        blocking=(("tax_id",), ("name~1",)),
        comparisons=(Comparison(field="tax_id"), Comparison.model_validate(
            {"field": "name", "kind": "fuzzy", "levels": [0.96]}), Comparison(field="legal_form")),
        distinct=("tax_id",),
        thresholds=Thresholds(link=0.99, review=0.05, sole=0.1),
    )  # fmt: skip
    result = match(profiles, settings, SET_FIELDS)
    rows = {profile.key: row for row, profile in enumerate(profiles)}
    sparse = [c.probability for c in result.review if rows[("tickets", "9")] in (c.left, c.right)]
    assert len(sparse) == 3 and min(sparse) >= settings.thresholds.sole, "plausible with every Corvanta record"
    labels = {profile.key: int(result.labels[row]) for row, profile in enumerate(profiles)}
    assert labels[("crm", "1")] == labels[("erp", "1")] != labels[("crm", "2")]
    assert labels[("tickets", "9")] not in {labels[("crm", "1")], labels[("crm", "2")]}
    assert result.joined[3].rule == "self"


def test_golden_ids_stay_with_the_cluster_holding_most_of_their_records() -> None:
    current = {"a": 1, "b": 1, "c": 2, "d": 3}
    # a, b, c now one cluster; d alone; e new.
    result = assign({"x": ["a", "b", "c"], "y": ["d"], "z": ["e"]}, current, next_id=10)
    assert result.ids == {"x": 1, "y": 3, "z": 10}
    assert result.retired == {2: 1}, "id 2 was absorbed by 1"
    # A split: the larger part keeps the id, the other gets a new one.
    split = assign({"x": ["a", "b"], "y": ["c"]}, {"a": 1, "b": 1, "c": 1}, next_id=10)
    assert split.ids == {"x": 1, "y": 10} and split.retired == {}


def test_evaluation_counts_pairs_per_system_pair() -> None:
    truth = {("crm", "1"): "P1", ("erp", "1"): "P1", ("tickets", "1"): "P1", ("crm", "2"): "P2", ("crm", "3"): "P2"}
    predicted = {("crm", "1"): 1, ("erp", "1"): 1, ("tickets", "1"): 2, ("crm", "2"): 3, ("crm", "3"): 3}
    result = evaluate("companies", predicted, truth)
    assert (result.score("all").predicted, result.score("all").true, result.score("all").correct) == (2, 4, 2)
    assert result.score("crm~erp").recall == 1.0 and result.score("crm~tickets").recall == 0.0
    assert result.score("within systems").precision == 1.0 and result.golden == 3 and result.entities == 2
