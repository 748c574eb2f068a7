"""The context of one GraphQL request: its loaders, its upstream call log, and its limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry.context import Context

from crmgraph.adapters.calls import CallLog
from crmgraph.resolvers.loaders import Loaders


@dataclass
class RequestContext:
    loaders: Loaders
    max_page_size: int = 100
    explain: bool = False
    deadline_s: float | None = None
    call_log: CallLog = field(default_factory=CallLog)
    trace_context: Context | None = None  # the caller's trace, when tracing is on and it sent one
