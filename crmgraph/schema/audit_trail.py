"""The audit trail of an operation: what personal data it read (clear or masked), what it changed, what
it was refused; and the paths of the masked values in the answer (``extensions.masked``).

Resolvers only note (:mod:`crmgraph.schema.field_policy`, the steward mutations); here, once the operation
has run, the notes become events queued on the :class:`~crmgraph.audit.AuditWriter`, which writes them in
batches off the request path. Records noted by party are resolved to their customers in one batched read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from crmgraph.audit.events import Action, AuditEvent, document_hash
from crmgraph.audit.request_log import FieldReads
from crmgraph.context import RequestContext
from crmgraph.identity.store import SourceRecord
from crmgraph.observability.request import request_id
from crmgraph.schema.authorization import mutation_root_fields


class AuditTrail(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, RequestContext) or context.audit is None or context.audit_writer is None:
            return
        audit, execution = context.audit, self.execution_context
        errors = execution.result.errors if execution.result is not None else None
        codes = [str((error.extensions or {}).get("code", "")) for error in errors or ()]
        refused = "FORBIDDEN" in codes and (execution.result is None or execution.result.data is None)
        if execution.operation_type is OperationType.MUTATION:
            fields = {f"Mutation.{name}" for name in mutation_root_fields(execution)}
            audit.touched.fields |= fields
            outcome = "FORBIDDEN" if refused else next((code for code in codes if code), "ok")
            self._record(context, "denied" if refused else "mutation", audit.touched, outcome=outcome)
        self._record(context, "read", audit.clear)
        self._record(context, "read", audit.masked, masked=True)
        self._record(context, "denied", audit.denied, outcome="FORBIDDEN")

    def _record(
        self, context: RequestContext, action: Action, reads: FieldReads, *, masked: bool = False, outcome: str = "ok"
    ) -> None:
        if not reads or context.audit_writer is None:
            return
        principal = context.principal
        query = self.execution_context.query or ""
        event = AuditEvent(
            action=action,
            subject=principal.subject if principal is not None else context.actor,
            roles=tuple(sorted(principal.roles)) if principal is not None else (),
            request_id=request_id() or "",
            operation=(self.execution_context.operation_name or "")[:200],
            operation_hash=document_hash(query) if query else "",
            client=context.client,
            customers=tuple(sorted(reads.customers)),
            fields=tuple(sorted(reads.fields)),
            masked=masked,
            outcome=outcome,
        )
        if not reads.parties:
            context.audit_writer.record(event)
            return
        # Records noted by party: their customers are looked up after the answer has gone, not before.
        context.audit_writer.record_later(event, _customers_of(context, sorted(reads.parties)))

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        audit = getattr(context, "audit", None)
        if audit is None or not audit.masked_paths:
            return {}
        # Where the answer holds masked values, so a frontend need not guess from the values themselves.
        return {"masked": audit.masked_paths}


async def _customers_of(context: RequestContext, parties: list[SourceRecord]) -> set[int]:
    found = await context.loaders.identity.customers_of("party", parties)
    return {customer for customer in found.values() if customer is not None}
