"""Splink (on DuckDB) against crmgraph's matcher, on the same normalised records of a seeded estate.

Needs Splink, which crmgraph does not depend on: ``pip install splink`` (it brings DuckDB).

    python bench/identity_splink.py                               # 2,000 customers, seeds 11 and 12345
    python bench/identity_splink.py --customers 100000 --seed 42 --no-persons

For each estate (seeded under var/bench-identity/ as bench/identity.py does, so estates are shared):
1. serve it and read every party and person through the adapters (as `crmgraph link` does);
2. run crmgraph's ``resolve`` on those records in a fresh process (time, peak RSS); its company and person
   profiles, as the matcher saw them, are Splink's input too: the same normalised fields, company
   profiles carrying their people's e-mail addresses and domains, persons carrying the golden customer
   crmgraph's company match put them in (Splink's person model compares that ``customer`` field);
3. translate crmgraph's matching settings (blocking rules, comparisons) into a Splink model and run it in
   a fresh process: u by random sampling, m by one EM session per blocking rule, no labels, the prior from
   deterministic rules; predict, cluster (connected components) at 0.97 and 0.99; "+ cross-references"
   also joins the clusters along the records' declared cross-references, which crmgraph links first;
4. score every linking against ground_truth.csv on record pairs, and count what went wrong: golden
   records holding two tax ids, golden records joining namesakes (distinct companies with one name);
5. time an incremental company run of each with the model kept: 1 % of the records changed.

Timings are wall clock on whatever else the machine is doing; crmgraph's matcher is mostly one thread,
DuckDB uses every core.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from identity import _line, config_text, scan_estate, seeded_estate  # bench/identity.py

from crmgraph.demo.process import estate_process
from crmgraph.identity.columns import one_deletion_variants, within_one_edit
from crmgraph.identity.engine import resolve
from crmgraph.identity.evaluate import evaluate, read_truth
from crmgraph.identity.matcher import match
from crmgraph.identity.profiles import Profile, SourceRecord
from crmgraph.identity.settings import SET_FIELDS, Comparison, IdentityConfig, MatchSettings
from crmgraph.records import PartyRecord, PersonRecord

THRESHOLDS = (0.97, 0.99)
U_MAX_PAIRS = 1e7  # Splink's advice: 1e7 "often adequate", 1e8-1e9 best
PRIOR_RECALL = 0.8  # the guessed share of true pairs the deterministic rules find (Splink's prior estimate)
CHANGED_EVERY = 100  # incremental runs: every 100th company record counts as changed (1 %)


def _peak_mib() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: a child's ru_maxrss starts at the RSS of
    the parent that forked it (Linux carries it across exec), which holds every record here."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------- crmgraph


@dataclass
class CrmgraphRun:
    companies: dict[SourceRecord, int]
    persons: dict[SourceRecord, int]
    company_profiles: list[Profile]
    person_profiles: list[Profile]
    seconds: float
    peak_mib: float
    baseline_mib: float
    pairs: tuple[int, int]
    prior: float
    increment_seconds: float
    increment_moved: int
    match_seconds: float  # block, compare, estimate, cluster of both matches: ``seconds`` less the profiles


def run_crmgraph(
    parties: Mapping[SourceRecord, PartyRecord], persons: Mapping[SourceRecord, PersonRecord]
) -> CrmgraphRun:
    """In a fresh process: crmgraph's matcher with its defaults."""
    baseline = _peak_mib()
    started = time.monotonic()
    resolution = resolve(parties, persons, IdentityConfig())
    seconds = time.monotonic() - started
    # An incremental company run as `crmgraph link --changed` makes it: the stored model, 1 % of the records
    # changed, every other record kept in its golden record.
    companies = resolution.companies
    changed = {profile.key for profile in companies.profiles[::CHANGED_EVERY]}
    kept = {
        profile.key: (int(companies.labels[row]), companies.joined[row].rule, companies.joined[row].confidence)
        for row, profile in enumerate(companies.profiles)
        if profile.key not in changed
    }
    started = time.monotonic()
    again = match(companies.profiles, companies.settings, SET_FIELDS, model=companies.model, changed=changed, kept=kept)
    increment_seconds = time.monotonic() - started
    return CrmgraphRun(
        companies=resolution.customer_of(),
        persons=resolution.person_of(),
        company_profiles=list(resolution.companies.profiles),
        person_profiles=list(resolution.persons.profiles),
        seconds=seconds,
        peak_mib=_peak_mib(),
        baseline_mib=baseline,
        pairs=(resolution.companies.report.blocking.pairs, resolution.persons.report.blocking.pairs),
        prior=float(resolution.companies.model.prior),
        increment_seconds=increment_seconds,
        increment_moved=_moved(companies.labels, again.labels),
        match_seconds=sum(resolution.companies.report.seconds.values())
        + sum(resolution.persons.report.seconds.values()),
    )


def _moved(before: Sequence[int], after: Sequence[int]) -> int:
    """Records whose cluster (as a set of records) differs between two labellings."""
    members: tuple[defaultdict[int, set[int]], defaultdict[int, set[int]]] = (defaultdict(set), defaultdict(set))
    for row, (a, b) in enumerate(zip(before, after, strict=True)):
        members[0][int(a)].add(row)
        members[1][int(b)].add(row)
    return sum(members[0][int(a)] != members[1][int(b)] for a, b in zip(before, after, strict=True))


# ------------------------------------------------------------------------------------------------ Splink


def _sorted_tokens(name: str) -> str:
    return f"{name}__sorted"


def _variants(name: str) -> str:
    return f"{name}__variants"


def splink_rows(profiles: Sequence[Profile], settings: MatchSettings) -> dict[str, list[Any]]:
    """The profiles as columns for Splink: set fields as sorted lists; a ``name~1`` blocking field as the
    list of its one-deletion variants (crmgraph's own); a token_sort field also with its words sorted."""
    fields = {comparison.field for comparison in settings.comparisons}
    fields |= {name.removesuffix("~1") for rule in settings.blocking for name in rule}
    if any(comparison.kind == "email" for comparison in settings.comparisons):
        fields.add("email_user")
    columns: dict[str, list[Any]] = {"unique_id": list(range(len(profiles)))}
    for name in sorted(fields):
        values = [profile.values.get(name) for profile in profiles]
        if name in SET_FIELDS:
            columns[name] = [sorted(value) if value else None for value in values]
        else:
            columns[name] = [value if isinstance(value, str) else None for value in values]
    for comparison in settings.comparisons:
        if comparison.kind == "fuzzy" and comparison.similarity in ("token_sort", "token_set"):
            columns[_sorted_tokens(comparison.field)] = [
                " ".join(sorted(value.split())) if value else None for value in columns[comparison.field]
            ]
    for rule in settings.blocking:
        for name in rule:
            base = within_one_edit(name)
            if base is not None:
                columns[_variants(base)] = [
                    sorted(one_deletion_variants(value)) if value else None for value in columns[base]
                ]
    return columns


def _normalised_levenshtein(column: str, level: float) -> str:
    left, right = f'"{column}_l"', f'"{column}_r"'
    return f"1 - levenshtein({left}, {right}) / greatest(length({left}), length({right})) >= {level}"


def splink_comparison(comparison: Comparison) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    name = comparison.field
    if comparison.kind == "exact":
        return cl.ExactMatch(name)
    if comparison.kind == "overlap":
        return cl.ArrayIntersectAtSizes(name, [1])
    if comparison.kind == "email":
        return cl.CustomComparison(
            comparison_levels=[
                cll.NullLevel(name),
                cll.ExactMatchLevel(name),
                cll.ExactMatchLevel("email_user").configure(label_for_charts="same person part"),
                cll.ElseLevel(),
            ],
            output_column_name=name,
        )
    if comparison.similarity == "jaro_winkler":
        return cl.JaroWinklerAtThresholds(name, list(comparison.levels))
    # token_sort / token_set (rapidfuzz's Indel ratio) and levenshtein: DuckDB's Levenshtein distance over the
    # longer length, on the words sorted for the token kinds.
    compared = _sorted_tokens(name) if comparison.similarity != "levenshtein" else name
    return cl.CustomComparison(
        comparison_levels=[
            cll.NullLevel(name),
            cll.ExactMatchLevel(name),
            *[
                cll.CustomLevel(_normalised_levenshtein(compared, level), f"{comparison.similarity} >= {level}")
                for level in comparison.levels
            ],
            cll.ElseLevel(),
        ],
        output_column_name=name,
    )


def _predict_rule(rule: Sequence[str]) -> Any:
    """A blocking rule for prediction: set fields and ``name~1`` exploded, as crmgraph's blocks."""
    from splink import block_on

    columns, explode = [], []
    for name in rule:
        base = within_one_edit(name)
        column = _variants(base) if base is not None else name
        columns.append(column)
        if base is not None or name in SET_FIELDS:
            explode.append(column)
    return block_on(*columns, arrays_to_explode=explode or None)


def _training_rule(rule: Sequence[str]) -> str:
    """The same rule for an EM session, which takes no exploded rules: a set field's first value, the
    exact value of a ``name~1`` field (so Splink knows which comparison the rule fixes)."""
    terms = []
    for name in rule:
        base = within_one_edit(name) or name
        if base in SET_FIELDS:
            terms.append(f"l.{base}[1] = r.{base}[1]")
        else:
            terms.append(f"l.{base} = r.{base}")
    return " AND ".join(terms)


@dataclass
class SplinkRun:
    clusters: dict[float, list[int]]  # threshold -> cluster per row
    seconds: dict[str, float] = field(default_factory=dict)
    peak_mib: float = 0.0
    baseline_mib: float = 0.0
    pairs: int = 0
    prior: float = 0.0
    m_u: list[str] = field(default_factory=list)
    increment_seconds: float = 0.0
    increment_moved: int = 0
    failed_sessions: list[str] = field(default_factory=list)


def run_splink(path: Path, settings: MatchSettings, seed: int) -> SplinkRun:
    """In a fresh process: Splink with crmgraph's rules, trained without labels, clustered at THRESHOLDS.

    ``path``: the profiles as an Arrow file (:func:`splink_rows`), so that the process holds no Python
    objects of them and its peak RSS is Splink's."""
    import logging

    import pyarrow.feather as feather
    from splink import DuckDBAPI, Linker, SettingsCreator
    from splink.blocking_rule_library import CustomRule

    baseline = _peak_mib()
    seconds: dict[str, float] = {}
    clock = started = time.monotonic()
    db_api = DuckDBAPI()
    records = feather.read_table(path)
    table = db_api.register(records, table_name="records")
    model = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[splink_comparison(comparison) for comparison in settings.comparisons],
        blocking_rules_to_generate_predictions=[_predict_rule(rule) for rule in settings.blocking],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(table, model, log_level=logging.WARNING)
    seconds["load"] = time.monotonic() - clock

    clock = time.monotonic()
    deterministic = [CustomRule(_training_rule(rule)) for rule in settings.blocking[:3]]
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=PRIOR_RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    failed = []
    for rule in settings.blocking:
        before = linker._settings_obj.core_model_settings.copy()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(CustomRule(_training_rule(rule)))
        except ValueError as error:
            # Splink 5.0 refuses an m that EM drove to 0.0: the session is lost, and it leaves the model
            # without the comparisons the rule fixed (they would be missing from every later step).
            linker._settings_obj.core_model_settings = before
            failed.append(f"{_training_rule(rule)}: {str(error).split('.')[0]}")
    seconds["train"] = time.monotonic() - clock

    clock = time.monotonic()
    predictions = linker.inference.predict(threshold_match_probability=min(THRESHOLDS) - 0.01)
    pairs = predictions.as_duckdbpyrelation().aggregate("count(*)").fetchall()[0][0]
    seconds["predict"] = time.monotonic() - clock

    clock = time.monotonic()
    clusters: dict[float, list[int]] = {}
    for threshold in THRESHOLDS:
        clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
        label = [0] * records.num_rows
        for unique_id, cluster_id in clustered.as_duckdbpyrelation().select("unique_id, cluster_id").fetchall():
            label[int(unique_id)] = int(cluster_id)
        clusters[threshold] = label
    seconds["cluster"] = time.monotonic() - clock
    seconds["total"] = time.monotonic() - started
    increment_seconds, increment_labels = _splink_increment(linker, db_api, records, predictions)

    core = linker._settings_obj.core_model_settings
    described = []
    for comparison in core.comparisons:
        for level in comparison.comparison_levels:
            if not level.is_null_level:
                m, u = level.m_probability, level.u_probability
                weight = f"{level._log2_bayes_factor:+.1f}" if m and u else "n/a"
                described.append(f"{comparison.output_column_name}: {level.label_for_charts} w={weight}")
    return SplinkRun(
        clusters=clusters,
        seconds=seconds,
        peak_mib=_peak_mib(),
        baseline_mib=baseline,
        pairs=int(pairs),
        prior=float(core.probability_two_random_records_match),
        m_u=described,
        increment_seconds=increment_seconds,
        increment_moved=_moved(clusters[min(THRESHOLDS)], increment_labels),
        failed_sessions=failed,
    )


def _splink_increment(linker: Any, db_api: Any, records: Any, predictions: Any) -> tuple[float, list[int]]:
    """Splink's incremental linking with the trained model: 1 % of the records changed are scored against
    the others (``predict_between``) and among themselves (``predict_within``); the stored pairs that
    involve them are replaced by the new ones, and every pair is clustered again."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    threshold = min(THRESHOLDS)
    rows = pa.array(range(records.num_rows))
    changed_mask = pa.array([row % CHANGED_EVERY == 0 for row in range(records.num_rows)])
    started = time.monotonic()
    changed = db_api.register(records.filter(changed_mask), table_name="changed")
    others = db_api.register(records.filter(pc.invert(changed_mask)), table_name="unchanged")
    floor = threshold - 0.01
    between = linker.inference.predict_between(changed, others, threshold_match_probability=floor)
    within = linker.inference.predict_within(changed, threshold_match_probability=floor)
    columns = "unique_id_l, unique_id_r, match_probability"
    stored = predictions.as_duckdbpyrelation().select(columns)
    kept = stored.filter(f"unique_id_l % {CHANGED_EVERY} <> 0 AND unique_id_r % {CHANGED_EVERY} <> 0")
    edges = (
        kept.union(between.as_duckdbpyrelation().select(columns))
        .union(within.as_duckdbpyrelation().select(columns))
        .to_arrow_table()
    )
    clustered = cluster_pairwise_predictions_at_threshold(
        pa.table({"unique_id": rows}), edges, db_api, "unique_id", threshold_match_probability=threshold
    )
    label = [0] * records.num_rows
    for unique_id, cluster_id in clustered.as_duckdbpyrelation().select("unique_id, cluster_id").fetchall():
        label[int(unique_id)] = int(cluster_id)
    return time.monotonic() - started, label


def _arrow_file(profiles: Sequence[Profile], settings: MatchSettings, path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.feather as feather

    feather.write_feather(pa.table(splink_rows(profiles, settings)), path)
    return path


def in_fresh_process(function: Any, *args: Any) -> Any:
    """Run ``function`` in a new interpreter, so that its peak RSS is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


# ----------------------------------------------------------------------------------------------- scoring


def _with_xrefs(labels: Mapping[SourceRecord, object], profiles: Sequence[Profile]) -> dict[SourceRecord, int]:
    """Clusters joined along the records' declared cross-references (crmgraph joins those before scoring)."""
    parent: dict[object, object] = {}

    def find(node: object) -> object:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for profile in profiles:
        for other in profile.xrefs:
            if other in labels:
                parent[find(labels[profile.key])] = find(labels[other])
    roots: dict[object, int] = {}
    return {key: roots.setdefault(find(label), len(roots)) for key, label in labels.items()}


def mistakes(
    labels: Mapping[SourceRecord, object], profiles: Sequence[Profile], truth: Mapping[SourceRecord, str]
) -> str:
    """Golden records holding two tax ids; golden records joining distinct companies that share a name."""
    members: defaultdict[object, list[Profile]] = defaultdict(list)
    for profile in profiles:
        members[labels[profile.key]].append(profile)
    two_tax_ids = namesakes = wrong = 0
    for group in members.values():
        tax_ids = {p.values.get("tax_id") for p in group} - {None}
        two_tax_ids += len(tax_ids) > 1
        parties = {truth.get(p.key) for p in group} - {None}
        if len(parties) > 1:
            wrong += 1
            names_by_party: defaultdict[str, set[object]] = defaultdict(set)
            for p in group:
                if p.key in truth and p.values.get("name"):
                    names_by_party[truth[p.key]].add(p.values.get("name"))
            shared = Counter(name for names in names_by_party.values() for name in names)
            namesakes += any(count > 1 for count in shared.values())
    biggest = max((len(group) for group in members.values()), default=0)
    return (
        f"{two_tax_ids:,} golden records with two tax ids; {wrong:,} holding records of two or more true companies, "
        f"{namesakes:,} of them joining namesakes; largest golden record {biggest} records"
    )


# ---------------------------------------------------------------------------------------------- the run


def read_estate(customers: int, seed: int, data_root: Path) -> tuple[
    dict[SourceRecord, PartyRecord], dict[SourceRecord, PersonRecord], dict[str, dict[SourceRecord, str]], float
]:  # fmt: skip
    layout = seeded_estate(customers, seed, data_root)
    truth = read_truth(layout.ground_truth)
    with estate_process(layout.root, customers=customers, seed=seed) as urls:
        parties, persons, seconds = scan_estate(config_text(urls))
        return parties, persons, truth, seconds


def run(customers: int, seed: int, with_persons: bool, data_root: Path) -> None:
    parties, persons, truth, read_s = read_estate(customers, seed, data_root)
    print(f"\n### {customers:,} customers, seed {seed}\n")
    print(f"{len(parties):,} party and {len(persons):,} person records read in {read_s:.1f} s.\n")

    ours: CrmgraphRun = in_fresh_process(run_crmgraph, parties, persons)
    del parties, persons
    config = IdentityConfig()
    work = Path(tempfile.mkdtemp())
    started = time.monotonic()
    companies_file = _arrow_file(ours.company_profiles, config.companies, work / "companies.arrow")
    persons_file = _arrow_file(ours.person_profiles, config.persons, work / "persons.arrow") if with_persons else None
    arrow_s = time.monotonic() - started
    splink_companies: SplinkRun = in_fresh_process(run_splink, companies_file, config.companies, seed)
    splink_persons: SplinkRun | None = None
    if persons_file is not None:
        splink_persons = in_fresh_process(run_splink, persons_file, config.persons, seed)

    keys_c = [p.key for p in ours.company_profiles]
    keys_p = [p.key for p in ours.person_profiles]
    rows: list[tuple[str, dict[SourceRecord, Any], dict[SourceRecord, Any] | None]] = [
        ("crmgraph", ours.companies, ours.persons)
    ]
    for threshold in THRESHOLDS:
        companies = dict(zip(keys_c, splink_companies.clusters[threshold], strict=True))
        people = dict(zip(keys_p, splink_persons.clusters[threshold], strict=True)) if splink_persons else None
        rows.append((f"Splink {threshold}", companies, people))
        rows.append(
            (
                f"Splink {threshold} + cross-references",
                _with_xrefs(companies, ours.company_profiles),
                _with_xrefs(people, ours.person_profiles) if people is not None else None,
            )
        )
    print("| linking | records | P | R | F1 | P cross-system | R | F1 | P within systems | R | F1 | golden / true |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, companies, people in rows:
        print(_line(name, "companies", evaluate("companies", companies, truth["companies"])))
        if people is not None:
            print(_line(name, "people", evaluate("persons", people, truth["persons"])))

    print("\nCompanies, what went wrong:\n")
    for name, companies, _ in rows:
        print(f"- {name}: {mistakes(companies, ours.company_profiles, truth['companies'])}")

    print(
        f"\ncrmgraph `resolve` (companies and people): {ours.seconds:.1f} s, of which {ours.match_seconds:.1f} s "
        f"matching (block, compare, estimate, cluster) and the rest building profiles; peak RSS "
        f"{ours.peak_mib:,.0f} MiB ({ours.baseline_mib:,.0f} MiB of it before matching: interpreter and records); "
        f"{ours.pairs[0]:,} company and {ours.pairs[1]:,} person pairs compared; prior of a random company pair "
        f"{ours.prior:.2e}."
    )
    print(f"crmgraph's profiles written as Arrow tables for Splink: {arrow_s:.1f} s.")
    for kind, result in (("companies", splink_companies), ("people", splink_persons)):
        if result is None:
            continue
        steps = ", ".join(f"{step} {value:.1f} s" for step, value in result.seconds.items())
        print(
            f"Splink, {kind}: {steps}; peak RSS {result.peak_mib:,.0f} MiB ({result.baseline_mib:,.0f} MiB of it "
            f"before matching: interpreter and Arrow table); {result.pairs:,} pairs predicted at >= "
            f"{min(THRESHOLDS) - 0.01}; prior {result.prior:.2e}."
        )
        for failure in result.failed_sessions:
            print(f"    EM session failed and skipped: {failure}")
    print(
        f"\nIncremental company run, 1 in {CHANGED_EVERY} records changed: crmgraph (stored model, pairs of changed "
        f"records, the rest kept) {ours.increment_seconds:.1f} s, {ours.increment_moved:,} records in another golden "
        f"record than the full run; Splink (predict_between + predict_within, stored pairs replaced, all clustered "
        f"again at {min(THRESHOLDS)}) {splink_companies.increment_seconds:.1f} s, "
        f"{splink_companies.increment_moved:,} records moved."
    )
    print("\nSplink's company weights (log2 m/u):\n")
    print("\n".join(f"    {line}" for line in splink_companies.m_u))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, action="append", help="repeatable; default: 11 and 12345")
    parser.add_argument("--no-persons", dest="persons", action="store_false", help="match companies only")
    parser.add_argument("--data-root", type=Path, default=Path("var/bench-identity"))
    args = parser.parse_args()
    for seed in args.seed or [11, 12345]:
        run(args.customers, seed, args.persons, args.data_root)


if __name__ == "__main__":
    main()
