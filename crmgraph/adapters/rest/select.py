"""JMESPath (https://jmespath.org) selections out of an API's answers, compiled once per expression.

``tickets`` picks a list, ``values(contacts)`` the records of an object keyed by id, ``data[0].id`` one
value, ``users[?role=='end-user']`` a filtered list; a selection that fails on the answer's shape (``values``
of a list) reads as nothing.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from crmgraph.adapters.sdk.http import expect


@cache
def compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def search(expression: str, data: Any) -> Any:
    """What ``expression`` selects in ``data``; None when the answer's shape does not allow it."""
    try:
        return compiled(expression).search(data)
    except JMESPathError:
        return None


def rows(source: str, expression: str, body: Any) -> list[Any]:
    """The list of records ``expression`` selects: [] for nothing, a bad response for anything but a list."""
    found = search(expression, body)
    if found is None:
        return []
    expect(source, isinstance(found, list), f"{expression} selects {type(found).__name__}, not a list of records")
    return list(found)
