"""A schema extension that reports each GraphQL operation to the request's record and to the metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from crmgraph.observability.request import RequestRecord, current_request


def outcome(data: object, errors: object) -> str:
    """``ok`` without errors, ``partial`` with data and errors (a source failed), ``error`` without data."""
    if not errors:
        return "ok"
    return "error" if data is None else "partial"


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        record = current_request.get()
        started = time.perf_counter()
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            if record is not None:
                self._report(record, time.perf_counter() - started, failed)

    def _report(self, record: RequestRecord, seconds: float, failed: bool) -> None:
        context = self.execution_context
        result = context.result
        if failed:
            verdict = "error"
        elif result is not None:
            verdict = outcome(result.data, result.errors)
        else:
            verdict = outcome(None, context.pre_execution_errors)
        record.operation = context.operation_name
        record.outcome = verdict
        call_log = getattr(context.context, "call_log", None)
        if call_log is not None:
            record.upstream_calls += len(call_log.calls)
        if record.metrics is not None:
            record.metrics.observe_operation(record.operation, verdict, seconds)
