"""The Fellegi-Sunter model: how much each grade of each comparison says about two records being one.

For comparison ``c`` and grade ``g``, ``m[c][g]`` is the probability of that grade among pairs that are
the same entity, ``u[c][g]`` among pairs that are not. A pair's match weight is the log2 prior odds
plus, per comparison it has evidence for, ``log2(m / u)``; the match probability follows from it. A
missing value adds nothing.

The model is estimated from the data alone by expectation-maximisation (no labelled pairs): candidate
pairs are a mixture of matches and non-matches, and EM finds the ``m``, ``u`` and share of matches that
explain the grades best, assuming comparisons are independent given match status. Pairs with the same
grades on every comparison are one pattern, so each iteration costs patterns, not pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from crmgraph.identity.comparisons import Grades

FloatArray = npt.NDArray[np.float64]
EPSILON = 1e-6  # no grade is ever impossible: one unseen grade must not veto a pair
CONVERGED = 1e-6


@dataclass
class Model:
    """Estimated parameters: per comparison, m and u per grade; the prior share of matching pairs."""

    prior: float
    m: list[list[float]]
    u: list[list[float]]
    iterations: int = 0

    def weights(self) -> list[list[float]]:
        """log2(m / u) per comparison and grade: what each grade adds to a pair's match weight."""
        return [
            [float(np.log2(max(mi, EPSILON) / max(ui, EPSILON))) for mi, ui in zip(m, u, strict=True)]
            for m, u in zip(self.m, self.u, strict=True)
        ]

    def prior_weight(self) -> float:
        return float(np.log2(self.prior / (1 - self.prior)))

    def score(self, grades: Grades) -> FloatArray:
        """Match weight of each pair (rows of ``grades``)."""
        total = np.full(len(grades), self.prior_weight())
        for index, weights in enumerate(self.weights()):
            column = grades[:, index]
            table = np.asarray([*weights, 0.0])  # grade -1 (missing) reads the trailing 0
            total += table[column.astype(np.int64)]
        return total

    def to_json(self) -> dict[str, object]:
        return {"prior": self.prior, "m": self.m, "u": self.u, "iterations": self.iterations}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Model:
        return cls(
            prior=float(data["prior"]),  # type: ignore[arg-type]
            m=[list(map(float, row)) for row in data["m"]],  # type: ignore[attr-defined]
            u=[list(map(float, row)) for row in data["u"]],  # type: ignore[attr-defined]
            iterations=int(data.get("iterations", 0)),  # type: ignore[call-overload]
        )


def probability(weight: FloatArray | float) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.power(2.0, -np.asarray(weight, dtype=np.float64))))


def _initial(grades_per: Sequence[int], patterns: Grades, counts: FloatArray, prior: float) -> Model:
    """m leans to agreement, u is the grades' share among all candidate pairs (mostly non-matches)."""
    m: list[list[float]] = []
    u: list[list[float]] = []
    for index, grades in enumerate(grades_per):
        column = patterns[:, index]
        observed = np.array([counts[column == g].sum() for g in range(grades)]) + 1.0
        u.append(list(observed / observed.sum()))
        lean = np.array([2.0**g for g in range(grades)])
        lean[-1] *= 8  # exact agreement is by far the most common grade among matches
        m.append(list(lean / lean.sum()))
    return Model(prior, m, u)


def u_from_random_pairs(
    grades: Grades, grades_per: Sequence[int], matching: FloatArray | None = None
) -> list[list[float]]:
    """u per comparison from the grades of randomly drawn pairs, nearly all of which are non-matches.

    Blocked pairs are the wrong sample for u: blocking picks pairs that agree on something, and where it
    finds almost only matches (a file of duplicates) the non-matches' grades cannot be learnt from them.
    Random pairs hold a few matches too, and for a strong key they are most of its agreements (two random
    records share an e-mail address mostly when they are one person): ``matching``, each sampled pair's
    match probability under a first model, takes them out. Half a pair is added to every grade, so a grade
    never seen among non-matches is rare, not impossible.
    """
    keep = np.ones(len(grades)) if matching is None else 1.0 - matching
    u: list[list[float]] = []
    for index, count in enumerate(grades_per):
        column = grades[:, index]
        seen = np.array([keep[column == g].sum() for g in range(count)], dtype=np.float64) + 0.5
        u.append(list(seen / seen.sum()))
    return u


def grade_patterns(grades: Grades) -> tuple[Grades, FloatArray]:
    """The distinct rows of ``grades`` (grade patterns) and how many pairs have each.

    Each row is packed into one integer first: ``np.unique(axis=0)`` sorts rows as records, which on
    millions of pairs takes seconds where a sort of integers takes a fraction of one.
    """
    if len(grades) == 0:
        return grades[:0], np.zeros(0)
    radix = int(grades.max()) + 2  # grades run from -1 (missing) up
    if radix ** grades.shape[1] >= 2**62:  # too many comparisons to pack: rows it is
        patterns, counts = np.unique(grades, axis=0, return_counts=True)
        return patterns, counts.astype(np.float64)
    keys = np.zeros(len(grades), dtype=np.int64)
    for index in range(grades.shape[1]):
        keys = keys * radix + (grades[:, index].astype(np.int64) + 1)
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    return grades[first], counts.astype(np.float64)


def estimate(
    grades: Grades,
    grades_per: Sequence[int],
    *,
    prior: float,
    iterations: int,
    u: list[list[float]] | None = None,
) -> Model:
    """EM over the grade patterns of the candidate pairs.

    ``grades_per[c]`` is the number of grades of comparison ``c`` (missing aside). With ``u`` given (see
    :func:`u_from_random_pairs`) only m and the share of matches are estimated, as Splink does.
    """
    fixed_u = u is not None
    if len(grades) == 0:
        model = _initial(grades_per, grades, np.zeros(0), prior)
        return Model(model.prior, model.m, u) if u is not None else model
    patterns, counts = grade_patterns(grades)
    model = _initial(grades_per, patterns, counts, prior)
    if u is not None:
        model = Model(model.prior, model.m, u)
    for step in range(1, iterations + 1):
        weights = model.score(patterns)
        p_match = probability(weights)  # E-step: each pattern's chance of being a match
        matched, unmatched = counts * p_match, counts * (1.0 - p_match)
        new_m: list[list[float]] = []
        new_u: list[list[float]] = []
        for index, grades_count in enumerate(grades_per):
            column = patterns[:, index]
            m_counts = np.array([matched[column == g].sum() for g in range(grades_count)]) + EPSILON
            u_counts = np.array([unmatched[column == g].sum() for g in range(grades_count)]) + EPSILON
            new_m.append(list(m_counts / m_counts.sum()))
            new_u.append(list(u_counts / u_counts.sum()) if not fixed_u else model.u[index])
        new_prior = float(np.clip(matched.sum() / counts.sum(), EPSILON, 1 - EPSILON))
        change = max(
            abs(new_prior - model.prior),
            max(
                abs(a - b)
                for row_a, row_b in zip(new_m, model.m, strict=True)
                for a, b in zip(row_a, row_b, strict=True)
            ),
        )
        model = Model(new_prior, new_m, new_u, step)
        if change < CONVERGED:
            break
    return model


MIN_SESSION = 30  # pairs a blocking rule must yield for its own estimate of m


def estimate_by_rules(
    grades: Grades,
    grades_per: Sequence[int],
    sessions: Sequence[tuple[npt.NDArray[np.bool_], set[int]]],
    *,
    prior: float,
    iterations: int,
    u: list[list[float]],
) -> Model:
    """m estimated once per blocking rule, from the purest rules; the share of matches estimated last.

    One EM over all candidate pairs can settle on the wrong latent class: records that share an address
    (a household, an office building) agree on five comparisons at once, and EM may take "same address"
    for "same entity". Within the pairs of one blocking rule (``sessions``: which pairs it chose, and which
    comparisons it fixed) the fields the rule made agree say nothing and are left out; the other fields
    then separate matches from the rest (the idea of Splink's EM training sessions).

    A rule whose pairs are nearly all matches (same e-mail address) measures m best: there EM needs to
    separate nothing. A mixed rule (same name part of an e-mail address, which namesakes share) can still
    settle on the wrong class. So each comparison takes m from the purest rules that leave it free: those
    whose share of matches is within 0.05 of the highest, averaged by the matches they found.
    """
    fits: list[tuple[float, float, Model, set[int]]] = []  # (share of matches, matches, model, fixed)
    for chosen, fixed in sessions:
        session = grades[chosen].copy()
        if len(session) < MIN_SESSION or len(fixed) == len(grades_per):
            continue
        session[:, sorted(fixed)] = -1  # agreeing by construction: no evidence within this rule's pairs
        fitted = estimate(session, grades_per, prior=prior, iterations=iterations, u=u)
        fits.append((fitted.prior, fitted.prior * len(session), fitted, fixed))
    lean = _initial(grades_per, grades[:0], np.zeros(0), prior).m
    m: list[list[float]] = []
    for index in range(len(grades_per)):
        free = [(share, matches, fitted) for share, matches, fitted, fixed in fits if index not in fixed]
        if not free:
            m.append(lean[index])
            continue
        purest = max(share for share, _, _ in free)
        chosen_fits = [(matches, fitted) for share, matches, fitted in free if share >= purest - 0.05]
        total = sum(matches for matches, _ in chosen_fits)
        averaged = np.sum([matches * np.asarray(fitted.m[index]) for matches, fitted in chosen_fits], axis=0) / total
        m.append([float(value) for value in averaged])
    return Model(_share_of_matches(grades, m, u, prior, iterations), m, u, iterations)


def _share_of_matches(
    grades: Grades, m: list[list[float]], u: list[list[float]], prior: float, iterations: int
) -> float:
    """EM for the share of matches alone, m and u held."""
    if len(grades) == 0:
        return prior
    patterns, counts = grade_patterns(grades)
    share = prior
    for _ in range(iterations):
        p_match = probability(Model(share, m, u).score(patterns))
        updated = float(np.clip((counts * p_match).sum() / counts.sum(), EPSILON, 1 - EPSILON))
        if abs(updated - share) < CONVERGED:
            return updated
        share = updated
    return share
