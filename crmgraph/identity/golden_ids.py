"""Golden ids that stay put: a cluster keeps the id most of its records already had.

Each old id goes to at most one cluster (the one holding most of its records), each cluster takes at
most one old id, and clusters left without one get new ids. An old id no cluster took was merged into
another: it becomes an alias of the cluster that holds most of its records, so ``node(id)`` still answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)  # a record key
L = TypeVar("L", bound=Hashable)  # a cluster label


@dataclass
class Assignment(Generic[L]):
    ids: dict[L, int] = field(default_factory=dict)  # cluster label -> golden id
    new: list[int] = field(default_factory=list)  # ids handed out for the first time
    retired: dict[int, int | None] = field(default_factory=dict)  # old id -> the id that absorbed it


def assign(clusters: Mapping[L, Sequence[K]], current: Mapping[K, int], next_id: int) -> Assignment[L]:
    """Golden ids for ``clusters`` given each record's ``current`` id; new ids count up from ``next_id``."""
    overlap: Counter[tuple[L, int]] = Counter()
    for label, members in clusters.items():
        for member in members:
            old = current.get(member)
            if old is not None:
                overlap[(label, old)] += 1
    result: Assignment[L] = Assignment()
    taken: set[int] = set()
    # Most shared records first; ties go to the older (smaller) id, then to the cluster listed first.
    order = {label: position for position, label in enumerate(clusters)}
    for (label, old), _count in sorted(overlap.items(), key=lambda item: (-item[1], item[0][1], order[item[0][0]])):
        if label in result.ids or old in taken:
            continue
        result.ids[label] = old
        taken.add(old)
    for label in clusters:
        if label not in result.ids:
            result.ids[label] = next_id
            result.new.append(next_id)
            next_id += 1
    best_home: dict[int, tuple[int, int]] = {}  # old id -> (records, golden id) of its largest share
    for (label, old), count in overlap.items():
        if old in taken:
            continue
        if old not in best_home or count > best_home[old][0]:
            best_home[old] = (count, result.ids[label])
    previous = set(current.values())
    for old in sorted(previous - taken):
        result.retired[old] = best_home[old][1] if old in best_home else None
    return result
