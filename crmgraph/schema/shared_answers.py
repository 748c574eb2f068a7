"""One execution per event for every subscription that would answer it alike.

With a thousand subscribers of one selection, an event would be answered a thousand times, each a GraphQL
execution of its own: that cost bounds how many subscribers an instance serves (docs/benchmarks.md). Here
the first subscription to answer an event executes; every other subscription with the same **share key**
gets a copy of that answer. The key is the operation's text, its variables, the root field's customer
filter and everything the principal's access decides (visible fields, row scope as its effective
clauses, roles' switches): two subscriptions with one key would compute the same answer.

Not shared: a selection that reads a field some policy guards (denied, masked, or audited as personal data,
:mod:`crmgraph.schema.field_policy`), since its answer also leaves per-subscriber notes (the audit trail,
``extensions.masked``). Stale marks are copied to each subscriber's own log.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from graphql import ExecutionResult, GraphQLResolveInfo, TypeInfo, TypeInfoVisitor, Visitor, print_ast, visit

from crmgraph.cache.read_through import StaleLog
from crmgraph.policy.roles import Access
from crmgraph.schema.walk import PlannedWalkExecution

GUARDED = "crmgraph_guarded"  # set on the resolvers field_policy wraps


class AnswerCounts:
    """Event answers executed and answers copied from another subscription's, since the process started."""

    executed = 0
    shared = 0


class SharedEventExecution(PlannedWalkExecution):
    """graphql-core's executor (its walk planned, :mod:`crmgraph.schema.walk`), answering a subscription event
    once per share key."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        payload = self.root_value
        if not hasattr(payload, "share_key"):  # a query, a mutation: not an event
            return super().execute_operation(serially)
        key = payload.share_key
        if key is None:
            AnswerCounts.executed += 1
            return super().execute_operation(serially)
        answers: dict[Any, tuple[asyncio.Future[Any], StaleLog]] = payload.delivery.answers
        shared = answers.get(key)
        if shared is None:
            AnswerCounts.executed += 1
            stale = self.context_value.loaders.stale
            shared = answers[key] = (asyncio.ensure_future(_settled(super().execute_operation(serially))), stale)
        else:
            AnswerCounts.shared += 1
        return _copy(shared, self.context_value)


async def _settled(result: Any) -> Any:
    return await result if asyncio.iscoroutine(result) or asyncio.isfuture(result) else result


async def _copy(shared: tuple[asyncio.Future[Any], StaleLog], context: Any) -> ExecutionResult:
    future, stale = shared
    result: ExecutionResult = await asyncio.shield(future)
    own = context.loaders.stale
    if own is not stale:
        own.served.extend(stale.served)
    # A result of its own: each subscriber's extensions are set on it.
    return ExecutionResult(result.data, list(result.errors) if result.errors else None)


def share_key(info: GraphQLResolveInfo[Any], access: Access | None, *arguments: object) -> tuple[object, ...] | None:
    """What makes two subscriptions' answers equal; None when this one's answers must be its own."""
    if _reads_guarded_fields(info):
        return None
    document = print_ast(info.operation) + "".join(print_ast(f) for f in info.fragments.values())
    variables = orjson.dumps(info.variable_values, option=orjson.OPT_SORT_KEYS, default=str)
    return (document, variables, _access_key(access), *arguments)


def _access_key(access: Access | None) -> object:
    if access is None:
        return None
    clauses = access.scope_clauses()
    scope = None if clauses is None else tuple(sorted(tuple(sorted((f, tuple(sorted(v))) for f, v in c.items()))
                                                      for c in clauses))  # fmt: skip
    return (tuple(sorted((k, v.value) for k, v in access.fields.items())), scope, tuple(sorted(access.mutations)),
            access.explain, access.known_role, access.audit, access.explore)  # fmt: skip


def _reads_guarded_fields(info: GraphQLResolveInfo[Any]) -> bool:
    type_info = TypeInfo(info.schema)
    found: list[bool] = []

    class _Guarded(Visitor):
        def enter_field(self, *_: object) -> None:
            field = type_info.get_field_def()
            if field is not None and getattr(field.resolve, GUARDED, False):
                found.append(True)

    visitor = TypeInfoVisitor(type_info, _Guarded())
    visit(info.operation, visitor)
    for fragment in info.fragments.values():
        visit(fragment, visitor)
    return bool(found)
