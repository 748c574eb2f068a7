"""Which mutations a principal may run: checked once per operation, before any resolver runs.

The roles' ``mutations`` lists (policy.roles) name them; a mutation no role of the principal names is
refused with ``FORBIDDEN`` and nothing of the operation runs (a mutation that half-ran would be worse than
one refused whole).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult, GraphQLError, OperationType
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType as StrawberryOperationType

from crmgraph.context import RequestContext


class MutationPermissions(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        access = context.access if isinstance(context, RequestContext) else None
        operation = self.execution_context.operation_type
        if access is not None and operation is StrawberryOperationType.MUTATION:
            refused = [name for name in mutation_root_fields(self.execution_context) if not access.may_run(name)]
            if refused:
                message = (f"{', '.join(refused)}: not allowed for the roles "
                           f"{', '.join(sorted(access.principal.roles)) or '(none)'}")  # fmt: skip
                # A result set before execution is what strawberry answers instead of executing.
                self.execution_context.result = ExecutionResult(
                    data=None, errors=[GraphQLError(message, extensions={"code": "FORBIDDEN", "mutations": refused})]
                )
        yield


def mutation_root_fields(execution: Any) -> list[str]:
    """The root fields of the mutation the execution context runs (its named operation, else every one)."""
    document, name = execution.graphql_document, execution.operation_name
    names: list[str] = []
    for definition in getattr(document, "definitions", ()):
        if getattr(definition, "operation", None) is not OperationType.MUTATION:
            continue
        if name is not None and (definition.name is None or definition.name.value != name):
            continue
        names += [selection.name.value for selection in definition.selection_set.selections
                  if hasattr(selection, "name")]  # fmt: skip
    return names
