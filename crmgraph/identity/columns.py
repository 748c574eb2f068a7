"""Profiles as columns: every field interned to integer codes, so pairs are compared with numpy, not loops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from crmgraph.identity.normalize import has_cjk
from crmgraph.identity.profiles import Profile
from crmgraph.identity.settings import WITHIN_ONE_EDIT

Codes = npt.NDArray[np.int32]
MISSING = -1
# A blocking field ``name~1`` holds every way of writing ``name`` with one character left out (and ``name``
# itself): two values one typo apart (a letter replaced, dropped, doubled or two swapped) share one of them.
SHORTEST_VARIED = 4  # shorter values are blocked on as they are: their variants would say little


def within_one_edit(name: str) -> str | None:
    """The field a ``field~1`` blocking field varies; None for a plain field."""
    return name.removesuffix(WITHIN_ONE_EDIT) if name.endswith(WITHIN_ONE_EDIT) else None


def one_deletion_variants(value: str) -> frozenset[str]:
    """Blocking keys of ``value`` that a one-typo variant of it shares.

    Hanzi carry a word each: one left out of a six-character name (city, trade name, trade) would key it
    with every company of its city and trade whose trade name shares the other character. Their typos are
    characters swapped or doubled, and the set of characters, sorted, keys those instead.
    """
    compact = value.replace(" ", "")
    if has_cjk(compact):
        return frozenset({compact, "".join(sorted(set(compact)))})
    if len(compact) < SHORTEST_VARIED:
        return frozenset({compact})
    return frozenset({compact} | {compact[:i] + compact[i + 1 :] for i in range(len(compact))})


@dataclass(frozen=True)
class Column:
    """One field of every profile: ``codes[i]`` (n) for single values, (n, width) for sets; -1 is missing.

    ``texts[code]`` is the value behind a code, for string similarity.
    """

    name: str
    codes: Codes
    texts: list[str]

    @property
    def is_set(self) -> bool:
        return self.codes.ndim == 2


def _variants_of(profiles: Sequence[Profile], base: str) -> list[Profile]:
    varied: list[Profile] = []
    for profile in profiles:
        value = profile.values.get(base)
        variants = one_deletion_variants(value) if isinstance(value, str) else None
        varied.append(Profile(profile.source, profile.source_id, {base + WITHIN_ONE_EDIT: variants}))
    return varied


def encode(profiles: Sequence[Profile], name: str, is_set: bool) -> Column:
    interned: dict[str, int] = {}
    texts: list[str] = []

    def code(value: str) -> int:
        found = interned.get(value)
        if found is None:
            found = interned[value] = len(texts)
            texts.append(value)
        return found

    if not is_set:
        codes = np.full(len(profiles), MISSING, dtype=np.int32)
        for row, profile in enumerate(profiles):
            value = profile.values.get(name)
            if isinstance(value, str):
                codes[row] = code(value)
        return Column(name, codes, texts)
    width = max((len(v) for p in profiles if isinstance(v := p.values.get(name), frozenset)), default=0)
    codes = np.full((len(profiles), max(1, width)), MISSING, dtype=np.int32)
    for row, profile in enumerate(profiles):
        value = profile.values.get(name)
        if isinstance(value, frozenset):
            for position, item in enumerate(sorted(value)):
                codes[row, position] = code(item)
    return Column(name, codes, texts)


class Table:
    """The encoded columns of a list of profiles, built on first use."""

    def __init__(self, profiles: Sequence[Profile], set_fields: frozenset[str]) -> None:
        self.profiles = profiles
        self.set_fields = set_fields
        self._columns: dict[str, Column] = {}

    def __len__(self) -> int:
        return len(self.profiles)

    def column(self, name: str) -> Column:
        found = self._columns.get(name)
        if found is None:
            base = within_one_edit(name)
            if base is not None:
                found = encode(_variants_of(self.profiles, base), name, is_set=True)
            else:
                found = encode(self.profiles, name, name in self.set_fields)
            self._columns[name] = found
        return found
