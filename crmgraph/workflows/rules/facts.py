"""What a rule reads and writes with: the facts of one run.

``event`` is the change event as GraphQL clients see it (``recordId``, ``customerIds``, ...; ``parents`` as a
mapping such as ``{party: "0000100017"}``), ``customer`` and ``record`` what the rule's selections read
through the graph (each with its ``id``; null when the event names no customer, or the record is gone), and
``rule`` the rule's name. The selections are read in one query, as the rules' principal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crmgraph.events.change import ChangeEvent, Entity
from crmgraph.schema.ids import encode_id

ROOTS = ("event", "customer", "record", "rule", "now")
EVENT_FIELDS = ("id", "system", "entity", "recordId", "kind", "changed", "parents", "customerIds", "occurredAt",
                "receivedAt", "depth")  # fmt: skip
# The graph type a changed record is read as; party changes are read as the customer, comments not at all.
RECORD_TYPES: dict[Entity, str] = {
    Entity.PERSON: "Contact",
    Entity.DEAL: "Deal",
    Entity.ORDER: "Order",
    Entity.INVOICE: "Invoice",
    Entity.TICKET: "Ticket",
    Entity.INTERACTION: "Interaction",
}


def event_facts(event: ChangeEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "system": event.system,
        "entity": event.entity.value,
        "recordId": event.record_id,
        "kind": event.kind.value,
        "changed": list(event.changed),
        "parents": dict(event.parents),
        "customerIds": [encode_id("Customer", str(customer)) for customer in event.customer_ids],
        "occurredAt": event.occurred_at.isoformat(),
        "receivedAt": event.received_at.isoformat(),
        "depth": len(event.chain),
    }


def customer_id(event: ChangeEvent) -> str | None:
    """The graph id of the event's customer (the first, when a record belongs to several)."""
    return encode_id("Customer", str(event.customer_ids[0])) if event.customer_ids else None


def record_id(event: ChangeEvent) -> str | None:
    type_name = RECORD_TYPES.get(event.entity)
    return encode_id(type_name, event.system, event.record_id) if type_name is not None else None


def facts_document(entity: Entity, customer: str | None, record: str | None, *, with_customer: bool,
                   with_record: bool) -> str | None:  # fmt: skip
    """The query reading the selections (None when nothing is to be read)."""
    parts: list[str] = []
    variables: list[str] = []
    if with_customer:
        variables.append("$customerId: ID!")
        parts.append(f"customer: node(id: $customerId) {{ ... on Customer {{ id {customer or ''} }} }}")
    type_name = RECORD_TYPES.get(entity)
    if with_record and type_name is not None:
        variables.append("$recordId: ID!")
        parts.append(f"record: node(id: $recordId) {{ ... on {type_name} {{ id {record or ''} }} }}")
    if not parts:
        return None
    return f"query AutomationRuleFacts({', '.join(variables)}) {{ {' '.join(parts)} }}"


def now() -> str:
    return datetime.now(UTC).isoformat()
