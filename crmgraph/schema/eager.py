"""The graph's resolvers called leanly and run eagerly (:mod:`crmgraph.resolvers.eager`).

graphql-core treats whatever a resolver returns as awaitable or not: an awaitable field goes through
``complete_awaitable_value``, and every awaitable field of an object with more than one, and every
awaitable item of a list, becomes an asyncio Task. Most of a page's fields await loads the page has
already read; an eager resolver answers those with a plain value, and graphql-core completes them
synchronously.

strawberry also wraps each resolver in layers that matter on a page of a thousand fields: an
``async`` wrapper and ``await_maybe``, the field-extension chain, and argument conversion that looks up
the name of every argument the field declares on every call. For a field with none of what those layers
are for (no field extensions, no exception handlers, no ``root``/``parent`` parameter, arguments that
are scalars or enums, which strawberry passes on unchanged) the resolver function is called directly
with graphql-core's arguments under their Python names and strawberry's ``Info``. Every other field keeps
strawberry's own resolver, made eager when it is asynchronous.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema
from strawberry.relay.types import GlobalID
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import _is_leaf_type
from strawberry.types.base import StrawberryOptional

from crmgraph.resolvers.eager import run_eagerly


def make_eager(resolve: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    @wraps(resolve)
    def eager(source: Any, info: Any, **arguments: Any) -> Any:
        return run_eagerly(resolve(source, info, **arguments))

    return eager


def eager_resolvers(schema: GraphQLSchema, config: Any = None, scalars: Any = None) -> int:
    """Make the resolvers of the schema's query types lean where they can be (given strawberry's schema
    ``config`` and ``scalars`` registry) and eager where they are asynchronous; returns how many changed.

    Mutations and subscriptions are left as they are: a mutation's fields run one after the other by
    the GraphQL spec and gain nothing, and a subscription's resolvers receive events, not loads.
    """
    skipped = {schema.mutation_type, schema.subscription_type}
    changed = 0
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named in skipped or named.name.startswith("__"):
            continue
        for field in named.fields.values():
            resolve = field.resolve
            lean = _lean(field, config, scalars) if config is not None else None
            if lean is not None:
                field.resolve = lean
            elif resolve is not None and inspect.iscoroutinefunction(resolve):
                field.resolve = make_eager(resolve)
            else:
                continue
            changed += 1
    return changed


def _lean(field: Any, config: Any, scalars: Any) -> Callable[..., Any] | None:
    definition: Any = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    resolver = getattr(definition, "base_resolver", None)
    if resolver is None or definition.extensions or resolver.parent_parameter or resolver.root_parameter:
        return None
    names: list[tuple[str, str]] = []  # (GraphQL name, Python name) of each argument
    for argument in definition.arguments:
        kind = argument.type.of_type if isinstance(argument.type, StrawberryOptional) else argument.type
        if kind is GlobalID or not _is_leaf_type(kind, scalars):
            return None  # strawberry converts it: keep strawberry's path
        names.append((config.name_converter.from_argument(argument), argument.python_name))
    function = resolver.wrapped_func
    takes_self = resolver.self_parameter is not None
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    info_class = config.info_class

    def lean(source: Any, info: Any, **given: Any) -> Any:
        arguments = {python: given[graphql] for graphql, python in names if graphql in given}
        if info_name is not None:
            arguments[info_name] = info_class(_raw_info=info, _field=definition)
        result = function(source, **arguments) if takes_self else function(**arguments)
        return run_eagerly(result) if inspect.iscoroutine(result) else result

    return lean
