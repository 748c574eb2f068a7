"""The context of one GraphQL request: its loaders, its upstream call log, its limits, and who asks."""

from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry.context import Context

from crmgraph.adapters.calls import CallLog
from crmgraph.identity.settings import IdentityConfig
from crmgraph.resolvers.loaders import Loaders

ANONYMOUS = "anonymous"


@dataclass
class RequestContext:
    loaders: Loaders
    max_page_size: int = 100
    explain: bool = False
    deadline_s: float | None = None
    call_log: CallLog = field(default_factory=CallLog)
    trace_context: Context | None = None  # the caller's trace, when tracing is on and it sent one
    identity: IdentityConfig = field(default_factory=IdentityConfig)  # how records are matched and survive
    # Who a steward decision is recorded as. Until authentication lands, the X-Crmgraph-Actor header says so.
    actor: str = ANONYMOUS
