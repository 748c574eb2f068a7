"""``auditEvents``: the audit trail read through the graph, for the roles that may (``audit: true``)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from crmgraph.errors import ClientError, Forbidden
from crmgraph.schema.ids import decode_number, encode_id
from crmgraph.schema.nodes import Info
from crmgraph.schema.pagination import WHOLE, Connection, Edge, check_first, connection, decode_position
from crmgraph.schema.scalars import instant


@strawberry.enum(description="What an audit event records.")
class AuditAction(Enum):
    READ = "read"
    MUTATION = "mutation"
    DENIED = "denied"


@strawberry.type(description="One entry of the audit trail: who read or changed what, or was refused.")
class AuditEvent:
    at: datetime
    action: AuditAction
    subject: str = strawberry.field(description="Who asked (the principal's subject; empty: no credentials).")
    roles: list[str]
    request_id: str = strawberry.field(description="The request id, as in the access log and X-Request-Id.")
    operation_name: str | None
    operation_hash: str | None = strawberry.field(description="sha256 of the GraphQL document, hex.")
    client_address: str | None
    customer_ids: list[strawberry.ID] = strawberry.field(description="The customers whose data it concerns.")
    fields: list[str] = strawberry.field(description="The fields (Type.field) read, changed or refused.")
    masked: bool = strawberry.field(description="Whether the personal data went out masked.")
    outcome: str = strawberry.field(description="ok, or the code that refused it.")

    @classmethod
    def of(cls, row: dict[str, Any]) -> AuditEvent:
        return cls(
            at=row["at"], action=AuditAction(row["action"]), subject=row["subject"], roles=row["roles"],
            request_id=row["request_id"], operation_name=row["operation"] or None,
            operation_hash=row["operation_hash"] or None, client_address=row["client"] or None,
            customer_ids=[strawberry.ID(encode_id("Customer", str(c))) for c in row["customers"]],
            fields=row["fields"], masked=row["masked"], outcome=row["outcome"],
        )  # fmt: skip


async def audit_events(
    info: Info, customer_id: strawberry.ID | None, since: datetime | None, first: int, after: str | None
) -> Connection[AuditEvent]:
    access = info.context.access
    if access is not None and not access.audit:
        roles = ", ".join(sorted(access.principal.roles)) or "(none)"
        raise Forbidden(f"auditEvents: not readable with the roles {roles}; it needs a role with `audit: true`")
    writer = info.context.audit_writer
    if writer is None:
        raise ClientError("auditEvents: the audit trail is off (audit.enabled: false)")
    check_first(first, info.context.max_page_size)
    customer = decode_number(customer_id, "Customer", argument="customerId") if customer_id is not None else None
    moment = instant(since, "since") if since is not None else None
    position = decode_position(after, WHOLE) if after else None
    # What is still queued is written first, so that a read right after a request sees its events.
    await writer.flush()
    store = writer.store
    rows, total = await asyncio.gather(
        asyncio.to_thread(store.events, customer=customer, since=moment, limit=first + 1,
                          after_id=int(position[0]) if position else None),
        asyncio.to_thread(store.count, customer=customer, since=moment),
    )  # fmt: skip
    edges = [Edge(node=AuditEvent.of(row), key=(row["id"],)) for row in rows[:first]]
    return connection(edges, has_next=len(rows) > first, has_previous=position is not None, total=total)
