"""One audit event: a read of personal data, a mutation, or a denied request."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

Action = Literal["read", "mutation", "denied"]


@dataclass(frozen=True)
class AuditEvent:
    action: Action
    subject: str
    roles: tuple[str, ...] = ()
    request_id: str = ""
    operation: str = ""  # the operation's name, when it has one
    operation_hash: str = ""  # sha256 of the document: which query, without storing it
    client: str = ""  # the client's address
    customers: tuple[int, ...] = ()
    fields: tuple[str, ...] = ()  # "Type.field" read (or written)
    masked: bool = False  # whether the personal data went out masked
    outcome: str = "ok"  # "ok", or the error code that refused it
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def content(self) -> dict[str, Any]:
        """The event as the row stores it (and as its hash covers it)."""
        return {
            "at": self.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "action": self.action,
            "subject": self.subject,
            "roles": list(self.roles),
            "request_id": self.request_id,
            "operation": self.operation,
            "operation_hash": self.operation_hash,
            "client": self.client,
            "customers": sorted(self.customers),
            "fields": sorted(self.fields),
            "masked": self.masked,
            "outcome": self.outcome,
        }


def document_hash(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def chained_hash(chain: str, position: int, previous: str, content: dict[str, Any]) -> str:
    """The hash a row carries: its chain, position, the previous row's hash and its content."""
    canonical = orjson.dumps({"chain": chain, "n": position, "prev": previous, **content}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()
