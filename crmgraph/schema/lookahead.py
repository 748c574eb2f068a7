"""Looking ahead in the query: does the client ask, below this field, for a given field?

Resolvers use it to start the next level of upstream reads as soon as a parent list is known (see
:func:`crmgraph.resolvers.records.prefetch`), and only when the query will use them.

A list page asks the same question once per row (50 customers: 50 times "are orders' lines selected?"),
and strawberry converts the field's whole selection from the document each time it is asked. graphql-core
hands every row the same field nodes (of the parsed document), so the answer is kept per field nodes,
variables and path: found once for the page. An entry holds the objects whose ids make its key, so no id
can be reused while it is kept; the fields found are shared, and read only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from graphql import FragmentDefinitionNode, FragmentSpreadNode, Node, VariableNode
from strawberry.types.nodes import SelectedField, Selection


def asks_for(info: Any, *paths: tuple[str, ...]) -> bool:
    """Whether any of ``paths`` (GraphQL field names, e.g. ``("nodes", "lines")``) is selected below the
    current field. Fragments count as if written out; a field under ``@skip(if: true)`` or
    ``@include(if: false)`` does not."""
    raw = info._raw_info
    key = (tuple(map(id, raw.field_nodes)), paths)
    kept = _ASKED.get(key)
    if kept is not None and (kept[1] is raw.variable_values or kept[3]):
        return kept[2]  # a row of a page after the first: the same field nodes, the same answer
    answer = any(name in selected_names(info, *parents) for *parents, name in paths)
    _ASKED[key] = (tuple(raw.field_nodes), raw.variable_values, answer, not _any_variables(raw))
    if len(_ASKED) > KEPT_SELECTIONS:
        _ASKED.popitem(last=False)
    return answer


def _included(directives: dict[str, dict[str, Any]]) -> bool:
    if directives.get("skip", {}).get("if") is True:
        return False
    return directives.get("include", {}).get("if", True) is not False


def selected_names(info: Any, *path: str) -> set[str]:
    """The GraphQL names of the fields selected at ``path`` below the current field (``()``: right below),
    with fragments written out and skipped fields left out."""
    return {field.name for field in selected_at(info, *path)}


KEPT_SELECTIONS = 1024  # (field, path) answers: a few dozen per document, a request or two at a time
# (ids of the field nodes, path) -> (the field nodes, the variables, the fields found, whether any variables
# would do), least recently used first
_SELECTED: OrderedDict[
    tuple[tuple[int, ...], tuple[str, ...]], tuple[tuple[object, ...], object, tuple[SelectedField, ...], bool]
] = OrderedDict()
# (ids of the field nodes, paths asked) -> (the field nodes, the variables, the answer, whether any variables
# would do): asks_for's answers, the oldest forgotten first
_ASKED: OrderedDict[
    tuple[tuple[int, ...], tuple[tuple[str, ...], ...]], tuple[tuple[object, ...], object, bool, bool]
] = OrderedDict()


def selected_at(info: Any, *path: str) -> list[SelectedField]:
    """The fields selected at ``path`` below the current field, with their arguments (variables filled in)
    and selections; fragments written out, skipped fields left out."""
    raw = info._raw_info
    nodes, variables = tuple(raw.field_nodes), raw.variable_values
    key = (tuple(map(id, nodes)), path)
    kept = _SELECTED.get(key)
    if kept is not None and (kept[1] is variables or kept[3]):
        _SELECTED.move_to_end(key)
        return list(kept[2])
    found: list[SelectedField] = []
    fields: list[SelectedField] = info.selected_fields
    for field in fields:
        _collect(field.selections, path, found)
    _SELECTED[key] = (nodes, variables, tuple(found), not _any_variables(raw))
    if len(_SELECTED) > KEPT_SELECTIONS:
        _SELECTED.popitem(last=False)
    return found


def _any_variables(raw: Any) -> bool:
    """Whether the current field's selections name a variable anywhere (then an answer holds for these
    variables only; else for any)."""
    return any(_names_variables(node.selection_set, raw.fragments) for node in raw.field_nodes)


def _names_variables(node: Node | None, fragments: dict[str, FragmentDefinitionNode]) -> bool:
    """Whether ``node``'s tree, with the fragments it spreads, names a variable (in an argument or a directive)."""
    pending: list[object] = [node]
    spread: set[str] = set()
    while pending:
        item = pending.pop()
        if isinstance(item, VariableNode):
            return True
        if isinstance(item, FragmentSpreadNode) and item.name.value not in spread:
            spread.add(item.name.value)
            pending.append(fragments.get(item.name.value))
        if isinstance(item, Node):
            pending.extend(getattr(item, name) for name in item.keys if name != "loc")
        elif isinstance(item, tuple | list):
            pending.extend(item)
    return False


def names_below(field: SelectedField, *path: str) -> set[str]:
    """The names of the fields selected at ``path`` below ``field`` (a field found by :func:`selected_at`)."""
    found: list[SelectedField] = []
    _collect(field.selections, path, found)
    return {selected.name for selected in found}


def _collect(selections: Sequence[Selection], path: tuple[str, ...], found: list[SelectedField]) -> None:
    for selection in selections:
        if not _included(selection.directives):
            continue
        if not isinstance(selection, SelectedField):
            _collect(selection.selections, path, found)  # a fragment: its fields sit at this level
        elif not path:
            found.append(selection)
        elif selection.name == path[0]:
            _collect(selection.selections, path[1:], found)
