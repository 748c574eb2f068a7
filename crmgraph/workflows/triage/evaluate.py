"""How well a model triages tickets it was not trained on: precision, recall and F1 per class, and their
unweighted mean over the classes (macro), per target."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

from crmgraph.workflows.triage.dataset import LabelledTicket, pairs
from crmgraph.workflows.triage.model import TriageModel
from crmgraph.workflows.triage.verdict import Triage


@dataclass(frozen=True)
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class TargetScore:
    target: str  # severity | category | tags
    classes: tuple[ClassScore, ...]
    macro_precision: float
    macro_recall: float
    macro_f1: float
    accuracy: float  # for tags: the share of tickets whose tag set is exactly right


@dataclass(frozen=True)
class Evaluation:
    tickets: int
    targets: dict[str, TargetScore]

    def macro_f1(self, target: str) -> float:
        return self.targets[target].macro_f1


def score(target: str, truth: Sequence[str], predicted: Sequence[str]) -> TargetScore:
    labels = sorted(set(truth) | set(predicted))
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    classes = tuple(
        ClassScore(label, float(p[i]), float(r[i]), float(f[i]), int(s[i])) for i, label in enumerate(labels)
    )
    present = [c for c in classes if c.support]  # a class only ever predicted, never true, is not averaged
    return TargetScore(
        target,
        classes,
        _mean(c.precision for c in present),
        _mean(c.recall for c in present),
        _mean(c.f1 for c in present),
        float(accuracy_score(truth, predicted)),
    )


def score_tags(truth: Sequence[tuple[str, ...]], predicted: Sequence[tuple[str, ...]]) -> TargetScore:
    binariser = MultiLabelBinarizer().fit(list(truth) + list(predicted))
    t, q = binariser.transform(truth), binariser.transform(predicted)
    p, r, f, s = precision_recall_fscore_support(t, q, zero_division=0)
    classes = tuple(
        ClassScore(str(label), float(p[i]), float(r[i]), float(f[i]), int(s[i]))
        for i, label in enumerate(binariser.classes_)
    )
    present = [c for c in classes if c.support]
    exact = sum(set(a) == set(b) for a, b in zip(truth, predicted, strict=True)) / max(len(truth), 1)
    return TargetScore(
        "tags",
        classes,
        _mean(c.precision for c in present),
        _mean(c.recall for c in present),
        _mean(c.f1 for c in present),
        exact,
    )


def evaluate_verdicts(tickets: Sequence[LabelledTicket], verdicts: Sequence[Triage]) -> Evaluation:
    return Evaluation(
        len(tickets),
        {
            "severity": score("severity", [t.label.severity for t in tickets], [v.severity for v in verdicts]),
            "category": score("category", [t.label.category for t in tickets], [v.category for v in verdicts]),
            "tags": score_tags([t.label.tags for t in tickets], [v.tags for v in verdicts]),
        },
    )


def evaluate(model: TriageModel, tickets: Sequence[LabelledTicket]) -> Evaluation:
    """The model's scores on ``tickets`` (the held-out ones, to mean anything)."""
    if not tickets:
        raise ValueError("no ticket to evaluate on")
    return evaluate_verdicts(tickets, model.predict(pairs(tickets)))


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0
