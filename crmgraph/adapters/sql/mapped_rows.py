"""Records already read from identical rows, so that a row read again is not mapped again.

Reading a row into a record is a pure function of the row's values (and the adapter's mapping, fixed for
its life): an order row costs about 25 µs of Python (text stripped, two date-and-time pairs parsed, an
amount quantized, a status looked up), on the worker thread that holds the interpreter's lock meanwhile.
A list page reads a couple of hundred such rows, and mostly the same ones as the page before.

This is not a cache of the database: every read still runs its statement and fetches every row; only a
row whose values, and the types of its values, are exactly those of a row mapped before gets that row's
record (records are immutable). A changed row is another key. Rows that fail to map are not kept: each
read reports them anew.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from crmgraph.adapters.sdk.remembered import Remembered

T = TypeVar("T")

# Rows kept per adapter; past it, everything is forgotten at once (a page's rows are soon read again).
CAPACITY = 20_000


class MappedRows:
    """What each row read by one adapter mapped to, per entity mapping. Used from the adapter's threads."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._kept: Remembered[Any] = Remembered(capacity)

    def mapped(self, kind: object, raw: Any, read: Callable[[], T], keep: Callable[[T], bool]) -> T:
        """``read()``'s result for ``raw`` (a row of the database's answer) under the mapping ``kind``
        (kept alive by the adapter), remembered when ``keep`` says so; computed for a row never seen."""
        key: Hashable | None = _key(kind, raw)
        try:
            found = self._kept.get(key)
        except TypeError:  # a value that cannot be a key (a driver's list or dict)
            key, found = None, None
        if found is not None:
            return found  # type: ignore[no-any-return]
        result = read()
        if key is not None and keep(result):
            self._kept.keep(key, result)
        return result


def _key(kind: object, raw: Any) -> Hashable:
    """The row's values with their types: 1, 1.0 and True are equal in Python, but not to a mapping."""
    values = getattr(raw, "_data", None)  # SQLAlchemy's row tuple; any other row: its values in order
    if values is None:
        values = tuple(raw.values())
    return (id(kind), values, tuple(map(type, values)))
