"""Running the graph's own operations in-process, as the rules' principal: the facts a rule reads, and each
action's mutation.

Each operation gets a fresh request context from the app (:meth:`crmgraph.app.Runtime.context`) with the
service principal, and runs through the schema with all its extensions: the mutation is permitted by the
principal's roles (``policy.roles``), scoped, audited under the principal's subject, and written to the
system of record under an idempotency key, exactly as a person's request would be.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import strawberry
from strawberry.types import ExecutionResult

from crmgraph.context import RequestContext
from crmgraph.workflows.rules.check import KEY_FIELD, input_type
from crmgraph.workflows.rules.settings import Action

# Failures worth another try: the system was not reached or is busy, or the same key still runs elsewhere.
RETRYABLE_CODES = frozenset({"IN_PROGRESS", "DEADLINE_EXCEEDED"})


@dataclass
class Attempted:
    """What one action sent and got (kept in the run's record)."""

    mutation: str
    input: dict[str, Any]
    status: str = "NOT_TAKEN"  # OK | FAILED | NOT_TAKEN
    user_errors: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    retryable: bool = False
    attempts: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"mutation": self.mutation, "input": self.input, "status": self.status,
                "userErrors": self.user_errors, "error": self.error, "attempts": self.attempts}  # fmt: skip


def idempotency_key(rule: str, run_key: str, position: int) -> str:
    """The same for every delivery of the event and every try: a write is made once."""
    digest = hashlib.sha256(f"{rule}\x00{run_key}".encode()).hexdigest()[:40]
    return f"automation:{rule}:{digest}:{position}"


def operation_name(rule: str) -> str:
    """How the audit trail names a rule's operations (a GraphQL name: letters, digits, _)."""
    return "Automation_" + re.sub(r"[^A-Za-z0-9_]", "_", rule)


class Operations:
    def __init__(self, schema: strawberry.Schema, context: Callable[[], RequestContext]) -> None:
        self.schema = schema
        self.context = context

    async def execute(self, document: str, variables: dict[str, Any], name: str) -> ExecutionResult:
        return await self.schema.execute(
            document, variable_values=variables, context_value=self.context(), operation_name=name
        )

    def mutation_document(self, mutation: str, name: str) -> str:
        kind = input_type(self.schema._schema, mutation)
        assert kind is not None, f"{mutation} was checked at start"
        selection = "userErrors { field message code }"
        return f"mutation {name}($input: {kind.name}!) {{ {mutation}(input: $input) {{ {selection} }} }}"

    def with_key(self, action: Action, given: dict[str, Any], key: str) -> dict[str, Any]:
        kind = input_type(self.schema._schema, action.mutation)
        if kind is not None and KEY_FIELD in kind.fields and not given.get(KEY_FIELD):
            return {**given, KEY_FIELD: key}
        return given

    async def run(self, attempted: Attempted, name: str) -> None:
        """One try of ``attempted``: its status, user errors and error set from the answer."""
        attempted.attempts += 1
        result = await self.execute(self.mutation_document(attempted.mutation, name), {"input": attempted.input}, name)
        if result.errors:
            first = result.errors[0]
            extensions = first.extensions or {}
            attempted.status, attempted.error = "FAILED", f"{extensions.get('code', 'ERROR')}: {first.message}"
            attempted.retryable = extensions.get("retryable") is True or extensions.get("code") in RETRYABLE_CODES
            return
        payload = (result.data or {}).get(attempted.mutation) or {}
        errors = list(payload.get("userErrors") or [])
        attempted.user_errors = errors
        if errors:
            attempted.status = "FAILED"
            attempted.error = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
            attempted.retryable = all(e.get("code") in RETRYABLE_CODES for e in errors)
            return
        attempted.status, attempted.error, attempted.retryable = "OK", None, False
