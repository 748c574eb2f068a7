"""Mapping an identical JSON record once: :func:`mapped_once` for an adapter's mapping methods.

An adapter's mapping reads a record of the system's answer into a canonical record: a pure function of
the record's JSON and the mapping's own settings. A list page maps a couple of hundred (companies,
contacts, tickets), mostly the same ones as the page before, at 5-10 µs each on the event loop.

Every answer is still read from the system and decoded; only a record whose JSON text is byte for byte
the one of a record mapped before gets that record's result (canonical records are immutable). Anything
in the record that changed, down to a space, makes it another record. A mapping that fails raises as
always and keeps nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Concatenate, Generic, ParamSpec, TypeVar

import orjson

S = TypeVar("S")
R = TypeVar("R")
V = TypeVar("V")
P = ParamSpec("P")

# Records kept per mapping method (all of its mappings together); past it, all are forgotten at once.
CAPACITY = 10_000


class Remembered(Generic[V]):
    """Results of a pure function kept by their key, up to ``capacity``; past it, all are forgotten at once
    (what was kept is soon asked again). Safe from several threads: a look-up or a keep is one operation on
    a dict, and forgetting replaces the dict."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._kept: dict[Hashable, V] = {}

    def get(self, key: Hashable) -> V | None:
        """The result kept for ``key``, or None; a TypeError for a key that cannot be hashed."""
        return self._kept.get(key)

    def keep(self, key: Hashable, value: V) -> None:
        kept = self._kept
        if len(kept) >= self.capacity:
            kept = self._kept = {}
        kept[key] = value


def mapped_once(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """``method(self, raw, *more)`` computed once per (mapping, JSON of ``raw``, ``more``): ``self`` must be
    hashable by its settings (a frozen dataclass), ``raw`` and the rest decoded JSON or plain values."""
    kept: Remembered[R] = Remembered(CAPACITY)

    @functools.wraps(method)
    def remembered(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            key = (self, *map(_plain, args), *((name, _plain(value)) for name, value in kwargs.items()))
            found = kept.get(key)
        except (TypeError, orjson.JSONEncodeError):  # not a plain JSON value: mapped as it comes
            return method(self, *args, **kwargs)
        if found is None:
            found = method(self, *args, **kwargs)
            kept.keep(key, found)
        return found

    return remembered


def _plain(value: object) -> object:
    """A JSON object or array as its text (hashable, and exact); anything else as it is."""
    return orjson.dumps(value) if isinstance(value, dict | list) else value
