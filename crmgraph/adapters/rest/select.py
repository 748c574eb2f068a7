"""JMESPath (https://jmespath.org) selections out of an API's answers, compiled once per expression.

``tickets`` picks a list, ``values(contacts)`` the records of an object keyed by id, ``data[0].id`` one
value, ``users[?role=='end-user']`` a filtered list; a selection that fails on the answer's shape (``values``
of a list) reads as nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from crmgraph.adapters.sdk.http import expect

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


@cache
def compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


@cache
def _selector(expression: str) -> Callable[[Any], Any]:
    """A plain dotted path (``fields.all.email``, most of a field map) is read with dict look-ups, which
    give what JMESPath gives (None for a missing key or a non-object on the way) in a tenth of the time;
    any other expression is JMESPath's."""
    if _DOTTED.fullmatch(expression):
        keys = expression.split(".")

        def dotted(data: Any) -> Any:
            for key in keys:
                if not isinstance(data, dict):
                    return None
                data = data.get(key)
            return data

        return dotted
    return compiled(expression).search


def search(expression: str, data: Any) -> Any:
    """What ``expression`` selects in ``data``; None when the answer's shape does not allow it."""
    try:
        return _selector(expression)(data)
    except JMESPathError:
        return None


def rows(source: str, expression: str, body: Any) -> list[Any]:
    """The list of records ``expression`` selects: [] for nothing, a bad response for anything but a list."""
    found = search(expression, body)
    if found is None:
        return []
    expect(source, isinstance(found, list), f"{expression} selects {type(found).__name__}, not a list of records")
    return list(found)
