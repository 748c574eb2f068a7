"""The planned walk (crmgraph.schema.walk) answers exactly as graphql-core's own executor: data, errors, paths."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from enum import Enum
from typing import Any

import strawberry

from crmgraph.schema.plain_fields import PLAIN, mark_plain_fields, reads
from crmgraph.schema.walk import PlannedWalkExecution


@strawberry.enum
class Shade(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Size:
    width: int
    unit: str | None = "mm"


@strawberry.type
class Part(Named):
    weight: int | None
    shade: Shade | None = Shade.BLUE
    size: Size | None = None


@strawberry.type
class Tool(Named):
    sharp: bool


@strawberry.type
class Box:
    label: str
    note: str | None
    count: int

    @strawberry.field
    def parts(self) -> list[Part]:
        return [Part(name=f"{self.label}-p{i}", weight=i or None, size=Size(width=i) if i else None) for i in range(3)]

    @strawberry.field
    def maybe_parts(self) -> list[Part | None] | None:
        # The second part's non-null name is missing: that item alone becomes null.
        return [Part(name="ok", weight=1), Part(name=None, weight=2)]  # type: ignore[arg-type]

    @strawberry.field
    def sized_parts(self) -> list[Part]:
        # The second part's size lacks its non-null width: the error nulls that size.
        return [Part(name="s", weight=1, size=Size(width=4)), Part(name="t", weight=2, size=Size(width=None))]  # type: ignore[arg-type]

    @strawberry.field
    async def later_parts(self) -> list[Part]:
        await asyncio.sleep(0)
        return [Part(name="later", weight=7)]

    @strawberry.field
    async def broken(self) -> str:
        await asyncio.sleep(0)
        raise ValueError(f"{self.label}: broken upstream")

    @strawberry.field
    def soft_broken(self) -> str | None:
        raise ValueError("soft failure")

    @strawberry.field
    def things(self) -> list[Named]:
        return [Part(name="bolt", weight=3), Tool(name="saw", sharp=True)]

    @strawberry.field
    def generated(self) -> list[int]:
        def numbers() -> Iterator[int]:
            yield from range(3)

        return numbers()  # type: ignore[return-value]  # an iterable that is not a list: graphql-core's path

    @strawberry.field
    def grid(self) -> list[list[int | None]]:
        return [[1, None], [3]]

    @strawberry.field
    def shades(self) -> list[Shade]:
        return [Shade.RED, Shade.BLUE]

    @strawberry.field
    def wrong_shade(self) -> Shade | None:
        return "green"  # type: ignore[return-value]  # a value the enum refuses: an error, as graphql-core says it

    @strawberry.field
    def scaled(self, times: int = 2) -> int:
        return self.count * times


@strawberry.type
class WalkQuery:
    @strawberry.field
    def boxes(self) -> list[Box | None]:
        return [
            Box(label="a", note=None, count=1),
            Box(label="b", note="n", count="many"),  # type: ignore[arg-type]  # an Int the type refuses
            Box(label="c", note="m", count=3),
        ]

    @strawberry.field
    async def box(self) -> Box | None:
        return Box(label="z", note=None, count=5)


DOCUMENT = """
query Walk($withGrid: Boolean!, $times: Int) {
  __typename
  boxes {
    __typename label note count
    first: scaled
    second: scaled(times: $times)
    parts { name weight shade size { width unit } }
    maybeParts { name weight }
    sizedParts { name size { width } }
    shades wrongShade
    laterParts { ...PartFields }
    softBroken
    things { __typename name ... on Part { weight } ... on Tool { sharp } }
    generated
    grid @include(if: $withGrid)
    skipped: label @skip(if: true)
  }
  box { label broken }
}
fragment PartFields on Part { name weight }
"""


def _errors(result: Any) -> list[tuple[str, tuple[Any, ...] | None, Any]]:
    return sorted(
        ((e.message, tuple(e.path or ()), [(loc.line, loc.column) for loc in e.locations or []])
         for e in result.errors or []),
        key=repr,
    )  # fmt: skip


class CountingWalk(PlannedWalkExecution):
    planned = 0

    def _plan(self, parent_type: Any, grouped_field_set: Any) -> Any:
        CountingWalk.planned += 1
        return super()._plan(parent_type, grouped_field_set)


def _answers(variables: dict[str, Any]) -> tuple[Any, Any]:
    reference = strawberry.Schema(query=WalkQuery, types=[Part, Tool])
    planned = strawberry.Schema(query=WalkQuery, types=[Part, Tool], execution_context_class=CountingWalk)
    assert mark_plain_fields(planned._schema) > 0
    return (
        asyncio.run(reference.execute(DOCUMENT, variable_values=variables)),
        asyncio.run(planned.execute(DOCUMENT, variable_values=variables)),
    )


def test_the_planned_walk_answers_data_and_errors_as_graphql_core() -> None:
    for variables in ({"withGrid": True, "times": 4}, {"withGrid": False}):
        expected, answer = _answers(variables)
        assert expected.data is not None and expected.errors  # a document that runs, with errors to compare
        assert answer.data == expected.data
        assert _errors(answer) == _errors(expected)


def test_what_the_comparison_covers() -> None:
    before = CountingWalk.planned
    expected, answer = _answers({"withGrid": True, "times": 4})
    assert CountingWalk.planned > before  # the planned walk ran, not graphql-core's generic one
    data = answer.data
    # Nulls where graphql-core puts them: box b's refused Int nulls the whole box; box's non-null ``broken``
    # nulls ``box``; a part without its non-null name nulls that item only.
    assert data is not None
    assert data["__typename"] == "WalkQuery"
    assert data["box"] is None
    assert data["boxes"][1] is None
    first = data["boxes"][0]
    assert first["first"] == 2 and first["second"] == 4
    assert first["maybeParts"] == [{"name": "ok", "weight": 1}, None]
    assert first["laterParts"] == [{"name": "later", "weight": 7}]
    assert first["softBroken"] is None and "skipped" not in first
    assert first["shades"] == ["RED", "BLUE"] and first["wrongShade"] is None
    assert first["parts"][0]["shade"] == "BLUE"
    assert first["parts"][0]["size"] is None and first["parts"][2]["size"] == {"width": 2, "unit": "mm"}
    # A row found unusual is completed by graphql-core's path, with its error: the nullable size alone is null.
    assert first["sizedParts"] == [{"name": "s", "size": {"width": 4}}, {"name": "t", "size": None}]
    assert any("Cannot return null for non-nullable field Size.width" in m for m in [e[0] for e in _errors(answer)])
    messages = [message for message, _, _ in _errors(answer)]
    assert any("broken upstream" in m for m in messages)
    assert any("Int cannot represent" in m for m in messages)
    assert any("Cannot return null for non-nullable field Part.name" in m for m in messages)
    assert "soft failure" in messages
    assert any("green" in m for m in messages)  # the enum's refusal
    assert _errors(answer) == _errors(expected)


class CompletingWalk(PlannedWalkExecution):
    objects = 0

    def complete_object_value(self, *args: Any) -> Any:
        CompletingWalk.objects += 1
        return super().complete_object_value(*args)


def test_a_list_of_objects_with_plain_fields_is_read_row_by_row_without_a_completion_each() -> None:
    document = "{ boxes { parts { name weight size { width unit } } } }"
    reference = strawberry.Schema(query=WalkQuery, types=[Part, Tool])
    planned = strawberry.Schema(query=WalkQuery, types=[Part, Tool], execution_context_class=CompletingWalk)
    mark_plain_fields(planned._schema)
    expected, answer = reference.execute_sync(document), planned.execute_sync(document)
    assert answer.data == expected.data and not expected.errors
    assert answer.data is not None and answer.data["boxes"][0]["parts"][1] == {
        "name": "a-p1", "weight": 1, "size": {"width": 1, "unit": "mm"}
    }  # fmt: skip
    assert CompletingWalk.objects == 3  # the boxes; not their nine parts, nor the parts' sizes


def test_lists_abstract_types_and_arguments_walk_alike() -> None:
    document = """{ boxes { label scaled(times: 3) things { __typename name ... on Tool { sharp } }
                            grid generated parts { name } maybeParts { name } } }"""
    reference = strawberry.Schema(query=WalkQuery, types=[Part, Tool])
    planned = strawberry.Schema(query=WalkQuery, types=[Part, Tool], execution_context_class=PlannedWalkExecution)
    mark_plain_fields(planned._schema)
    expected, answer = reference.execute_sync(document), planned.execute_sync(document)
    assert answer.data == expected.data
    assert answer.data is not None
    first = answer.data["boxes"][0]
    assert first["scaled"] == 3
    assert first["things"] == [
        {"__typename": "Part", "name": "bolt"},
        {"__typename": "Tool", "name": "saw", "sharp": True},
    ]
    assert first["grid"] == [[1, None], [3]]
    assert first["generated"] == [0, 1, 2]
    assert first["maybeParts"] == [{"name": "ok"}, None]
    assert _errors(answer) == _errors(expected)


def test_a_document_asked_again_reuses_its_plan_and_reads_its_own_variables() -> None:
    from crmgraph.policy.limits import QueryLimiter
    from crmgraph.schema import walk

    schema = strawberry.Schema(query=WalkQuery, types=[Part, Tool], extensions=[QueryLimiter],
                               execution_context_class=PlannedWalkExecution)  # fmt: skip
    mark_plain_fields(schema._schema)
    document = "query($times: Int) { box { label scaled(times: $times) fixed: scaled(times: 3) } }"
    before = len(walk._SHARED)
    answers = [asyncio.run(schema.execute(document, variable_values={"times": 4}))]
    planned = len(walk._SHARED)
    assert planned > before  # the first request planned its fields
    answers += [asyncio.run(schema.execute(document, variable_values={"times": t})) for t in (7, 2)]
    assert len(walk._SHARED) == planned  # the later ones planned nothing anew
    assert [a.data["box"] for a in answers if a.data] == [
        {"label": "z", "scaled": 20, "fixed": 15},
        {"label": "z", "scaled": 35, "fixed": 15},
        {"label": "z", "scaled": 10, "fixed": 15},
    ]


class CollectingWalk(PlannedWalkExecution):
    collected = 0

    def collect_subfields(self, return_type: Any, field_details_list: Any) -> Any:
        CollectingWalk.collected += 1
        return super().collect_subfields(return_type, field_details_list)


def _collecting_schema() -> strawberry.Schema:
    from crmgraph.policy.limits import QueryLimiter  # it keeps the parsed documents: a document asked again is the same

    schema = strawberry.Schema(query=WalkQuery, types=[Part, Tool], extensions=[QueryLimiter],
                               execution_context_class=CollectingWalk)  # fmt: skip
    mark_plain_fields(schema._schema)
    return schema


def test_a_fixed_document_asked_again_collects_no_selection_anew() -> None:
    schema = _collecting_schema()
    document = "query($times: Int) { boxes { label scaled(times: $times) parts { name weight } } }"
    first = asyncio.run(schema.execute(document, variable_values={"times": 2}))
    collected = CollectingWalk.collected
    assert collected > 0
    again = asyncio.run(schema.execute(document, variable_values={"times": 5}))
    assert CollectingWalk.collected == collected  # the selections and plans of the first request served
    assert first.data and again.data
    assert [box["scaled"] for box in first.data["boxes"] if box] == [2, 6]
    assert [box["scaled"] for box in again.data["boxes"] if box] == [5, 15]
    assert again.data["boxes"][0]["parts"] == first.data["boxes"][0]["parts"]


def test_a_selection_a_variable_can_change_is_collected_for_each_request() -> None:
    schema = _collecting_schema()
    document = "query($deep: Boolean!) { boxes { label parts @include(if: $deep) { name } } }"
    with_parts = asyncio.run(schema.execute(document, variable_values={"deep": True}))
    collected = CollectingWalk.collected
    without = asyncio.run(schema.execute(document, variable_values={"deep": False}))
    assert CollectingWalk.collected > collected
    assert with_parts.data and without.data
    assert "parts" in with_parts.data["boxes"][0] and "parts" not in without.data["boxes"][0]
    deferred = "{ boxes { label ... @defer { note } } }"
    assert not walk_fixed(schema, deferred) and walk_fixed(schema, "{ boxes { label @skip(if: true) note } }")


def walk_fixed(schema: strawberry.Schema, document: str) -> bool:
    from graphql import parse

    from crmgraph.schema.walk import _fixed_selections

    parsed = parse(document)
    operation = parsed.definitions[0]
    return _fixed_selections(operation, {})  # type: ignore[arg-type]


WORKED_OUT: list[str] = []


@strawberry.type
class Tag:
    raw: strawberry.Private[str]

    @property
    def label_text(self) -> str:
        WORKED_OUT.append(self.raw)
        return self.raw.upper()

    @strawberry.field
    @reads("label_text")
    def label(self) -> str:
        return self.label_text


@strawberry.type
class TagQuery:
    @strawberry.field
    def tags(self) -> list[Tag]:
        return [Tag(raw="a"), Tag(raw="b")]


def test_a_property_a_resolver_reads_is_read_as_a_plain_field_and_only_when_asked() -> None:
    reference = strawberry.Schema(query=TagQuery)
    planned = strawberry.Schema(query=TagQuery, execution_context_class=PlannedWalkExecution)
    mark_plain_fields(planned._schema)
    field = planned._schema.get_type("Tag").fields["label"]  # type: ignore[union-attr]
    assert getattr(field, PLAIN).attribute == "label_text"
    WORKED_OUT.clear()
    answer = planned.execute_sync("{ tags { __typename } }")
    assert answer.data == {"tags": [{"__typename": "Tag"}] * 2} and WORKED_OUT == []
    answer = planned.execute_sync("{ tags { label } }")
    assert (
        answer.data == reference.execute_sync("{ tags { label } }").data == {"tags": [{"label": "A"}, {"label": "B"}]}
    )
    assert WORKED_OUT == ["a", "b", "a", "b"]  # once per item by each schema
