"""Extension hooks found once per class (crmgraph.schema.extension_hooks) run as strawberry's own runner runs
them: every kind of hook, in the same order, with the same answer, exceptions reaching the hooks as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

from crmgraph.schema.extension_hooks import KnownHooksRunner, _hooks

LOG: list[str] = []


class Generators(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        LOG.append("operation in")
        try:
            yield
        finally:
            LOG.append(f"operation out ({type(self.execution_context.result).__name__})")

    def on_parse(self) -> Iterator[None]:
        LOG.append("parse in")
        yield
        LOG.append("parse out")


class AsyncGenerators(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        LOG.append("async operation in")
        yield
        LOG.append("async operation out")

    async def on_execute(self) -> AsyncIterator[None]:
        LOG.append("async execute in")
        try:
            yield
        except Exception as exc:  # what strawberry throws into the hook reaches it here too
            LOG.append(f"async execute saw {exc}")
            raise
        LOG.append("async execute out")


class Callables(SchemaExtension):
    def on_validate(self) -> None:  # type: ignore[override]  # a plain function: runs on entering the stage
        LOG.append("validate called")

    async def on_execute(self) -> None:  # type: ignore[override]
        LOG.append("execute awaited")

    def get_results(self) -> dict[str, Any]:
        return {"callables": len(LOG)}


@strawberry.type
class Query:
    @strawberry.field
    def greeting(self, name: str) -> str:
        if name == "boom":
            raise ValueError("boom")
        return f"hello {name}"


class KnownHooksSchema(strawberry.Schema):
    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return KnownHooksRunner(execution_context, extensions)


def _run(schema_class: type[strawberry.Schema], document: str) -> tuple[list[str], Any]:
    schema = schema_class(query=Query, extensions=[Generators, AsyncGenerators, Callables])
    LOG.clear()
    result = asyncio.run(schema.execute(document))
    return list(LOG), (result.data, [str(e) for e in result.errors or []], result.extensions)


def test_every_kind_of_hook_runs_as_strawberry_runs_it() -> None:
    for document in ('{ greeting(name: "ada") }', '{ greeting(name: "boom") }', "{ nope }", "{ greeting("):
        expected = _run(strawberry.Schema, document)
        assert expected[0], "the extensions ran"
        assert _run(KnownHooksSchema, document) == expected, document
    # The runner found the hooks by class, once: strawberry's own runner keeps no such table.
    assert _hooks[(Generators, "on_operation")] is not None and _hooks[(Callables, "on_operation")] is None
    log, answer = _run(KnownHooksSchema, '{ greeting(name: "ada") }')
    assert answer[0] == {"greeting": "hello ada"} and answer[2] == {"callables": len(log)}
    assert log[0] == "operation in" and log[-1] == "operation out (ExecutionResult)"
    assert "execute awaited" in log and "validate called" in log


def test_a_schema_without_the_hook_leaves_nothing_to_run() -> None:
    class Quiet(SchemaExtension):
        pass

    schema = KnownHooksSchema(query=Query, extensions=[Quiet])
    result = schema.execute_sync('{ greeting(name: "x") }')
    assert result.data == {"greeting": "hello x"} and not result.errors
