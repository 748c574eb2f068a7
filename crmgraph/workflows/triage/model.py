"""The trained triage model: TF-IDF over character n-grams, and a linear classifier per target.

Character n-grams (``char_wb``, 1 to 4 characters) read Chinese without a word segmenter and shrug off
typos in English: ``acocunt`` still shares most of its n-grams with ``account``. One vectoriser feeds a
logistic regression for severity, one for category, and one per tag (one-vs-rest; a ticket gets every tag
whose probability passes one half, and at least its likeliest).

"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer
from threadpoolctl import threadpool_limits

from crmgraph.workflows.triage.texts import language, normalise
from crmgraph.workflows.triage.verdict import Triage

Step = Callable[[str], None]  # called as each part of the training starts, with its name
TRAINING_STEPS = ("features", "severity", "category", "tags")
TAG_THRESHOLD = 0.5


def _vectoriser() -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2, max_features=200_000, dtype=np.float32
    )


def _linear() -> LogisticRegression:
    # Balanced classes: the rare ones (urgent, complaint) weigh as much in macro-F1 as the common ones.
    return LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000)


@dataclass
class TriageModel:
    vectoriser: TfidfVectorizer
    severity: LogisticRegression
    category: LogisticRegression
    # The tags' one-vs-rest logistic regressions, stacked: one row of weights and one bias per tag (one
    # matrix product answers them all; twenty estimators each validating its input cost far more).
    tag_weights: np.ndarray[Any, np.dtype[np.float32]]
    tag_bias: np.ndarray[Any, np.dtype[np.float32]]
    tag_names: tuple[str, ...]
    name: str = "model"

    @classmethod
    def fit(
        cls,
        tickets: Sequence[tuple[str, str]],
        severities: Sequence[str],
        categories: Sequence[str],
        tags: Sequence[Sequence[str]],
        step: Step | None = None,
    ) -> TriageModel:
        """Train on (subject, text) pairs and their labels; each target needs two classes or more."""
        for target, values in (("severity", severities), ("category", categories)):
            if len(set(values)) < 2:
                raise ValueError(f"{target}: the training tickets hold fewer than two classes")
        # One BLAS thread: the problems are small, and several threads on a busy machine run many times slower.
        with threadpool_limits(limits=1):
            return cls._fit(tickets, severities, categories, tags, step or (lambda _name: None))

    @classmethod
    def _fit(
        cls,
        tickets: Sequence[tuple[str, str]],
        severities: Sequence[str],
        categories: Sequence[str],
        tags: Sequence[Sequence[str]],
        announce: Step,
    ) -> TriageModel:
        announce("features")
        vectoriser = _vectoriser()
        features = vectoriser.fit_transform(normalise(subject, text) for subject, text in tickets)
        announce("severity")
        severity = _linear().fit(features, list(severities))
        announce("category")
        category = _linear().fit(features, list(categories))
        announce("tags")
        binariser = MultiLabelBinarizer()
        matrix = binariser.fit_transform([tuple(t) for t in tags])
        # A tag every ticket has (or none has) teaches nothing one-vs-rest can fit: keep the others.
        useful = [i for i in range(matrix.shape[1]) if 0 < matrix[:, i].sum() < matrix.shape[0]]
        tag_names = tuple(str(binariser.classes_[i]) for i in useful)
        weights = np.zeros((len(useful), features.shape[1]), dtype=np.float32)
        bias = np.zeros(len(useful), dtype=np.float32)
        if useful:
            tagger = OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=2000)).fit(features, matrix[:, useful])
            weights = np.vstack([e.coef_[0] for e in tagger.estimators_]).astype(np.float32)
            bias = np.array([e.intercept_[0] for e in tagger.estimators_], dtype=np.float32)
        return cls(vectoriser, severity, category, weights, bias, tag_names)

    @property
    def labels(self) -> dict[str, list[str]]:
        """The label sets the model predicts from, per target."""
        return {
            "severity": [str(c) for c in self.severity.classes_],
            "category": [str(c) for c in self.category.classes_],
            "tags": list(self.tag_names),
        }

    def predict(self, tickets: Sequence[tuple[str, str]]) -> list[Triage]:
        """One verdict per (subject, text), in order."""
        if not tickets:
            return []
        features = self.vectoriser.transform([normalise(subject, text) for subject, text in tickets])
        severity = _probabilities(self.severity, features)
        category = _probabilities(self.category, features)
        tagged = 1.0 / (1.0 + np.exp(-(features @ self.tag_weights.T + self.tag_bias)))
        verdicts: list[Triage] = []
        for n, (subject, text) in enumerate(tickets):
            s, c = int(severity[n].argmax()), int(category[n].argmax())
            tags: tuple[str, ...] = ()
            if self.tag_names:
                row = tagged[n]
                chosen = [i for i in np.argsort(-row) if row[i] >= TAG_THRESHOLD] or [int(row.argmax())]
                tags = tuple(self.tag_names[i] for i in chosen)
            verdicts.append(
                Triage(
                    severity=str(self.severity.classes_[s]),
                    category=str(self.category.classes_[c]),
                    tags=tags,
                    confidence=round(float(severity[n][s] * category[n][c]), 4),
                    classifier=self.name,
                    language=language(subject, text),
                )
            )
        return verdicts


def _probabilities(fitted: LogisticRegression, features: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """``predict_proba`` of a fitted logistic regression, as the product it is (without re-validating the
    input, which costs more than the product on a batch of one)."""
    scores = np.asarray(features @ fitted.coef_.T + fitted.intercept_, dtype=np.float64)
    if scores.shape[1] == 1:  # two classes: one column of log-odds for the second
        positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
        return np.column_stack([1.0 - positive, positive])
    scores -= scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


class ModelClassifier:
    """The trained model behind the :class:`TicketClassifier` interface; predictions run in a worker thread
    so that a large batch does not hold up the event loop."""

    def __init__(self, model: TriageModel) -> None:
        self.model = model

    async def classify(self, tickets: list[tuple[str, str]]) -> list[Triage]:
        return await asyncio.to_thread(self.model.predict, tickets)
