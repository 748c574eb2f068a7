"""Comparisons: every candidate pair graded per field, all pairs at once.

A grade is a small integer: ``-1`` when either record lacks the field (no evidence), ``0`` when the values
differ, up to ``grades - 1`` when they are equal; fuzzy comparisons have a grade per similarity level in
between ("close", "somewhat close"). Grades, not raw similarities, go into the Fellegi-Sunter model, so
that each grade's weight can be estimated and explained.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.fuzz import token_set_ratio, token_sort_ratio

from crmgraph.identity import normalize as norm
from crmgraph.identity.blocking import Pairs, shares_value
from crmgraph.identity.columns import MISSING, Column, Table
from crmgraph.identity.settings import Comparison

Grades = npt.NDArray[np.int8]  # (pairs, comparisons)


def _token_set(a: str, b: str, **_: object) -> float:
    return float(token_set_ratio(a, b)) / 100.0


def _token_sort(a: str, b: str, **_: object) -> float:
    return float(token_sort_ratio(a, b)) / 100.0


SCORERS: dict[str, Any] = {
    "jaro_winkler": JaroWinkler.normalized_similarity,
    "levenshtein": Levenshtein.normalized_similarity,
    "token_set": _token_set,
    "token_sort": _token_sort,
}


def _single(column: Column, pairs: Pairs) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    return column.codes[pairs[:, 0]], column.codes[pairs[:, 1]]


def _exact(column: Column, pairs: Pairs) -> npt.NDArray[np.int8]:
    left, right = _single(column, pairs)
    grades: npt.NDArray[np.int8] = (left == right).astype(np.int8)
    grades[(left == MISSING) | (right == MISSING)] = -1
    return grades


def _overlap(table: Table, name: str, pairs: Pairs) -> npt.NDArray[np.int8]:
    codes = table.column(name).codes
    grades: npt.NDArray[np.int8] = shares_value(table, name, pairs).astype(np.int8)
    grades[(codes[pairs[:, 0], 0] == MISSING) | (codes[pairs[:, 1], 0] == MISSING)] = -1
    return grades


def _fuzzy(column: Column, pairs: Pairs, comparison: Comparison) -> npt.NDArray[np.int8]:
    left, right = _single(column, pairs)
    missing = (left == MISSING) | (right == MISSING)
    equal = (left == right) & ~missing
    grades = np.zeros(len(pairs), dtype=np.int8)
    grades[equal] = comparison.grades - 1
    grades[missing] = -1
    todo = np.flatnonzero(~missing & ~equal)
    if len(todo):
        # Similarity is computed once per distinct pair of values, not once per pair of records.
        # (One int64 per pair of codes: np.unique over rows is many times slower.)
        width = len(column.texts) + 1
        keyed = left[todo].astype(np.int64) * width + right[todo]
        distinct, inverse = np.unique(keyed, return_inverse=True)
        inverse = inverse.ravel()
        texts = column.texts
        scores = process.cpdist(
            [texts[i] for i in distinct // width],
            [texts[j] for j in distinct % width],
            scorer=SCORERS[comparison.similarity],
            workers=1,
        )
        levels = np.asarray(comparison.levels)
        # Grade: how many levels the similarity reaches (levels are highest first).
        reached = (np.asarray(scores)[:, None] >= levels[None, :]).sum(axis=1).astype(np.int8)
        grades[todo] = reached[inverse]
    return grades


def email_grade(left: str, right: str, left_work: bool, right_work: bool) -> int:
    """Two different e-mail addresses (normalised; ``*_work``: at a company's domain, not a mail
    provider's): 1 when they name the same person — the same letters and digits at one domain (wei.zhu@x,
    weizhu@x), or the same letters where one side is a mail provider's (melissa.wilson@work,
    melissawilson96@gmail) — else 0. Two company domains say little even with the same name part
    (j.smith at two firms); at one domain a digit tells namesakes apart (wei_zhu2@x)."""
    left_user, _, left_domain = left.partition("@")
    right_user, _, right_domain = right.partition("@")
    if left_domain == right_domain:
        return int("".join(filter(str.isalnum, left_user)) == "".join(filter(str.isalnum, right_user)))
    if left_work and right_work:
        return 0
    letters = norm.email_user(left)
    return int(letters is not None and letters == norm.email_user(right))


def _email(table: Table, name: str, pairs: Pairs) -> npt.NDArray[np.int8]:
    """Grades of the ``email`` kind; ``work_email`` (when the records have it) says which addresses are a
    company's, else the list of known mail providers does."""
    column = table.column(name)
    left, right = _single(column, pairs)
    missing = (left == MISSING) | (right == MISSING)
    grades = np.full(len(pairs), 2, dtype=np.int8)
    grades[missing] = -1
    todo = np.flatnonzero(~missing & (left != right))
    if len(todo):
        texts = column.texts
        has_work = any("work_email" in profile.values for profile in table.profiles[:1])
        work = table.column("work_email").codes != MISSING if has_work else None
        rows = pairs[todo]
        for position, (i, j) in zip(todo.tolist(), rows.tolist(), strict=True):
            a, b = texts[left[position]], texts[right[position]]
            a_work = bool(work[i]) if work is not None else norm.domain(a) is not None
            b_work = bool(work[j]) if work is not None else norm.domain(b) is not None
            grades[position] = email_grade(a, b, a_work, b_work)
    return grades


def grade(table: Table, pairs: Pairs, comparisons: Sequence[Comparison]) -> Grades:
    """The grade of every pair under every comparison: shape (pairs, comparisons)."""
    out = np.empty((len(pairs), len(comparisons)), dtype=np.int8)
    for index, comparison in enumerate(comparisons):
        column = table.column(comparison.field)
        if comparison.kind == "overlap":
            out[:, index] = _overlap(table, comparison.field, pairs)
        elif comparison.kind == "fuzzy":
            out[:, index] = _fuzzy(column, pairs, comparison)
        elif comparison.kind == "email":
            out[:, index] = _email(table, comparison.field, pairs)
        else:
            out[:, index] = _exact(column, pairs)
    return out


def grade_names(comparison: Comparison) -> list[str]:
    """Human names of a comparison's grades, from 0 (differ) up to exact."""
    if comparison.kind == "email":
        return ["different", "same person part", "exact"]
    if comparison.kind != "fuzzy":
        return ["different", "shared" if comparison.kind == "overlap" else "exact"]
    return ["different", *(f"similar >= {level}" for level in reversed(comparison.levels)), "exact"]
