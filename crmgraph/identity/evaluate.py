"""Scoring a linking against a ground truth: precision, recall and F1 on record pairs.

A *pair* is two records put in one golden record. Precision is the share of predicted pairs that are
truly one party (or person); recall the share of true pairs that were predicted. Both are counted
overall, across systems, within each system (duplicates) and per pair of systems, from cluster sizes
(no pair is ever listed, so a 100,000-customer estate scores in a second).

The truth file is the seed's ``ground_truth.csv``: one row per source record with ``party``, ``person``
(empty for companies), ``system``, ``object`` and ``source_id``; rows whose ``person`` is set are people.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations_with_replacement
from pathlib import Path

SourceRecord = tuple[str, str]


@dataclass(frozen=True)
class PairScore:
    scope: str  # "all", "cross-system", "within systems", "crm~erp", "crm~crm", ...
    predicted: int
    true: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.true if self.true else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class Evaluation:
    kind: str  # "companies" | "persons"
    records: int
    golden: int  # golden records holding the truth's records
    entities: int  # true parties (or persons)
    unscored: int  # linked records the truth does not know
    scores: list[PairScore]

    def score(self, scope: str) -> PairScore:
        return next(score for score in self.scores if score.scope == scope)


def read_truth(path: Path) -> dict[str, dict[SourceRecord, str]]:
    """{"companies": {(system, source id): party}, "persons": {(system, source id): person}}."""
    truth: dict[str, dict[SourceRecord, str]] = {"companies": {}, "persons": {}}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"party", "person", "system", "source_id"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: the truth file lacks the column(s) {', '.join(sorted(missing))}")
        for row in reader:
            if row["person"]:
                truth["persons"][(row["system"], row["source_id"])] = row["person"]
            else:
                truth["companies"][(row["system"], row["source_id"])] = row["party"]
    return truth


def _pairs_by_system(counts: Mapping[str, int]) -> Counter[tuple[str, str]]:
    pairs: Counter[tuple[str, str]] = Counter()
    for a, b in combinations_with_replacement(sorted(counts), 2):
        pairs[(a, b)] += counts[a] * (counts[a] - 1) // 2 if a == b else counts[a] * counts[b]
    return pairs


def _group_pairs(groups: Iterable[Iterable[str]]) -> Counter[tuple[str, str]]:
    total: Counter[tuple[str, str]] = Counter()
    for systems in groups:
        total.update(_pairs_by_system(Counter(systems)))
    return total


def evaluate(kind: str, predicted: Mapping[SourceRecord, object], truth: Mapping[SourceRecord, str]) -> Evaluation:
    """Score ``predicted`` (record -> golden id) against ``truth`` (record -> true entity).

    Truth records the linking never saw count as golden records of their own.
    """
    clusters: defaultdict[object, list[str]] = defaultdict(list)
    entities: defaultdict[str, list[str]] = defaultdict(list)
    both: defaultdict[tuple[object, str], list[str]] = defaultdict(list)
    for record, entity in truth.items():
        golden = predicted.get(record, ("unseen", record))
        clusters[golden].append(record[0])
        entities[entity].append(record[0])
        both[(golden, entity)].append(record[0])
    predicted_pairs = _group_pairs(clusters.values())
    true_pairs = _group_pairs(entities.values())
    correct_pairs = _group_pairs(both.values())
    scopes: dict[str, list[tuple[str, str]]] = {
        "all": list(set(predicted_pairs) | set(true_pairs)),
    }
    scopes["cross-system"] = [p for p in scopes["all"] if p[0] != p[1]]
    scopes["within systems"] = [p for p in scopes["all"] if p[0] == p[1]]
    for pair in sorted(scopes["all"]):
        scopes[f"{pair[0]}~{pair[1]}"] = [pair]
    scores = [
        PairScore(
            scope,
            sum(predicted_pairs[p] for p in members),
            sum(true_pairs[p] for p in members),
            sum(correct_pairs[p] for p in members),
        )
        for scope, members in scopes.items()
    ]
    return Evaluation(
        kind=kind,
        records=len(truth),
        golden=len(clusters),
        entities=len(entities),
        unscored=sum(1 for record in predicted if record not in truth),
        scores=scores,
    )
