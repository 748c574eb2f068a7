"""The canonical change event: one envelope for every change any system of record makes.

Shaped after Debezium's change events and CloudEvents: which system (``system``, the configured source
name), which record (``entity`` and ``record_id``, the id in that system), what happened (``kind`` and the
names of the ``changed`` fields), when it happened there (``occurred_at``) and when the facade heard of it
(``received_at``), and an ``id`` to de-duplicate deliveries by. ``parents`` names the lists the record is
read through (``("party", "C-17")`` for a ticket of organization C-17, ``("ticket", "42")`` for a comment):
the cache keys of those lists are forgotten with the record's own. ``customer_ids`` are the golden
customers the record belongs to, filled in from the identity store on publish when the producer leaves
them out. ``chain`` names the automation rule runs whose actions caused the change (``rule|system:entity:id``
each, outermost first; empty for a change nobody's rule made): how loops between rules are seen
(:mod:`crmgraph.events.causation`).

On the bus an event travels as one JSON object (:meth:`ChangeEvent.to_json`), a batch as a JSON array.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

WIRE_VERSION = 1  # bump when the wire form changes incompatibly: instances of two versions must not mix


class Entity(StrEnum):
    PARTY = "party"
    PERSON = "person"
    DEAL = "deal"
    ORDER = "order"
    INVOICE = "invoice"
    TICKET = "ticket"
    COMMENT = "comment"
    INTERACTION = "interaction"


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class BadEvent(ValueError):
    """A message on the bus (or a publish call) that is not a change event of this version."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    system: str
    entity: Entity
    record_id: str
    kind: ChangeKind = ChangeKind.UPDATED
    changed: tuple[str, ...] = ()
    parents: tuple[tuple[str, str], ...] = ()
    customer_ids: tuple[int, ...] = ()
    occurred_at: datetime = field(default_factory=_now)
    received_at: datetime = field(default_factory=_now)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    chain: tuple[str, ...] = ()

    def parent(self, by: str) -> str | None:
        """The key of the ``by`` list this record belongs to (``parent("party")``), if the event names it."""
        return next((key for path, key in self.parents if path == by), None)

    def with_customers(self, customer_ids: Iterable[int]) -> ChangeEvent:
        return replace(self, customer_ids=tuple(sorted(set(customer_ids))))

    def to_wire(self) -> dict[str, Any]:
        return {
            "v": WIRE_VERSION,
            "id": self.id,
            "system": self.system,
            "entity": self.entity.value,
            "recordId": self.record_id,
            "kind": self.kind.value,
            "changed": list(self.changed),
            "parents": [list(pair) for pair in self.parents],
            "customerIds": list(self.customer_ids),
            "occurredAt": self.occurred_at.isoformat(),
            "receivedAt": self.received_at.isoformat(),
            "chain": list(self.chain),
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_wire())

    @classmethod
    def from_wire(cls, data: object) -> ChangeEvent:
        if not isinstance(data, dict) or data.get("v") != WIRE_VERSION:
            raise BadEvent(f"not a change event of wire version {WIRE_VERSION}: {str(data)[:200]}")
        try:
            return cls(
                id=_text(data["id"]),
                system=_text(data["system"]),
                entity=Entity(data["entity"]),
                record_id=_text(data["recordId"]),
                kind=ChangeKind(data["kind"]),
                changed=tuple(_text(name) for name in data.get("changed", ())),
                parents=tuple((_text(by), _text(key)) for by, key in data.get("parents", ())),
                customer_ids=tuple(int(number) for number in data.get("customerIds", ())),
                occurred_at=_moment(data["occurredAt"]),
                received_at=_moment(data["receivedAt"]),
                chain=tuple(_text(link) for link in data.get("chain", ())),  # absent from older instances
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadEvent(f"malformed change event ({exc}): {str(data)[:200]}") from None


def encode_batch(events: Sequence[ChangeEvent]) -> bytes:
    return orjson.dumps([event.to_wire() for event in events])


def decode_batch(payload: bytes | str) -> list[ChangeEvent]:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadEvent(f"not JSON: {exc}") from None
    items = data if isinstance(data, list) else [data]
    return [ChangeEvent.from_wire(item) for item in items]


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def _moment(value: object) -> datetime:
    moment = datetime.fromisoformat(_text(value))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return moment
