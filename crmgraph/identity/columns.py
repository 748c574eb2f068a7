"""Profiles as columns: every field interned to integer codes, so pairs are compared with numpy, not loops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from crmgraph.identity.profiles import Profile

Codes = npt.NDArray[np.int32]
MISSING = -1


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
            found = self._columns[name] = encode(self.profiles, name, name in self.set_fields)
        return found
