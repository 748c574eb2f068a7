"""Looking ahead: a selection that names no variable is worked out once for every request of its document."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import strawberry
from strawberry.types.info import Info

from crmgraph.policy.limits import QueryLimiter
from crmgraph.schema.lookahead import asks_for, selected_names


@strawberry.type
class Leaf:
    a: int = 1
    b: int = 2


@strawberry.type
class Branch:
    @strawberry.field
    def leaves(self, first: int = 1) -> list[Leaf]:
        return [Leaf() for _ in range(first)]


SEEN: list[list[str]] = []  # what each call of ``branch`` found below it
ASKED: list[bool] = []  # whether each call of ``asking`` found ``leaves { b }`` below it


@strawberry.type
class LookQuery:
    @strawberry.field
    def branch(self, info: strawberry.Info, id: str) -> Branch:
        SEEN.append(sorted(selected_names(info, "leaves")))
        return Branch()

    @strawberry.field
    def asking(self, info: strawberry.Info, ids: list[str]) -> list[Branch]:
        ASKED.extend(asks_for(info, ("leaves", "b")) for _ in ids)  # once per row, as a page's rows ask
        return [Branch() for _ in ids]


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times strawberry converted a field's selection from the document."""
    counted: list[int] = []
    original = Info.__dict__["selected_fields"].func  # a cached_property

    def counting(self: Any) -> Any:
        counted.append(1)
        return original(self)

    monkeypatch.setattr(Info, "selected_fields", property(counting))
    SEEN.clear()
    ASKED.clear()
    return counted


def _ask(schema: strawberry.Schema, document: str, variables: dict[str, Any]) -> Any:
    result = asyncio.run(schema.execute(document, variable_values=variables))
    assert result.errors is None, result.errors
    return result.data


def test_a_selection_without_variables_is_converted_once_for_every_request(conversions: list[int]) -> None:
    schema = strawberry.Schema(query=LookQuery, extensions=[QueryLimiter])  # parses each text once
    document = "query($id: String!) { branch(id: $id) { leaves(first: 2) { a b } } }"
    for customer in ("1", "2", "3"):
        _ask(schema, document, {"id": customer})
    assert SEEN == [["a", "b"]] * 3
    assert len(conversions) == 1  # the root field's own $id does not count: only what is selected below it


def test_a_selection_naming_a_variable_is_worked_out_for_each_request(conversions: list[int]) -> None:
    schema = strawberry.Schema(query=LookQuery, extensions=[QueryLimiter])
    document = "query($id: String!, $b: Boolean!) { branch(id: $id) { leaves { a b @include(if: $b) } } }"
    _ask(schema, document, {"id": "1", "b": True})
    _ask(schema, document, {"id": "1", "b": False})
    _ask(schema, document, {"id": "2", "b": True})
    assert SEEN == [["a", "b"], ["a"], ["a", "b"]]
    assert len(conversions) == 3


def test_a_variable_in_a_spread_fragment_counts(conversions: list[int]) -> None:
    schema = strawberry.Schema(query=LookQuery, extensions=[QueryLimiter])
    document = """query($id: String!, $b: Boolean!) { branch(id: $id) { leaves { ...L } } }
                  fragment L on Leaf { a b @skip(if: $b) }"""
    _ask(schema, document, {"id": "1", "b": True})
    _ask(schema, document, {"id": "1", "b": False})
    assert SEEN == [["a"], ["a", "b"]]
    assert len(conversions) == 2


def test_what_a_field_asks_for_follows_each_requests_variables(conversions: list[int]) -> None:
    schema = strawberry.Schema(query=LookQuery, extensions=[QueryLimiter])
    document = 'query($b: Boolean!) { asking(ids: ["1", "2", "3"]) { leaves { a b @include(if: $b) } } }'
    for b in (True, False, True):
        _ask(schema, document, {"b": b})
    assert ASKED == [True] * 3 + [False] * 3 + [True] * 3
    assert len(conversions) == 3  # once a request, not once a row
    plain = '{ asking(ids: ["1", "2"]) { leaves { a } } }'
    for _ in range(2):
        _ask(schema, plain, {})
    assert ASKED[9:] == [False] * 4 and len(conversions) == 4  # no variables: once for every request
