"""Eager coroutines: a value at once when nothing waits, and the same behaviour as ``await`` when something
does (results, errors, cancellation, a future several of them wait for)."""

from __future__ import annotations

import asyncio
import enum
import functools
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from graphql import GraphQLField, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString, graphql

from crmgraph.resolvers.eager import Suspended, gathered, run_eagerly
from crmgraph.schema.eager import eager_resolvers
from crmgraph.schema.plain_fields import mark_plain_fields
from crmgraph.schema.walk import PlannedWalkExecution
from tests.task_count import counting_tasks


def in_loop(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    @functools.wraps(test)
    def run() -> None:
        asyncio.run(test())

    return run


async def _read(future: asyncio.Future[Any]) -> Any:
    return await future


@in_loop
async def test_a_coroutine_over_done_futures_answers_at_once() -> None:
    done = asyncio.get_running_loop().create_future()
    done.set_result(7)
    assert run_eagerly(_read(done)) == 7


@in_loop
async def test_a_coroutine_that_waits_carries_on_when_awaited() -> None:
    pending = asyncio.get_running_loop().create_future()
    suspended = run_eagerly(_read(pending))
    assert isinstance(suspended, Suspended)
    asyncio.get_running_loop().call_soon(pending.set_result, "late")
    assert await suspended == "late"


@in_loop
async def test_two_eager_coroutines_may_wait_for_one_future() -> None:
    # Loads two fields share: the second must not find the future claimed by the first.
    pending = asyncio.get_running_loop().create_future()
    first, second = run_eagerly(_read(pending)), run_eagerly(_read(pending))
    asyncio.get_running_loop().call_soon(pending.set_result, 1)
    assert await asyncio.gather(first, second) == [1, 1]


@in_loop
async def test_an_error_raised_at_once_or_later_reaches_the_caller() -> None:
    failed = asyncio.get_running_loop().create_future()
    failed.set_exception(ValueError("at once"))
    with pytest.raises(ValueError, match="at once"):
        run_eagerly(_read(failed))
    pending = asyncio.get_running_loop().create_future()
    suspended = run_eagerly(_read(pending))
    asyncio.get_running_loop().call_soon(pending.set_exception, ValueError("later"))
    with pytest.raises(ValueError, match="later"):
        await suspended


@in_loop
async def test_cancelling_the_awaiting_task_cancels_the_coroutine() -> None:
    reached_finally = asyncio.Event()

    async def guarded(future: asyncio.Future[Any]) -> None:
        try:
            await future
        finally:
            reached_finally.set()

    pending = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(run_eagerly(guarded(pending)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert reached_finally.is_set()


@in_loop
async def test_gathered_keeps_order_and_waits_only_for_what_waits() -> None:
    loop = asyncio.get_running_loop()
    done, pending = loop.create_future(), loop.create_future()
    done.set_result("done")
    loop.call_soon(pending.set_result, "pending")
    assert await gathered([pending, done, _read(done)]) == ["pending", "done", "done"]


@in_loop
async def test_gathered_reports_failures_like_gather() -> None:
    loop = asyncio.get_running_loop()
    failed = loop.create_future()
    failed.set_exception(KeyError("k"))
    results = await gathered([failed, _read(failed)], return_exceptions=True)
    assert [type(r) for r in results] == [KeyError, KeyError]
    with pytest.raises(KeyError):
        await gathered([failed])


@in_loop
async def test_eager_resolvers_answer_fields_without_a_task_each() -> None:
    ready = asyncio.get_running_loop().create_future()
    ready.set_result("value")

    async def resolve(_source: Any, _info: Any) -> Any:
        return await ready

    item = GraphQLObjectType("Item", {f"f{i}": GraphQLField(GraphQLNonNull(GraphQLString), resolve=resolve)
                                      for i in range(5)})  # fmt: skip
    schema = GraphQLSchema(query=GraphQLObjectType("Query", {"item": GraphQLField(item, resolve=lambda *_: {})}))
    with counting_tasks() as tasks:
        document = "{ item { f0 f1 f2 f3 f4 } }"
        plain = await graphql(schema, document)
        plain_tasks, tasks.created = tasks.created, 0
        assert eager_resolvers(schema) == 5
        eager = await graphql(schema, document)
    assert plain.data == eager.data == {"item": {f"f{i}": "value" for i in range(5)}}
    assert plain_tasks == 5  # one per awaitable field of an object with several
    assert tasks.created == 0


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"


@strawberry.type
class Item:
    name: str
    note: str | None
    colour: Colour
    at: datetime


@strawberry.type
class ItemQuery:
    @strawberry.field
    def items(self) -> list[Item | None]:
        moment = datetime(2026, 1, 2, tzinfo=UTC)
        return [Item(name="a", note=None, colour=Colour.RED, at=moment),
                Item(name=None, note="n", colour=Colour.RED, at=moment)]  # type: ignore[arg-type]  # fmt: skip


def test_plain_fields_answer_as_graphql_core_would() -> None:
    document = "{ items { name note colour at } }"
    reference = strawberry.Schema(query=ItemQuery).execute_sync(document)
    fast = strawberry.Schema(query=ItemQuery, execution_context_class=PlannedWalkExecution)
    assert mark_plain_fields(fast._schema) == 4
    answer = fast.execute_sync(document)
    assert answer.data == reference.data == {"items": [
        {"name": "a", "note": None, "colour": "RED", "at": "2026-01-02T00:00:00+00:00"}, None]}  # fmt: skip
    assert [str(e) for e in answer.errors or []] == [str(e) for e in reference.errors or []]
    assert "Cannot return null for non-nullable field Item.name" in str(answer.errors)


@strawberry.input
class Window:
    first: int


@strawberry.type
class ArgumentQuery:
    @strawberry.field
    async def echo(self, info: strawberry.Info, first: int = 3, after: str | None = None,
                   colour: Colour | None = None, placed_after: datetime | None = None) -> str:  # fmt: skip
        return f"{first} {after} {colour} {placed_after} {info.field_name}"

    @strawberry.field
    def windowed(self, window: Window) -> int:
        return window.first


def test_lean_resolvers_receive_what_strawberry_would_pass() -> None:
    document = """{ a: echo b: echo(first: 5, after: "x", colour: RED, placedAfter: "2026-01-02T00:00:00+00:00")
                    windowed(window: {first: 2}) }"""
    reference = strawberry.Schema(query=ArgumentQuery)
    lean = strawberry.Schema(query=ArgumentQuery)
    # echo is called directly; windowed's input object is left to strawberry's own conversion.
    assert eager_resolvers(lean._schema, lean.config, lean.schema_converter.scalar_registry) == 1
    assert lean._schema.query_type is not None
    assert lean._schema.query_type.fields["windowed"].resolve.__name__ != "lean"
    expected = asyncio.run(reference.execute(document))
    answer = asyncio.run(lean.execute(document))
    assert answer.errors is None
    assert (
        answer.data
        == expected.data
        == {
            "a": "3 None None None echo",
            "b": "5 x Colour.RED 2026-01-02 00:00:00+00:00 echo",
            "windowed": 2,
        }
    )
