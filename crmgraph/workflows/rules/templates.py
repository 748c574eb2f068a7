"""Templates in an action's input: ``{{ event.recordId }}``, ``{{ customer.id }}``, replaced from the facts.

No expressions, no code: a placeholder names a value by its dotted path in the facts (:mod:`.facts`). A
string that is one placeholder alone becomes the value itself (a number stays a number, a list a list);
placeholders inside longer text are written as text (nothing for null). Every placeholder is checked as
the facade starts (:mod:`.check`): a path whose first names the facts cannot have is a configuration error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def placeholders(value: object, where: str = "") -> Iterator[tuple[str, str]]:
    """(key path, placeholder text) of every placeholder in ``value``, however deep."""
    if isinstance(value, str):
        for match in PLACEHOLDER.finditer(value):
            yield where, match.group(1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from placeholders(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for position, item in enumerate(value):
            yield from placeholders(item, f"{where}.{position}" if where else str(position))


def lookup(facts: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path; None where a step is missing (an unread field, a null)."""
    found: Any = facts
    for step in path.split("."):
        found = found.get(step) if isinstance(found, Mapping) else None
        if found is None:
            return None
    return found


def render(value: Any, facts: Mapping[str, Any]) -> Any:
    """``value`` with its placeholders replaced (mappings and lists rendered item by item)."""
    if isinstance(value, str):
        alone = PLACEHOLDER.fullmatch(value.strip())
        if alone is not None:
            return lookup(facts, alone.group(1))
        return PLACEHOLDER.sub(lambda match: _text(lookup(facts, match.group(1))), value)
    if isinstance(value, Mapping):
        return {key: render(item, facts) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render(item, facts) for item in value]
    return value


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
