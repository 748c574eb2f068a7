"""Plain fields answered without graphql-core's per-field machinery.

Most fields of an answer are plain: an attribute of the parent object, a scalar or an enum, no arguments,
no resolver (a contact's ``name``, an order's ``status``, an amount's ``currencyCode``). graphql-core
still builds a resolve info for each (strawberry's, with a dozen members), coerces its (absent)
arguments, calls strawberry's default-resolver wrapper, asks whether the value is awaitable and walks
``complete_value``'s type checks before it coerces the value. On a list page of 50 customers that is
over a thousand fields.

:func:`mark_plain_fields` notes, once per schema, which fields are plain and how to read and coerce them;
the executor (:mod:`crmgraph.schema.walk`) answers those with ``getattr`` and the type's own output
coercion. Anything unusual (a missing attribute, a null where the type forbids it, a value the type
refuses) goes through graphql-core's own path, which reports it as it always does. A field a policy
guards has a resolver of its own (:mod:`crmgraph.schema.field_policy`) and so is never plain; nor is any
field while an extension adds field middleware.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

PLAIN = "crmgraph_plain"  # the attribute of a GraphQLField that holds its PlainField


@dataclass(frozen=True, slots=True)
class PlainField:
    attribute: str  # the Python attribute the value is read from
    coerce: Callable[[Any], Any]  # the scalar's or enum's output coercion
    non_null: bool
    # For a field a policy guards (crmgraph.schema.field_policy): ``guard(source, value, context)``, the value
    # with its read noted for the audit trail, or GUARDED where the request's roles deny or mask it.
    guard: Callable[[Any, Any, Any], Any] | None = None


def mark_plain_fields(schema: GraphQLSchema) -> int:
    """Note each plain field of ``schema`` (see the module); returns how many there are. Run after every
    change to the fields' resolvers (the policy's guards replace theirs)."""
    marked = 0
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field in named.fields.values():
            plain = _plain(field)
            setattr(field, PLAIN, plain)
            marked += plain is not None
    return marked


READS = "crmgraph_reads"  # the attribute of a resolver function that names the property it returns

F = TypeVar("F", bound=Callable[..., Any])


def reads(attribute: str) -> Callable[[F], F]:
    """Mark a resolver that takes only ``self`` and returns ``self.<attribute>``, a property working the value
    out when read: the executor reads the property as it reads a plain field, and a value nobody asks for
    (a page's cursors, say) is never worked out."""

    def mark(resolver: F) -> F:
        setattr(resolver, READS, attribute)
        return resolver

    return mark


def read_attribute(field: Any, resolve: Any = None) -> str | None:
    """The Python attribute a field without arguments or a resolver of its own is read from (or the property a
    resolver marked with :func:`reads` returns); else None. ``resolve``: the field's resolver under a policy's
    guard, where it has one."""
    if field.args:
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None:
        return None
    resolve = resolve or field.resolve
    if definition.base_resolver is not None:
        # Only where nothing wraps the resolver (a policy's guard passes its inner resolver as ``resolve``).
        if definition.extensions or getattr(resolve, "crmgraph_wrapped", None) is not None:
            return None
        marked: str | None = getattr(definition.base_resolver.wrapped_func, READS, None)
        return marked
    # strawberry's resolver for a field without one of its own (a basic field) says so: _is_default.
    if resolve is None or getattr(resolve, "_is_default", False) is not True:
        return None
    if definition.default_resolver is not getattr:
        return None
    name: str = definition.python_name
    return name


def _plain(field: Any) -> PlainField | None:
    # A guarded field (crmgraph.schema.field_policy) is plain beneath its guard when its own resolver is.
    guard = getattr(field.resolve, "crmgraph_inline", None)
    attribute = read_attribute(field, getattr(field.resolve, "crmgraph_wrapped", None) if guard else None)
    if attribute is None:
        return None
    non_null = isinstance(field.type, GraphQLNonNull)
    leaf = field.type.of_type if non_null else field.type
    if not isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
        return None
    return PlainField(attribute, output_coercion(leaf), non_null, guard)


COERCE = "crmgraph_coerce"  # the attribute of a leaf type that holds its output coercion


def output_coercion(leaf: GraphQLScalarType | GraphQLEnumType) -> Callable[[Any], Any]:
    """The type's ``coerce_output_value``; for strawberry's enums, one that finds a member's name by a dict.

    strawberry's enum type finds the name of a member by comparing it with each of the enum's values in
    turn, every time; a list page coerces hundreds (an order's and a ticket's status). A member of the
    enum's own class is looked up; anything else goes to strawberry's coercion, which answers as before.
    """
    known: Callable[[Any], Any] | None = getattr(leaf, COERCE, None)
    if known is not None:
        return known
    coerce: Callable[[Any], Any] = leaf.coerce_output_value
    wrapped = getattr(leaf, "wrapped_cls", None)
    if isinstance(leaf, GraphQLEnumType) and isinstance(wrapped, type) and issubclass(wrapped, Enum):
        names = {member: name for name, value in leaf.values.items() for member in wrapped
                 if member.value == value.value}  # fmt: skip
        general = coerce

        def coerce(value: Any) -> Any:
            if type(value) is wrapped:
                name = names.get(value)
                if name is not None:
                    return name
            return general(value)

    setattr(leaf, COERCE, coerce)
    return coerce
