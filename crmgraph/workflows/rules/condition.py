"""A rule's ``where``: a JMESPath expression (https://jmespath.org) over the facts, compiled once at start.

JMESPath is a query language, not code: it can read and compare the facts and nothing else (no calls out,
no assignment, no loops without end). Its truth is JMESPath's: null, false, an empty string, list or
object are false, everything else (``0`` too) is true.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult


class Condition:
    def __init__(self, expression: str | None) -> None:
        self.expression = expression
        self._parsed: ParsedResult | None = jmespath.compile(expression) if expression else None

    def holds(self, facts: Mapping[str, Any]) -> bool:
        if self._parsed is None:
            return True
        return truthy(self._parsed.search(dict(facts)))


def problem(expression: str) -> str | None:
    """Why ``expression`` is not a JMESPath expression; None when it is one."""
    try:
        jmespath.compile(expression)
    except JMESPathError as error:
        return f"not a JMESPath expression: {error}".replace("\n", " ")
    return None


def truthy(value: object) -> bool:
    return value is not None and value is not False and value not in ("", [], {})
