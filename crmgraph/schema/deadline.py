"""Every operation runs under the request's deadline (``server.deadline_s``).

Upstream calls made while resolving get what is left of it, capped by their source's own timeout
(:mod:`crmgraph.adapters.sdk.resilience`), so a slow system cannot hold a request past its budget.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from crmgraph.adapters.sdk.resilience import deadline_in


class RequestDeadline(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        seconds = getattr(self.execution_context.context, "deadline_s", None)
        if seconds is None:
            yield
            return
        with deadline_in(seconds):
            yield
