"""graphql-core's executor with the walk over an answer's fields planned once per selection.

graphql-core completes every field generically: it looks the field's definition up by name, turns its
field details into nodes, asks the middleware manager for a resolver, checks for arguments, and then walks
``complete_value``'s chain of type tests (non-null? list? leaf? abstract? object?) through three or four
calls per object before it reaches the object's own fields; each list asks whether it is streamed. On a
list page of 50 customers that generic work runs for every row.

Here each field of a selection (a grouped field set, which graphql-core collects once per execution and
parent type) gets a step: its definition, resolver, nodes, whether it has arguments (and, when they are
written out in the document, their values, coerced once), and whether it is plain
(:mod:`crmgraph.schema.plain_fields`: read with ``getattr`` and coerced). A step depends only on the schema
and the document, so every request of the same document (the parser's cache hands each the same nodes)
shares it. Each output type is classified once per process. A list of objects whose selected fields are all
plain (or objects of plain fields read from an attribute: an order's ``total { amount }``) is read row by row
into its answer, without a completion per item; a row found unusual sends the list down the general path.
The completion takes the direct route for the common cases (non-null, lists that are not streamed, leaves,
objects without deferred parts) and hands everything else (abstract types, async iterables,
``@defer``/``@stream``, field middleware) to graphql-core's own methods, so what it answers, and every error
and its path, is the same.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Iterable
from enum import Enum
from typing import Any
from weakref import WeakMethod

from graphql import (
    BREAK,
    DirectiveNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfoHelpers,
    GraphQLScalarType,
    OperationDefinitionNode,
    Undefined,
    Visitor,
    visit,
)
from graphql.execution.executor import invalid_return_type_error
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from crmgraph.policy.cost import has_variable
from crmgraph.schema.field_policy import GUARDED
from crmgraph.schema.plain_fields import PLAIN, PlainField, output_coercion, read_attribute

# What a completion does for an output type, found once per type object.
_NON_NULL, _LIST, _LEAF, _OBJECT, _OTHER = range(5)
KIND = "_crmgraph_kind"  # the attribute of a type object that holds its kind


def _kind(return_type: Any) -> int:
    kind: int | None = getattr(return_type, KIND, None)
    if kind is not None:
        return kind
    if isinstance(return_type, GraphQLNonNull):
        kind = _NON_NULL
    elif isinstance(return_type, GraphQLList):
        kind = _LIST
    elif isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
        kind = _LEAF
    elif isinstance(return_type, GraphQLObjectType):
        kind = _OBJECT
    else:
        kind = _OTHER  # interfaces and unions: graphql-core resolves the runtime type
    setattr(return_type, KIND, kind)
    return kind


_IMMUTABLE = (str, int, float, bool, Enum, type(None))  # argument values a resolver cannot change for the next row


class _Step:
    """One field of a planned selection."""

    __slots__ = ("args", "constant_args", "details", "field", "has_args", "name", "nodes", "parent_type", "plain",
                 "resolve", "resolve_default", "return_type")  # fmt: skip

    def __init__(self, name: str, details: Any, field: Any, default_resolver: Any) -> None:
        self.name = name
        self.details = details
        self.field = field  # None for __typename and the other introspection fields: graphql-core's own way
        self.return_type: Any = field.type if field is not None else None
        self.resolve: Any = (field.resolve or default_resolver) if field is not None else None
        self.resolve_default = default_resolver
        self.parent_type: GraphQLObjectType | None = None
        self.nodes = [detail.node for detail in details]
        self.has_args = field is not None and bool(field.args or details[0].node.arguments)
        # Arguments written out in the document (a connection's ``first: 5``) are the same for every row of a
        # page: coerced once. Not so where a variable or a fragment's variables come in.
        self.constant_args = (
            self.has_args
            and details[0].fragment_variable_values is None
            and not any(has_variable(argument.value) for argument in details[0].node.arguments or ())
        )
        self.args: dict[str, Any] | None = None
        self.plain: PlainField | None = getattr(field, PLAIN, None)


SHARED_STEPS = 20_000  # steps kept across requests: a few dozen per document
# (ids of the parent type and the field's nodes, response name) -> its step, oldest first
_SHARED: OrderedDict[tuple[object, ...], _Step] = OrderedDict()


def _step(name: str, details: Any, parent_type: GraphQLObjectType, default_resolver: Any) -> _Step:
    """The field's step, shared by every request of the same document (the parser hands each the same nodes):
    what a step holds comes from the schema and the document alone, unless a fragment's variables or a deferral
    come in."""
    field = parent_type.fields.get(details[0].node.name.value)
    if any(detail.fragment_variable_values is not None or detail.defer_usage is not None for detail in details):
        return _Step(name, details, field, default_resolver)
    key = (id(parent_type), name, *(id(detail.node) for detail in details))
    step = _SHARED.get(key)
    # The step holds the parent type (through its field) and the nodes: their ids are not reused while it is kept.
    if step is None or step.parent_type is not parent_type or step.resolve_default is not default_resolver:
        step = _SHARED[key] = _Step(name, details, field, default_resolver)
        step.parent_type = parent_type
        if len(_SHARED) > SHARED_STEPS:
            _SHARED.popitem(last=False)
    return step


# (ids of an object type and of the field nodes it is completed for) -> (the type, the field details, the
# collected selection, its plan), oldest first: for documents whose selections no variable can change.
_SHARED_OBJECTS: OrderedDict[tuple[int, ...], tuple[GraphQLObjectType, Any, Any, list[_Step]]] = OrderedDict()
# (id of an operation, ids of its fragments) -> (the operation, whether its selections are fixed), oldest first
_FIXED: OrderedDict[tuple[int, ...], tuple[OperationDefinitionNode, bool]] = OrderedDict()
SHARED_DOCUMENTS = 2_000  # documents whose fixedness is kept


class _VariableSelection(Visitor):
    """Finds what makes a document's selections depend on the request: ``@skip``/``@include`` with a variable,
    ``@defer``/``@stream`` (deferred parts are tracked per request), fragment arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
        name = node.name.value
        if name in ("defer", "stream") or (
            name in ("skip", "include") and any(has_variable(argument.value) for argument in node.arguments or ())
        ):
            self.found = True
            return BREAK
        return None

    def enter_fragment_spread(self, node: Any, *_: Any) -> Any:
        if getattr(node, "arguments", None):
            self.found = True
            return BREAK
        return None


def _fixed_selections(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> bool:
    """Whether every request of this operation collects the same fields: then a collected selection and its
    plan can be shared between them, as the steps are."""
    definitions = [getattr(fragment, "definition", fragment) for fragment in fragments.values()]
    key = (id(operation), *(id(definition) for definition in definitions))
    kept = _FIXED.get(key)
    if kept is not None and kept[0] is operation:
        return kept[1]
    finder = _VariableSelection()
    for node in (operation, *definitions):
        visit(node, finder)
        if finder.found:
            break
    _FIXED[key] = (operation, not finder.found)  # the operation is held: its id is not reused while kept
    if len(_FIXED) > SHARED_DOCUMENTS:
        _FIXED.popitem(last=False)
    return not finder.found


class PlannedWalkExecution(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor over planned selections; plain fields read directly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core hands resolvers two of this executor's bound methods; held by the executor itself, they
        # make it a reference cycle, and with it the request's context, loaders and records, which the
        # garbage collector then has to find (a list page's 600 objects) instead of their being freed as the
        # request ends.
        self.async_helpers = GraphQLResolveInfoHelpers(
            gather=_WeakMethod(self.gather_async_work), track=_WeakMethod(self.track_async_work)
        )
        self._plans: dict[tuple[int, int], tuple[object, list[_Step]]] = {}
        # (ids of an object type and of the field details it is completed for) -> (those details, kept so their
        # id stays theirs; the collected selection; its deferred parts; its plan)
        self._objects: dict[tuple[int, int], tuple[object, Any, Any, list[_Step]]] = {}
        # (ids of a list's item type and field details) -> (the details; its items' shape when every field selected
        # of them is plain, else None)
        self._row_shapes: dict[tuple[int, int], tuple[object, _RowShape | None]] = {}
        # strawberry hands every request a middleware manager, empty unless an extension resolves fields.
        manager = self.middleware_manager
        self._generic = bool(manager and manager.middlewares) or self.schema.get_directive("stream") is not None
        self._shared_objects = not self._generic and _fixed_selections(self.operation, self.fragments)

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> list[_Step]:
        key = (id(parent_type), id(grouped_field_set))
        kept = self._plans.get(key)
        if kept is not None:
            return kept[1]
        steps = [_step(name, details, parent_type, self.field_resolver) for name, details in grouped_field_set.items()]
        # The grouped field set is kept with its plan: its id cannot be reused while the plan is.
        self._plans[key] = (grouped_field_set, steps)
        return steps

    def execute_fields(
        self, parent_type: GraphQLObjectType, source_value: Any, path: Path | None, grouped_field_set: Any,
        position_context: Any,
    ) -> Any:  # fmt: skip
        if self._generic or position_context is not None:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        return self._run(self._plan(parent_type, grouped_field_set), parent_type, source_value, path)

    def _run(self, steps: list[_Step], parent_type: GraphQLObjectType, source_value: Any, path: Path | None) -> Any:
        """graphql-core's ``execute_fields`` over a planned selection."""
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        context = self.context_value
        try:
            for step in steps:
                plain = step.plain
                if plain is not None:
                    value = getattr(source_value, plain.attribute, Undefined)
                    if value is None:
                        if not plain.non_null and (
                            plain.guard is None or plain.guard(source_value, None, context) is not GUARDED
                        ):
                            results[step.name] = None
                            continue
                    elif value is not Undefined:
                        try:
                            coerced = plain.coerce(value)
                        except Exception:  # reported by the general path, below
                            coerced = None
                        if (
                            coerced is not None
                            and coerced is not Undefined
                            and (plain.guard is None or plain.guard(source_value, value, context) is not GUARDED)
                        ):
                            results[step.name] = coerced
                            continue
                field_path = Path(path, step.name, parent_type.name)
                if step.field is None:
                    result = self.execute_field(parent_type, source_value, step.details, field_path, None)
                    if result is Undefined:
                        continue
                else:
                    result = self._execute_step(step, parent_type, source_value, field_path)
                results[step.name] = result
                if is_awaitable(result):
                    awaitable_fields.append(step.name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _gather_into(results, awaitable_fields)

    def _execute_step(self, step: _Step, parent_type: GraphQLObjectType, source: Any, path: Path) -> Any:
        """graphql-core's ``execute_field`` for a planned field."""
        info = self.build_resolve_info(step.field, step.nodes, parent_type, path)
        return_type = step.return_type
        try:
            if step.has_args:
                args = step.args
                if args is None:
                    first = step.details[0]
                    args = get_argument_values(
                        step.field, first.node, self.variable_values, first.fragment_variable_values,
                        self.hide_suggestions,
                    )  # fmt: skip
                    if step.constant_args and all(isinstance(value, _IMMUTABLE) for value in args.values()):
                        step.args = args
                result = step.resolve(source, info, **args)
            else:
                result = step.resolve(source, info)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(return_type, step.details, info, path, result, None)
            completed = self.complete_value(return_type, step.details, info, path, result, None)
            if self.is_awaitable(completed):
                return self._completed_later(completed, return_type, step.details, path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, step.details, path)
            return None
        return completed

    async def _completed_later(self, completed: Awaitable[Any], return_type: Any, details: Any, path: Path) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, path)
            return None

    def complete_value(
        self, return_type: Any, field_details_list: Any, info: Any, path: Path, result: Any, position_context: Any
    ) -> Any:
        if self._generic or position_context is not None:
            return super().complete_value(return_type, field_details_list, info, path, result, position_context)
        if isinstance(result, Exception):
            raise result
        kind = _kind(return_type)
        if kind == _NON_NULL:
            completed = self.complete_value(return_type.of_type, field_details_list, info, path, result, None)
            if completed is None:
                raise TypeError(f"Cannot return null for non-nullable field {info.parent_type}.{info.field_name}.")
            return completed
        if result is None or result is Undefined:
            return None
        if kind == _LEAF:
            coerced = output_coercion(return_type)(result)
            if coerced is None or coerced is Undefined:  # graphql-core's own words for it
                return self.complete_leaf_value(return_type, result)
            return coerced
        if kind == _OBJECT:
            return self.complete_object_value(return_type, field_details_list, info, path, result, None)
        if kind == _LIST and isinstance(result, list | tuple):
            return self._complete_items(return_type.of_type, field_details_list, info, path, result)
        return super().complete_value(return_type, field_details_list, info, path, result, None)

    def complete_object_value(
        self, return_type: GraphQLObjectType, field_details_list: Any, info: Any, path: Path, result: Any,
        position_context: Any,
    ) -> Any:  # fmt: skip
        if self._generic or position_context is not None:
            return super().complete_object_value(return_type, field_details_list, info, path, result, position_context)
        if return_type.is_type_of:
            is_type_of = return_type.is_type_of(result, info)
            if self.is_awaitable(is_type_of):
                return super().complete_object_value(return_type, field_details_list, info, path, result, None)
            if not is_type_of:
                raise invalid_return_type_error(return_type, result, field_details_list)
        key = (id(return_type), id(field_details_list))
        kept = self._objects.get(key)
        if kept is None:
            kept = self._objects[key] = self._collected(return_type, field_details_list)
        if kept[2]:  # deferred parts: graphql-core's incremental delivery
            return self.execute_collected_subfields(return_type, result, path, kept[1], kept[2], None)
        return self._run(kept[3], return_type, result, path)

    def _row_shape(self, item_type: Any, details: Any) -> _RowShape | None:
        """For a list whose items are objects of one type with only plain fields selected, or objects of plain
        fields read from an attribute (a page's tickets: ``subject status``; orders: ``number total { amount }``):
        how to read each item, found once per list field of the document. None otherwise."""
        key = (id(item_type), id(details))
        if key in self._row_shapes:
            return self._row_shapes[key][1]
        object_type = item_type.of_type if _kind(item_type) == _NON_NULL else item_type
        shape = self._object_shape(object_type, details) if _kind(object_type) == _OBJECT else None
        self._row_shapes[key] = (details, shape)  # the details are held: their id is not reused while kept
        return shape

    def _object_shape(self, object_type: GraphQLObjectType, details: Any, depth: int = 0) -> _RowShape | None:
        objects_key = (id(object_type), id(details))
        kept = self._objects.get(objects_key)
        if kept is None:
            kept = self._objects[objects_key] = self._collected(object_type, details)
        if kept[2] or not kept[3]:
            return None
        fields: list[_RowField] = []
        for step in kept[3]:
            if step.plain is not None:
                fields.append((step.name, step.plain, None))
                continue
            attribute = read_attribute(step.field) if step.field is not None and depth < _NESTED_ROWS else None
            if attribute is None:
                return None
            non_null = _kind(step.return_type) == _NON_NULL
            inner_type = step.return_type.of_type if non_null else step.return_type
            inner = self._object_shape(inner_type, step.details, depth + 1) if _kind(inner_type) == _OBJECT else None
            if inner is None:
                return None
            fields.append((step.name, None, (attribute, non_null, inner)))
        return object_type.is_type_of, fields

    def _collected(self, return_type: GraphQLObjectType, field_details_list: Any) -> tuple[Any, Any, Any, list[_Step]]:
        """The object's collected selection, its deferred parts and its plan; taken from an earlier request of
        the same document when no variable can change the selection (the walk then collects nothing)."""
        if not self._shared_objects:
            grouped_field_set, new_defer_usages, _forbidden = self.collect_subfields(return_type, field_details_list)
            return field_details_list, grouped_field_set, new_defer_usages, self._plan(return_type, grouped_field_set)
        key = (id(return_type), *(id(detail.node) for detail in field_details_list))
        shared = _SHARED_OBJECTS.get(key)
        if shared is None or shared[0] is not return_type:
            # A fixed document has no @defer: its selections have no deferred parts.
            grouped_field_set, _deferred, _forbidden = self.collect_subfields(return_type, field_details_list)
            plan = self._plan(return_type, grouped_field_set)
            # The type and the details (with their nodes) are held: their ids are not reused while kept.
            shared = _SHARED_OBJECTS[key] = (return_type, field_details_list, grouped_field_set, plan)
            if len(_SHARED_OBJECTS) > SHARED_STEPS:
                _SHARED_OBJECTS.popitem(last=False)
        return shared[1], shared[2], None, shared[3]

    def _complete_items(self, item_type: Any, details: Any, info: Any, path: Path, items: Iterable[Any]) -> Any:
        """graphql-core's ``complete_iterable_value`` for a list or tuple that is not streamed."""
        shape = self._row_shape(item_type, details)
        if shape is not None:
            rows = _plain_rows(shape, items, info)
            if rows is not None:
                return rows
        is_awaitable = self.is_awaitable
        completed_results: list[Any] = []
        awaitable_indices: list[int] = []
        try:
            for index, item in enumerate(items):
                item_path = path.add_key(index, None)
                if is_awaitable(item):
                    completed_results.append(
                        self.complete_awaitable_list_item_value(item, item_type, details, info, item_path, None)
                    )
                    awaitable_indices.append(index)
                    continue
                try:
                    completed = self.complete_value(item_type, details, info, item_path, item, None)
                    if is_awaitable(completed):
                        completed = self._completed_later(completed, item_type, details, item_path)
                        awaitable_indices.append(index)
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, details, item_path)
                    completed = None
                completed_results.append(completed)
        except Exception:
            pending = [completed_results[i] for i in awaitable_indices]
            pending.extend(item for item in items[len(completed_results) + 1 :] if is_awaitable(item))  # type: ignore[index]
            if pending:
                self.settle_in_background(pending)
            raise
        if not awaitable_indices:
            return completed_results
        return _gather_items(completed_results, awaitable_indices)


# How to read a list's items as rows: the object type's is_type_of (or None), and for each selected field its
# response name and either how to read it (a plain field) or the attribute, nullness and shape of the object in it.
_RowShape = tuple[Any, list["_RowField"]]
_RowField = tuple[str, PlainField | None, tuple[str, bool, _RowShape] | None]
_NESTED_ROWS = 2  # objects read within a row's objects, at most (an order's total, a line's amount)


def _plain_rows(shape: _RowShape, items: Iterable[Any], info: Any) -> list[dict[str, Any]] | None:
    """The items of a list of objects whose selected fields are all plain (or objects of plain fields), each
    read straight into its answer, without a completion per item and per field. None when any item is not as
    expected (null, an awaitable, another type, a missing or refused value): then the general path completes
    the list, and reports it as graphql-core does."""
    rows: list[dict[str, Any]] = []
    for item in items:
        row = _row(shape, item, info)
        if row is None:
            return None
        rows.append(row)
    return rows


def _row(shape: _RowShape, item: Any, info: Any) -> dict[str, Any] | None:
    is_type_of, fields = shape
    if item is None or (is_type_of is not None and is_type_of(item, info) is not True):
        return None
    row: dict[str, Any] = {}
    for name, plain, nested in fields:
        if plain is None:
            attribute, non_null, inner = nested  # type: ignore[misc]  # one of the two is set
            value = getattr(item, attribute, Undefined)
            if value is None and not non_null:
                row[name] = None
                continue
            found = None if value is Undefined else _row(inner, value, info)
            if found is None:
                return None
            row[name] = found
            continue
        value = getattr(item, plain.attribute, Undefined)
        if value is None:
            if plain.non_null:
                return None
            coerced = None
        elif value is Undefined:
            return None
        else:
            try:
                coerced = plain.coerce(value)
            except Exception:  # the general path reports it
                return None
            if coerced is None or coerced is Undefined:
                return None
        # A guard notes the read for the audit trail (a set: noted again by the general path, it is the same).
        if plain.guard is not None and plain.guard(item, value, info.context) is GUARDED:
            return None
        row[name] = coerced
    return row


async def _gather_into(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    if len(awaitable_fields) == 1:  # one field: no gather, no task
        name = awaitable_fields[0]
        results[name] = await results[name]
    else:
        awaited = await gather_with_cancel(*(results[name] for name in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
    return results


async def _gather_items(completed: list[Any], indices: list[int]) -> list[Any]:
    if len(indices) == 1:
        index = indices[0]
        completed[index] = await completed[index]
    else:
        awaited = await gather_with_cancel(*(completed[index] for index in indices))
        for index, value in zip(indices, awaited, strict=True):
            completed[index] = value
    return completed


__all__ = ["PlannedWalkExecution"]


class _WeakMethod:
    """A bound method that does not keep its object alive (see :class:`PlannedWalkExecution`)."""

    __slots__ = ("_method",)

    def __init__(self, method: Any) -> None:
        self._method = WeakMethod(method)

    def __call__(self, *args: Any) -> Any:
        method = self._method()
        if method is None:
            raise RuntimeError("the execution these asynchronous helpers belong to has ended")
        return method(*args)
