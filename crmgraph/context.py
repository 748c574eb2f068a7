"""The context of one GraphQL request: its loaders, its upstream call log, its limits, and who asks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context

from crmgraph.adapters.sdk.calls import CallLog
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.store import AnalyticStore
from crmgraph.audit.request_log import RequestAudit
from crmgraph.audit.writer import AuditWriter
from crmgraph.events.hub import EventHub
from crmgraph.identity.settings import IdentityConfig
from crmgraph.policy.principal import Principal
from crmgraph.policy.roles import Access
from crmgraph.resolvers.loaders import Loaders
from crmgraph.workflows.rules.runs import RunStore
from crmgraph.writes.idempotency import IdempotencyStore
from crmgraph.writes.saga import SagaRunner
from crmgraph.writes.settings import WritesConfig

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
    # Who a steward decision is recorded as: the principal's subject (for the anonymous role, the
    # X-Crmgraph-Actor header may name someone, as in development).
    actor: str = ANONYMOUS
    principal: Principal | None = None  # who asks (None only outside a served request)
    access: Access | None = None  # what the principal's roles allow, decided once for the request
    client: str = ""  # the client's address, for the audit trail
    audit: RequestAudit | None = field(default_factory=RequestAudit)  # what the audit trail records of it
    audit_writer: AuditWriter | None = None  # None: nothing is recorded (audit.enabled false, or no app)
    idempotency: IdempotencyStore | None = None  # where writes keep their idempotency records
    sagas: SagaRunner | None = None  # changes that span systems (crmgraph.writes.saga)
    events: EventHub | None = None  # change events: what subscriptions listen to (None outside an app)
    writes: WritesConfig = field(default_factory=WritesConfig)  # which system owns each golden field
    assignment: Any = None  # lead distribution and ticket routing (crmgraph.workflows.assignment.runtime)
    rule_runs: RunStore | None = None  # the automation rules' runs (automationRuns)
    analytics: AnalyticStore | None = None  # the reports' store (None: reports.enabled is false)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    # Over a WebSocket: the connection_init payload (set by strawberry), and how to close the connection
    # (a subscriber that falls behind is dropped with code 4429).
    connection_params: dict[str, Any] | None = None
    connection: Any = None  # the starlette WebSocket
    close_connection: Callable[[int, str], Awaitable[None]] | None = None
