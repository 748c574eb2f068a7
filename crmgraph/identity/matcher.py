"""Matching one kind of record: profiles in, clusters and review candidates out.

normalise (profiles) -> block (candidate pairs) -> compare (grades) -> score (Fellegi-Sunter, EM)
-> cluster (constrained) -> review candidates (pairs between the two thresholds, and strong pairs a
constraint kept apart).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from crmgraph.identity.blocking import BlockingReport, Pairs, candidate_pairs, rule_mask
from crmgraph.identity.clustering import Joined, SoleCandidates, cluster
from crmgraph.identity.columns import Table
from crmgraph.identity.comparisons import Grades, grade, grade_names
from crmgraph.identity.fellegi_sunter import (
    Model,
    estimate_by_rules,
    grade_patterns,
    probability,
    u_from_random_pairs,
)
from crmgraph.identity.profiles import Profile, SourceRecord
from crmgraph.identity.settings import WITHIN_ONE_EDIT, Comparison, MatchSettings

Kept = tuple[int, str, float]  # (golden id, rule, confidence) of a record an incremental run leaves alone


@dataclass(frozen=True)
class Evidence:
    """What one comparison said about a pair: the grade and the weight it added."""

    field: str
    grade: str
    weight: float
    left: str | None
    right: str | None


@dataclass(frozen=True)
class Candidate:
    """A pair for a steward: scored between the thresholds, or strong but kept apart by a constraint."""

    row: int  # the pair's row among the scored pairs (for :meth:`MatchResult.explain`)
    left: int
    right: int
    probability: float
    weight: float
    why: str  # "score" | "distinct:<field>" | ...


@dataclass
class MatchReport:
    records: int = 0
    blocking: BlockingReport = field(default_factory=BlockingReport)
    patterns: int = 0
    linked_pairs: int = 0
    clusters: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class MatchResult:
    profiles: Sequence[Profile]
    table: Table
    settings: MatchSettings
    model: Model
    labels: npt.NDArray[np.int64]
    joined: list[Joined]
    review: list[Candidate]
    pairs: Pairs
    grades: Grades
    weights: npt.NDArray[np.float64]
    report: MatchReport

    def clusters(self) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        for row, label in enumerate(self.labels):
            found.setdefault(int(label), []).append(row)
        return found

    def explain(self, row: int) -> list[Evidence]:
        """Per comparison, the grade pair ``row`` got and the weight it added (the waterfall)."""
        weights = self.model.weights()
        left, right = self.profiles[int(self.pairs[row, 0])], self.profiles[int(self.pairs[row, 1])]
        evidence: list[Evidence] = []
        for index, comparison in enumerate(self.settings.comparisons):
            level = int(self.grades[row, index])
            evidence.append(
                Evidence(
                    field=comparison.field,
                    grade="missing" if level < 0 else grade_names(comparison)[level],
                    weight=0.0 if level < 0 else weights[index][level],
                    left=_shown(left.values.get(comparison.field)),
                    right=_shown(right.values.get(comparison.field)),
                )
            )
        return evidence


def _shown(value: object) -> str | None:
    if isinstance(value, frozenset):
        return ", ".join(sorted(value))
    return value if isinstance(value, str) else None


def _estimate(table: Table, pairs: Pairs, grades: Grades, settings: MatchSettings) -> Model:
    """The model, from the data alone: u from random pairs, m per blocking rule, the prior of a random pair.

    Twice: the first model tells which sampled random pairs are matches, and u is learnt again without them.
    """
    grades_per = [comparison.grades for comparison in settings.comparisons]
    sample = grade(table, random_pairs(len(table), settings.u_sample), settings.comparisons)
    sessions = [
        (rule_mask(table, pairs, rule), {c for c, comp in enumerate(settings.comparisons) if _fixed_by(comp, rule)})
        for rule in settings.blocking
    ]
    matching: npt.NDArray[np.float64] | None = None
    model: Model | None = None
    for _ in range(2):
        u = u_from_random_pairs(sample, grades_per, matching)
        fitted = estimate_by_rules(
            grades, grades_per, sessions, prior=settings.prior, iterations=settings.iterations, u=u
        )
        model = Model(random_pair_prior(fitted.prior, len(pairs), len(table)), fitted.m, fitted.u, fitted.iterations)
        matching = probability(model.score(sample))
    assert model is not None
    return model


def _sole_candidates(settings: MatchSettings, model: Model, grades: Grades) -> SoleCandidates | None:
    join_at = settings.thresholds.sole
    if join_at is None:
        return None
    against = np.zeros(len(grades), dtype=bool)
    for index, level_weights in enumerate(model.weights()):
        column = grades[:, index]
        negative = np.asarray(level_weights) < 0
        against |= (column >= 0) & negative[np.maximum(column, 0)]
    return SoleCandidates(settings.thresholds.review, join_at, ~against)


def _fixed_by(comparison: Comparison, rule: Sequence[str]) -> bool:
    """Whether a blocking rule's pairs all agree on what ``comparison`` grades (then it says nothing there);
    ``name~1`` fixes ``name`` too: its pairs are chosen for names (nearly) alike."""
    return any(name.removesuffix(WITHIN_ONE_EDIT) == comparison.field for name in rule)


def random_pair_prior(share_among_candidates: float, candidates: int, records: int) -> float:
    """The chance that two records drawn at random match: the prior every pair is scored with.

    EM estimates the share of matches among the *candidate* pairs, which blocking chose for agreeing on
    something; taken as the prior it would make every candidate likely. Blocking is built to find
    (nearly) every match, so the matches it found, over all possible pairs, is the prior of any pair.
    """
    every = records * (records - 1) / 2
    if every <= 0:
        return share_among_candidates
    return float(min(max(share_among_candidates * candidates / every, 1e-12), 0.5))


def random_pairs(records: int, count: int, seed: int = 0) -> Pairs:
    """``count`` pairs of distinct records drawn at random (the same draw for the same input)."""
    if records < 2:
        return np.empty((0, 2), dtype=np.int64)
    rng = np.random.default_rng(seed)
    left = rng.integers(0, records, size=count)
    right = (left + rng.integers(1, records, size=count)) % records  # never the record itself
    return np.sort(np.stack((left, right), axis=1), axis=1)


def _kept_pairs(index: Mapping[SourceRecord, int], kept: Mapping[SourceRecord, Kept]) -> list[tuple[int, int, str]]:
    """Chains that hold the unchanged members of each golden record together."""
    groups: dict[int, list[int]] = {}
    for key, (golden, _, _) in kept.items():
        if key in index:
            groups.setdefault(golden, []).append(index[key])
    return [(a, b, "keep") for rows in groups.values() for a, b in pairwise(sorted(rows))]


def _forced_pairs(
    profiles: Sequence[Profile], index: dict[SourceRecord, int], must_link: Iterable[tuple[SourceRecord, SourceRecord]]
) -> list[tuple[int, int, str]]:
    forced = [(index[a], index[b], "steward") for a, b in must_link if a in index and b in index]
    for row, profile in enumerate(profiles):
        forced.extend((row, index[target], "xref") for target in profile.xrefs if target in index)
    return forced


def match(
    profiles: Sequence[Profile],
    settings: MatchSettings,
    set_fields: frozenset[str],
    *,
    must_link: Iterable[tuple[SourceRecord, SourceRecord]] = (),
    cannot_link: Iterable[tuple[SourceRecord, SourceRecord]] = (),
    model: Model | None = None,
    changed: set[SourceRecord] | None = None,
    kept: Mapping[SourceRecord, Kept] | None = None,
) -> MatchResult:
    """Match ``profiles`` into clusters. With ``model`` given, its parameters are used as they are.

    An incremental run names the ``changed`` records: only pairs with a changed record are compared, and
    the other records stay in the golden records they are ``kept`` in (golden id, rule, confidence).
    """
    report = MatchReport(records=len(profiles))
    clock = time.monotonic()
    table = Table(profiles, set_fields)
    pairs, report.blocking = candidate_pairs(table, settings.blocking, settings.max_block)
    index = {profile.key: row for row, profile in enumerate(profiles)}
    if changed is not None:
        touched = np.zeros(len(profiles), dtype=bool)
        touched[[index[key] for key in changed if key in index]] = True
        pairs = pairs[touched[pairs[:, 0]] | touched[pairs[:, 1]]]
        report.blocking.pairs = len(pairs)
    report.seconds["block"] = time.monotonic() - clock

    clock = time.monotonic()
    grades = grade(table, pairs, settings.comparisons)
    report.patterns = len(grade_patterns(grades)[0])
    report.seconds["compare"] = time.monotonic() - clock

    clock = time.monotonic()
    if model is None:
        model = _estimate(table, pairs, grades, settings)
    weights = model.score(grades)
    probabilities = probability(weights)
    report.seconds["estimate"] = time.monotonic() - clock

    clock = time.monotonic()
    cannot = [(index[a], index[b]) for a, b in cannot_link if a in index and b in index]
    forced = _kept_pairs(index, kept or {}) + _forced_pairs(profiles, index, must_link)
    result = cluster(
        table,
        settings.distinct,
        forced=forced,
        cannot=cannot,
        pairs=pairs,
        probabilities=probabilities,
        link_at=settings.thresholds.link,
        sole=_sole_candidates(settings, model, grades),
    )
    for key, (_, rule, confidence) in (kept or {}).items():
        kept_row = index.get(key)
        if kept_row is not None and result.joined[kept_row].rule in ("keep", "self"):
            result.joined[kept_row] = Joined(rule, confidence)
    labels = result.labels
    review: list[Candidate] = []
    apart = labels[pairs[:, 0]] != labels[pairs[:, 1]]
    between = np.flatnonzero(apart & (probabilities >= settings.thresholds.review))
    refused = {(i, j): why for i, j, why in result.refused}
    for row in between:
        i, j = int(pairs[row, 0]), int(pairs[row, 1])
        why = refused.get((i, j), "score" if probabilities[row] < settings.thresholds.link else "constraint")
        review.append(Candidate(int(row), i, j, float(probabilities[row]), float(weights[row]), why))
    review.sort(key=lambda candidate: -candidate.weight)
    report.linked_pairs = int(np.count_nonzero(~apart))
    report.clusters = len(np.unique(labels))
    report.seconds["cluster"] = time.monotonic() - clock
    return MatchResult(profiles, table, settings, model, labels, result.joined, review, pairs, grades, weights, report)
