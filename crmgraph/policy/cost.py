"""The shape and cost of a GraphQL operation, measured on its document before anything runs.

One walk counts depth, aliases, root fields, directives and the estimated cost, and stops at the first
limit passed, so a document built to be expensive costs the walk no more than the limit it passes.

The cost is the number of objects the answer may hold: a field of an object type counts 1, times the size
of every list it sits in. A connection's ``nodes`` and ``edges`` are as long as its ``first`` (or ``last``)
says, else the argument's default in the schema, capped by the server's page size; a list the client
cannot size (order lines, comments) counts as ``limits.list_size``. Scalars count nothing. A page of 0
counts as 1, so that what a part of the document costs never exceeds what the whole costs, and the walk
may stop as soon as a part passes the limit. Fields that ``@skip``/``@include`` leave out cost nothing;
they still count for depth, aliases and directives, which bound the work of reading the document itself.

A fragment is measured once per page size it is spread under, and its measure reused: fragments that each
spread the previous one twice, ``2^n`` fields once written out, take ``n`` steps. A fragment already
being measured (a cycle, which validation refuses later) adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    is_composite_type,
)
from graphql.type import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef
from graphql.utilities import value_from_ast_untyped

from crmgraph.policy.limit_settings import QueryLimits

PAGE_ARGUMENTS = ("first", "last")
# Fragments spreading fragments: each level is a few frames of the walk's recursion, so their nesting is
# bounded well below Python's recursion limit. Real documents nest fragments a handful of levels deep.
MAX_FRAGMENT_NESTING = 50


class LimitExceeded(Exception):
    """The document passed ``limit`` (the setting ``setting``); ``actual`` is the count when the walk stopped,
    so at least ``limit + 1``."""

    def __init__(self, code: str, setting: str, limit: int, actual: int, what: str) -> None:
        super().__init__(f"{what} {actual} passes the limit of {limit} (limits.{setting})")
        self.code = code
        self.setting = setting
        self.limit = limit
        self.actual = actual

    def as_graphql_error(self) -> GraphQLError:
        return GraphQLError(
            f"Query refused before running: {self}.",
            extensions={"code": self.code, "limit": self.limit, "actual": self.actual},
        )


@dataclass
class Measure:
    """What a selection set adds up to, per one parent object."""

    cost: int = 0  # objects, per one parent
    depth: int = 0  # its deepest field, counting its own fields as 1
    aliases: int = 0
    directives: int = 0
    fields: int = 0  # fields at its own level (the root fields, for an operation)

    def add(self, other: Measure) -> None:
        self.cost += other.cost
        self.depth = max(self.depth, other.depth)
        self.aliases += other.aliases
        self.directives += other.directives
        self.fields += other.fields


def measure_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    limits: QueryLimits,
    max_page_size: int,
) -> int:
    """The estimated cost of the operation that will run (of every operation, when that is not clear yet);
    raise :class:`LimitExceeded` at the first limit passed."""
    return measure(schema, document, operation_name, variables, limits, max_page_size)[0]


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    limits: QueryLimits,
    max_page_size: int,
) -> tuple[int, bool]:
    """:func:`measure_operation`, and whether the figure depends on the variables (a page size, a list or
    a @skip condition given by one): when not, it holds for every request with the same document."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    named = [op for op in operations if operation_name and op.name and op.name.value == operation_name]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    cost, read_variables = 0, False
    for operation in named or operations:
        walk = _Walk(schema, fragments, _variables(operation, variables), limits, max_page_size)
        cost = max(cost, walk.operation(operation))
        read_variables = read_variables or walk.read_variables
    return cost, read_variables


def _variables(operation: OperationDefinitionNode, given: dict[str, Any] | None) -> dict[str, Any]:
    defaults = {
        definition.variable.name.value: value_from_ast_untyped(definition.default_value)
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
    }
    return defaults | (given if isinstance(given, dict) else {})


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        limits: QueryLimits,
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.limits = limits
        self.max_page_size = max_page_size
        self.measured: dict[tuple[str, int | None, bool], Measure] = {}
        self.open: list[str] = []
        self.read_variables = False

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(OperationType(operation.operation))
        measure = self.selection_set(operation.selection_set, root, None, 0, 0, True, root_fields=True)
        self._check_counts(Measure(directives=measure.directives + len(operation.directives or ())))
        return measure.cost

    def selection_set(
        self,
        node: SelectionSetNode,
        parent: GraphQLNamedType | None,
        page: int | None,
        level: int,
        base: int,
        costs: bool,
        root_fields: bool = False,
    ) -> Measure:
        """``level``: how deep this set's fields sit below the start of the fragment (or operation) being
        measured; ``base``: how deep that start sits; ``page``: the page size its lists take (the set of a
        connection); ``costs``: whether the set runs (not left out by @skip/@include)."""
        total = Measure()
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                part = self.field(selection, parent, page, level, base, costs)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                kind = self.schema.get_type(condition.name.value) if condition else parent
                runs = costs and self._included(selection)
                part = self.selection_set(selection.selection_set, kind, page, level, base, runs)
                part.directives += len(selection.directives or ())
            elif isinstance(selection, FragmentSpreadNode):
                part = self.spread(selection, page, level, base, costs)
            total.add(part)
            self._check_counts(total)
            if root_fields and self.limits.max_root_fields is not None and total.fields > self.limits.max_root_fields:
                raise LimitExceeded(
                    "TOO_MANY_ROOT_FIELDS", "max_root_fields", self.limits.max_root_fields, total.fields, "Root fields"
                )
        return total

    def field(
        self, node: FieldNode, parent: GraphQLNamedType | None, page: int | None, level: int, base: int, costs: bool
    ) -> Measure:
        self._check_depth(base + level + 1)
        definition = _field_definition(self.schema, parent, node.name.value)
        runs = costs and self._included(node)
        own = Measure(depth=1, fields=1, aliases=1 if node.alias else 0, directives=len(node.directives or ()))
        if definition is None:
            if node.selection_set:  # an unknown field: validation refuses it, its selections still count
                below = self.selection_set(node.selection_set, None, None, level + 1, base, False)
                own.add(replace(below, depth=below.depth + 1, fields=0, cost=0))
            return own
        kind = get_named_type(definition.type)
        own_page = self._page_size(node, definition)
        is_list = isinstance(_nullable(definition.type), GraphQLList)
        size = 1
        if is_list:
            size = own_page or self._list_argument_size(node) or page or self.limits.list_size
            own_page = None  # the field's own page sized the field; its items are single objects
        if node.selection_set:
            below = self.selection_set(node.selection_set, kind, own_page, level + 1, base, runs)
            own.add(replace(below, depth=below.depth + 1, fields=0, cost=0))
        else:
            below = Measure()
        if runs and is_composite_type(kind):
            own.cost = size * (1 + below.cost)
        return own

    def spread(self, node: FragmentSpreadNode, page: int | None, level: int, base: int, costs: bool) -> Measure:
        name = node.name.value
        fragment = self.fragments.get(name)
        directives = len(node.directives or ())
        if fragment is None or name in self.open:
            return Measure(directives=directives)
        runs = costs and self._included(node)
        key = (name, page, runs)
        measure = self.measured.get(key)
        if measure is None:
            if len(self.open) >= MAX_FRAGMENT_NESTING:
                raise LimitExceeded(
                    "FRAGMENTS_TOO_DEEP", "fragment nesting", MAX_FRAGMENT_NESTING, len(self.open) + 1,
                    "Fragments spread within fragments",
                )  # fmt: skip
            self.open.append(name)
            try:
                kind = self.schema.get_type(fragment.type_condition.name.value)
                measure = self.selection_set(fragment.selection_set, kind, page, 0, base + level, runs)
            finally:
                self.open.pop()
            measure.directives += len(fragment.directives or ())
            self.measured[key] = measure
        else:
            self._check_depth(base + level + measure.depth)
        return replace(measure, directives=measure.directives + directives)

    def _value(self, node: ValueNode) -> Any:
        self.read_variables = self.read_variables or has_variable(node)
        return value_from_ast_untyped(node, self.variables)

    def _page_size(self, node: FieldNode, definition: GraphQLField) -> int | None:
        given = {argument.name.value: argument.value for argument in node.arguments or ()}
        for name in PAGE_ARGUMENTS:
            if name not in definition.args and name not in given:
                continue
            value = self._value(given[name]) if name in given else None
            if value is None and name in definition.args:
                value = definition.args[name].default_value
            if isinstance(value, int) and not isinstance(value, bool):
                # Past the cap the resolver refuses the page (a precise error), so it costs no more than the cap.
                return max(1, min(value, self.max_page_size))
            if name in given:
                return self.max_page_size  # not a number: validation refuses it; count the most it could be
        return None

    def _list_argument_size(self, node: FieldNode) -> int | None:
        """The length of a list argument, such as ``nodes(ids: [...])``: one object per id asked for."""
        values = (self._value(argument.value) for argument in node.arguments or ())
        sizes = [len(value) for value in values if isinstance(value, list)]
        return max(sizes, default=0) or None

    def _included(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> bool:
        """Whether execution will run the node: ``@skip(if: true)`` and ``@include(if: false)`` leave it out."""
        for directive in node.directives or ():
            name = directive.name.value
            if name in ("skip", "include"):
                condition = next((a.value for a in directive.arguments or () if a.name.value == "if"), None)
                value = self._value(condition) if condition is not None else None
                if value is (name == "skip"):
                    return False
        return True

    def _check_depth(self, depth: int) -> None:
        if self.limits.max_depth is not None and depth > self.limits.max_depth:
            raise LimitExceeded("QUERY_TOO_DEEP", "max_depth", self.limits.max_depth, depth, "Depth")

    def _check_counts(self, measure: Measure) -> None:
        limits = self.limits
        if limits.max_aliases is not None and measure.aliases > limits.max_aliases:
            raise LimitExceeded("TOO_MANY_ALIASES", "max_aliases", limits.max_aliases, measure.aliases, "Aliases")
        if limits.max_directives is not None and measure.directives > limits.max_directives:
            raise LimitExceeded(
                "TOO_MANY_DIRECTIVES", "max_directives", limits.max_directives, measure.directives, "Directives"
            )
        if limits.max_cost is not None and measure.cost > limits.max_cost:
            raise LimitExceeded("QUERY_TOO_COSTLY", "max_cost", limits.max_cost, measure.cost, "Estimated cost")


def has_variable(node: ValueNode) -> bool:
    """Whether a value written in a document names a variable anywhere in it."""
    if isinstance(node, VariableNode):
        return True
    if isinstance(node, ListValueNode):
        return any(has_variable(value) for value in node.values)
    if isinstance(node, ObjectValueNode):
        return any(has_variable(field.value) for field in node.fields)
    return False


def _nullable(kind: Any) -> Any:
    return kind.of_type if isinstance(kind, GraphQLNonNull) else kind


def _field_definition(schema: GraphQLSchema, parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if name == "__typename":
        return TypeNameMetaFieldDef
    if parent is not None and parent is schema.query_type:
        if name == "__schema":
            return SchemaMetaFieldDef
        if name == "__type":
            return TypeMetaFieldDef
    fields = getattr(parent, "fields", None)
    return fields.get(name) if fields is not None else None
