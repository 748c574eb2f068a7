"""Blocking: which pairs of records are compared at all.

Comparing every record with every other is quadratic. A blocking rule names fields; two records are
compared when they agree exactly on every field of at least one rule (same tax id; same postcode and
house number; ...). A key shared by more than ``max_block`` records says little about identity (a
free-mail domain, a city's most common street) and is skipped, so candidate pairs grow about linearly
with the records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from crmgraph.identity.columns import MISSING, Table

Pairs = npt.NDArray[np.int64]  # shape (k, 2), left < right


@dataclass
class BlockingReport:
    pairs_by_rule: dict[str, int] = field(default_factory=dict)
    skipped_keys: dict[str, int] = field(default_factory=dict)  # keys shared by more than max_block records
    pairs: int = 0


def _rule_keys(table: Table, rule: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(record rows, key per row) for one rule; a set field gives one row per value it holds."""
    rows = np.arange(len(table), dtype=np.int64)
    key = np.zeros(len(table), dtype=np.int64)
    for name in rule:
        column = table.column(name)
        codes = column.codes
        if column.is_set:
            width = codes.shape[1]
            positions = np.tile(np.arange(width), len(rows))
            rows, key = np.repeat(rows, width), np.repeat(key, width)
            values = codes[rows, positions]
        else:
            values = codes[rows]
        keep = values != MISSING
        rows, key, values = rows[keep], key[keep], values[keep].astype(np.int64)
        # Re-number the combined (key so far, value) so that keys of many fields never overflow.
        combined = key * (len(column.texts) + 1) + values
        key = np.unique(combined, return_inverse=True)[1].astype(np.int64)
    return rows, key


def _pairs_within_blocks(rows: npt.NDArray[np.int64], key: npt.NDArray[np.int64], max_block: int) -> tuple[Pairs, int]:
    order = np.lexsort((rows, key))
    rows, key = rows[order], key[order]
    if len(key) == 0:
        return np.empty((0, 2), dtype=np.int64), 0
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    skipped = int(np.count_nonzero(sizes > max_block))
    chunks: list[Pairs] = []
    for size in np.unique(sizes):
        if size < 2 or size > max_block:
            continue
        block_starts = starts[sizes == size]
        left, right = np.triu_indices(int(size), k=1)
        members = rows[block_starts[:, None] + np.arange(size)[None, :]]  # (blocks, size)
        chunks.append(np.stack((members[:, left].ravel(), members[:, right].ravel()), axis=1))
    if not chunks:
        return np.empty((0, 2), dtype=np.int64), skipped
    pairs = np.concatenate(chunks)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]  # a record holding one value twice meets itself
    return np.sort(pairs, axis=1), skipped


def candidate_pairs(table: Table, rules: Sequence[Sequence[str]], max_block: int) -> tuple[Pairs, BlockingReport]:
    """Every pair (i < j) that agrees on some rule, each pair once."""
    report = BlockingReport()
    found: list[Pairs] = []
    for rule in rules:
        rows, key = _rule_keys(table, rule)
        pairs, skipped = _pairs_within_blocks(rows, key, max_block)
        name = "+".join(rule)
        report.pairs_by_rule[name] = len(pairs)
        report.skipped_keys[name] = skipped
        found.append(pairs)
    if not found:
        return np.empty((0, 2), dtype=np.int64), report
    every = np.concatenate(found)
    unique = np.unique(every[:, 0] * len(table) + every[:, 1])
    pairs = np.stack((unique // len(table), unique % len(table)), axis=1)
    report.pairs = len(pairs)
    return pairs, report


def rule_mask(table: Table, pairs: Pairs, rule: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Which ``pairs`` agree exactly on every field of ``rule`` (the pairs that rule alone would choose)."""
    agree = np.ones(len(pairs), dtype=bool)
    for name in rule:
        column = table.column(name)
        if column.is_set:
            agree &= shares_value(table, name, pairs)
        else:
            left, right = column.codes[pairs[:, 0]], column.codes[pairs[:, 1]]
            agree &= (left == right) & (left != MISSING)
    return agree


SHARED_VALUE_LIMIT = 5000  # records one value may join; beyond it the value is everyone's (a free-mail domain)


def shares_value(table: Table, name: str, pairs: Pairs) -> npt.NDArray[np.bool_]:
    """Which ``pairs`` hold a value of the set field ``name`` in common.

    Comparing each pair's values with each other's costs width x width per pair (a company with thirty
    people holds thirty addresses); listing the pairs that share some value, value by value, costs only
    those pairs, and a sorted search answers the candidates.
    """
    rows, key = _rule_keys(table, (name,))
    sharing, _ = _pairs_within_blocks(rows, key, SHARED_VALUE_LIMIT)
    size = len(table)
    known = np.unique(sharing[:, 0] * size + sharing[:, 1])
    asked = pairs[:, 0].astype(np.int64) * size + pairs[:, 1]
    return np.isin(asked, known, assume_unique=False)
