"""The write half of the adapter contract: what a write asks for, and how a system of record refuses one.

A write names an entity, whether it creates or updates, the record (for an update), the values in the
canonical field names the adapter's mapping knows, the version the caller read (optimistic concurrency:
a system that can compare refuses a write made over a change it did not see) and the idempotency key,
which an adapter stores with the record where the system has a place for it (Zendesk's ``external_id``,
a HubSpot property), so that a write whose outcome was lost can be found again instead of made twice.

An adapter answers with the record as the system now holds it, raises :class:`WriteRefused` for what the
system refused as asked (a value it does not accept, a conflict, a record that does not exist), or lets a
:class:`~crmgraph.errors.SourceError` through for a failure; the SDK (:meth:`Adapter.write`) never retries
a write, and turns a failure after which the write may have been applied into
:class:`~crmgraph.errors.UpstreamOutcomeUnknown`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["create", "update"]


@dataclass(frozen=True)
class WriteOp:
    entity: str
    action: Action
    values: Mapping[str, Any]
    record_id: str | None = None  # the record an update changes
    expected_version: str | None = None  # the version the caller read (the record's ``version``)
    idempotency_key: str | None = None
    links: Mapping[str, str] = field(default_factory=dict)  # related records: {"party": org id, ...}


@dataclass(frozen=True)
class Refusal:
    """One reason a system of record refused a write: ``code`` INVALID, CONFLICT or NOT_FOUND; ``field`` the
    canonical field it is about, when it names one."""

    code: Literal["INVALID", "CONFLICT", "NOT_FOUND"]
    message: str
    field: str | None = None


class WriteRefused(Exception):
    def __init__(self, source: str, refusals: list[Refusal]) -> None:
        super().__init__(f"{source} refused the write: " + "; ".join(r.message for r in refusals))
        self.source = source
        self.refusals = refusals
