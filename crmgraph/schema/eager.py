"""Every asynchronous resolver of the graph made eager (:mod:`crmgraph.resolvers.eager`).

graphql-core treats whatever a resolver returns as awaitable or not: an awaitable field goes through
``complete_awaitable_value``, and every awaitable field of an object with more than one, and every
awaitable item of a list, becomes an asyncio Task. On a page of 50 customers that was hundreds of tasks,
most of them awaiting loads the page had already read. An eager resolver answers such a field with a
plain value, and graphql-core completes it synchronously.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema

from crmgraph.resolvers.eager import run_eagerly


def make_eager(resolve: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    @wraps(resolve)
    def eager(source: Any, info: Any, **arguments: Any) -> Any:
        return run_eagerly(resolve(source, info, **arguments))

    eager.__dict__["_eager"] = True
    return eager


def eager_resolvers(schema: GraphQLSchema) -> int:
    """Make every asynchronous resolver of the schema's query types eager; returns how many were.

    Mutations and subscriptions are left as they are: a mutation's fields run one after the other by
    the GraphQL spec and gain nothing, and a subscription's resolvers receive events, not loads.
    """
    skipped = {schema.mutation_type, schema.subscription_type}
    wrapped = 0
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named in skipped or named.name.startswith("__"):
            continue
        for field in named.fields.values():
            resolve = field.resolve
            if resolve is not None and inspect.iscoroutinefunction(resolve):
                field.resolve = make_eager(resolve)
                wrapped += 1
    return wrapped
