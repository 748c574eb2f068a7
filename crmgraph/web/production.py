"""Production mode's part in GraphQL execution: no introspection, no field suggestions.

- **Introspection** (``__schema``, ``__type``) is refused at validation with ``INTROSPECTION_DISABLED``
  for principals whose roles may not explore (``policy.roles.<role>.explore``): the schema of a
  production server is its clients' business, and a map of every field is the first thing an attacker
  asks for. ``__typename`` stays allowed: clients send it to read unions and interfaces.
- **Field suggestions** ("Cannot query field 'emial' on type 'Customer'. Did you mean 'email'?") would
  let anyone spell the schema out field by field without introspection; their "Did you mean ...?" is cut
  from every error message, validation's and variable coercion's alike.

Unexpected errors are masked in every mode (:mod:`crmgraph.schema.masking`); production mode changes
nothing there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class NoIntrospection(ValidationRule):
    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value in INTROSPECTION_FIELDS:
            self.report_error(
                GraphQLError(
                    f"Introspection is disabled on this server (production mode): `{node.name.value}` "
                    "may be asked only by a role that may explore.",
                    node,
                    extensions={"code": "INTROSPECTION_DISABLED"},
                )
            )


def without_suggestions(errors: list[GraphQLError] | None) -> None:
    for error in errors or ():
        if "Did you mean" in error.message:
            error.message = _SUGGESTION.sub("", error.message)


class ProductionMode(SchemaExtension):
    """Added to the schema's extensions by the GraphQL view when ``server.production`` is on."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        access = getattr(context.context, "access", None)
        if not getattr(access, "explore", False):
            # Part of the validation cache's key: explorers and others are validated (and cached) apart.
            context.validation_rules = (*context.validation_rules, NoIntrospection)
        yield
        without_suggestions(context.pre_execution_errors)
        result = context.result
        if result is not None:
            without_suggestions(getattr(result, "errors", None))
