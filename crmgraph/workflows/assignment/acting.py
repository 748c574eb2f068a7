"""How assignment acts: writes through the graph's writes machinery (idempotent, announced), an audit
event per decision, and a notice on the event bus that the subscriptions turn into ``leadAssigned`` and
``dealOwnerAlert``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.writes import WriteOp
from crmgraph.audit import AuditEvent, AuditWriter
from crmgraph.events import ChangeEvent, ChangeKind, Entity, EventHub
from crmgraph.writes.perform import Writer, Written

log = logging.getLogger("crmgraph.workflows.assignment")

WORKFLOW = "workflow:assignment"  # the subject the workflow writes and is audited as
ASSIGNED = "assignment"  # the changed field of a lead's notice: an owner was assigned
DEAL_OWNER_ALERT = "deal_owner_alert"  # the changed field of a ticket's notice: the deal's owner is alerted


@dataclass
class Acting:
    adapters: Mapping[str, Adapter]
    writer: Writer
    audit: AuditWriter | None
    events: EventHub | None

    async def write(self, source: str, op: WriteOp, key: str, operation: str, arguments: Mapping[str, Any],
                    subject: str = WORKFLOW) -> Written:  # fmt: skip
        return await self.writer.write(self.adapters[source], op, subject=subject, key=key, operation=operation,
                                       arguments=arguments)  # fmt: skip

    def audited(self, subject: str, operation: str, fields: tuple[str, ...], outcome: str = "ok",
                customers: tuple[int, ...] = (), roles: tuple[str, ...] = ()) -> None:  # fmt: skip
        if self.audit is not None:
            self.audit.record(AuditEvent(action="mutation", subject=subject, roles=roles, operation=operation,
                                         fields=fields, outcome=outcome, customers=customers))  # fmt: skip

    async def notify(self, system: str, entity: Entity, record_id: str, what: str) -> None:
        """Tell every instance's subscribers (a notice carries ids; they read the rest from the store)."""
        if self.events is None:
            return
        try:
            await self.events.publish([ChangeEvent(system, entity, record_id, ChangeKind.UPDATED, changed=(what,))])
        except Exception:  # the assignment is made and recorded: a bus that is down costs only the notice
            log.exception("the %s notice of %s %s could not be published", what, entity.value, record_id)
