"""Clustering: linked pairs become golden records, without chaining across conflicting strong keys.

Pairs are joined strongest first. Joining two clusters is refused when the result would hold two
different values of a ``distinct`` field (two tax ids: two companies, however alike their names) or a
pair a steward said are not the same. Steward links and declared cross-references are joined before
any scored pair; a steward's "not the same" holds against everything, a steward's link against tax ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from crmgraph.identity.blocking import Pairs
from crmgraph.identity.columns import MISSING, Table


@dataclass
class Joined:
    """How a record came into its cluster: the rule and the confidence of the join that brought it."""

    # "self" | "xref" | "steward" | "model" | "sole" (see SoleCandidates) | "keep" (an incremental run left it
    # where it was)
    rule: str
    confidence: float


@dataclass
class ClusterResult:
    labels: npt.NDArray[np.int64]  # cluster root per record
    joined: list[Joined]
    refused: list[tuple[int, int, str]] = field(default_factory=list)  # (i, j, why) strong pairs not joined


class ConstrainedClusters:
    """Union-find whose unions keep ``distinct`` fields single-valued and respect cannot-links."""

    def __init__(self, table: Table, distinct: Sequence[str], cannot: Iterable[tuple[int, int]] = ()) -> None:
        n = len(table)
        self.parent = np.arange(n, dtype=np.int64)
        self.size = np.ones(n, dtype=np.int64)
        # Per root: the values of each distinct field its members hold (only roots that hold any).
        self.values: list[dict[int, frozenset[int]]] = []
        for name in distinct:
            codes = table.column(name).codes
            held: dict[int, frozenset[int]] = {}
            flat = codes if codes.ndim == 1 else codes[:, 0]
            for row in np.flatnonzero(flat != MISSING):
                row_codes = codes[row] if codes.ndim == 2 else [codes[row]]
                held[int(row)] = frozenset(int(c) for c in row_codes if c != MISSING)
            self.values.append(held)
        self.forbidden: dict[int, set[int]] = {}
        for a, b in cannot:
            self.forbidden.setdefault(a, set()).add(b)
            self.forbidden.setdefault(b, set()).add(a)

    def find(self, node: int) -> int:
        root = node
        while self.parent[root] != root:
            root = int(self.parent[root])
        while self.parent[node] != root:
            self.parent[node], node = root, int(self.parent[node])
        return root

    def conflict(self, a: int, b: int, *, check_values: bool = True) -> str | None:
        """Why roots ``a`` and ``b`` may not be one cluster, or None."""
        for index, held in enumerate(self.values if check_values else ()):
            left, right = held.get(a), held.get(b)
            if left and right and left != right:
                return f"distinct:{index}"
        small, other = (a, b) if len(self.forbidden.get(a, ())) <= len(self.forbidden.get(b, ())) else (b, a)
        if any(self.find(x) == other for x in self.forbidden.get(small, ())):
            return "steward"
        return None

    def union(self, a: int, b: int) -> int:
        """Join roots ``a`` and ``b`` (the caller checked :meth:`conflict`); returns the new root."""
        if self.size[a] < self.size[b]:
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]
        for held in self.values:
            if b in held:
                held[a] = held.get(a, frozenset()) | held.pop(b)
        if b in self.forbidden:
            self.forbidden.setdefault(a, set()).update(self.forbidden.pop(b))
        return a

    def labels(self) -> npt.NDArray[np.int64]:
        return np.array([self.find(i) for i in range(len(self.parent))], dtype=np.int64)


def cluster(
    table: Table,
    distinct: Sequence[str],
    *,
    forced: Sequence[tuple[int, int, str]] = (),
    cannot: Iterable[tuple[int, int]] = (),
    pairs: Pairs,
    probabilities: npt.NDArray[np.float64],
    link_at: float,
    sole: SoleCandidates | None = None,
) -> ClusterResult:
    """Join ``forced`` pairs (steward links, cross-references: (i, j, rule)), then scored pairs at or above
    ``link_at``, strongest first, then the records left alone that have one plausible golden record
    (``sole``, see :class:`SoleCandidates`)."""
    clusters = ConstrainedClusters(table, distinct, cannot)
    joined = [Joined("self", 1.0) for _ in range(len(table))]
    refused: list[tuple[int, int, str]] = []

    def join(i: int, j: int, rule: str, confidence: float) -> None:
        a, b = clusters.find(i), clusters.find(j)
        if a == b:
            return
        # A steward who links two records knows more than their tax ids; only their own "no" stops them.
        why = clusters.conflict(a, b, check_values=rule not in ("steward", "keep"))
        if why is not None:
            refused.append((i, j, why))
            return
        clusters.union(a, b)
        for node in (i, j):
            if joined[node].rule == "self" or joined[node].confidence < confidence:
                joined[node] = Joined(rule, confidence)

    for rule in ("keep", "steward", "xref"):
        for i, j, how in forced:
            if how == rule:
                join(i, j, rule, 1.0)
    strong = np.flatnonzero(probabilities >= link_at)
    for index in strong[np.argsort(-probabilities[strong], kind="stable")]:
        join(int(pairs[index, 0]), int(pairs[index, 1]), "model", float(probabilities[index]))
    if sole is not None:
        for i, j, confidence in sole.joins(clusters, pairs, probabilities):
            join(i, j, "sole", confidence)
    return ClusterResult(clusters.labels(), joined, refused)


@dataclass(frozen=True)
class SoleCandidates:
    """A record the model left alone, whose every plausible pair (at or above ``review_at``) points into one
    golden record, joins it when its best pair there scores at least ``join_at`` and ``uncontested`` (no
    comparison of the pair speaks against it).

    The pairwise model cannot see that a duplicate typed in a hurry offers nothing but its name, nor that
    no other customer is called anything like it; both are what makes such a record one with the customer
    it resembles. A namesake's sparse record is not joined: its own company's records are candidates too.
    """

    review_at: float
    join_at: float
    uncontested: npt.NDArray[np.bool_]  # per scored pair

    def joins(
        self, clusters: ConstrainedClusters, pairs: Pairs, probabilities: npt.NDArray[np.float64]
    ) -> list[tuple[int, int, float]]:
        plausible = np.flatnonzero(probabilities >= self.review_at)
        roots = {int(row): clusters.find(int(row)) for row in np.unique(pairs[plausible])}
        # Per record alone in its cluster: the clusters its plausible pairs reach, and its best pair.
        reached: dict[int, set[int]] = {}
        best: dict[int, tuple[float, int, bool]] = {}
        for index in plausible:
            i, j = int(pairs[index, 0]), int(pairs[index, 1])
            probability, fair = float(probabilities[index]), bool(self.uncontested[index])
            for alone, other in ((i, j), (j, i)):
                if clusters.size[roots[alone]] != 1 or roots[alone] == roots[other]:
                    continue
                reached.setdefault(alone, set()).add(roots[other])
                if probability > best.get(alone, (-1.0, -1, False))[0]:
                    best[alone] = (probability, other, fair)
        found = []
        for alone, targets in reached.items():
            probability, other, fair = best[alone]
            if len(targets) != 1 or not fair or probability < self.join_at:
                continue
            # Two records alone: each must be the other's one plausible match (a namesake's full record
            # and a sparse one that resembles two customers are not a pair).
            if other in reached and reached[other] != {roots[alone]}:
                continue
            found.append((alone, other, probability))
        return found
