"""The canonical record types a REST entity can produce, by name, and what each field of them holds.

A field's type in the spec defaults to what the record declares (``datetime | None`` is a ``datetime``
that may be absent); a field the record needs (no default, not optional) must be mapped.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from crmgraph import records
from crmgraph.records import Money, Record

RECORDS: dict[str, type[Record]] = {
    "party": records.PartyRecord,
    "person": records.PersonRecord,
    "lead": records.LeadRecord,
    "campaign": records.CampaignRecord,
    "segment": records.SegmentRecord,
    "touch": records.TouchRecord,
    "owner": records.OwnerRecord,
    "deal": records.DealRecord,
    "interaction": records.InteractionRecord,
    "order": records.OrderRecord,
    "order_line": records.OrderLineRecord,
    "invoice": records.InvoiceRecord,
    "payment": records.PaymentRecord,
    "ticket": records.TicketRecord,
    "comment": records.CommentRecord,
}
# Set by the adapter, never mapped.
RESERVED = frozenset({"source", "source_id"})

_SCALARS: dict[object, str] = {
    str: "string",
    int: "int",
    Decimal: "decimal",
    bool: "bool",
    datetime: "datetime",
    date: "date",
    Money: "money",
}


@dataclass(frozen=True)
class CanonicalField:
    name: str
    kind: str  # one of spec.FieldType
    nullable: bool  # the record accepts None
    needed: bool  # the record has no default for it: a spec must map it (unless nullable)
    enum: type[StrEnum] | None = None


def _kind(hint: object) -> tuple[str, bool, type[StrEnum] | None]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [arg for arg in args if arg is not type(None)]
        kind, _, enum = _kind(inner[0])
        return kind, True, enum
    if typing.get_origin(hint) is tuple:
        return ("pairs" if typing.get_origin(args[0]) is tuple else "list"), False, None
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return "enum", False, hint
    return _SCALARS[hint], False, None


_KNOWN: dict[type[Record], dict[str, CanonicalField]] = {}


def canonical_fields(record: type[Record]) -> dict[str, CanonicalField]:
    """The fields of ``record`` a spec can map, in declaration order."""
    if record in _KNOWN:
        return _KNOWN[record]
    hints = typing.get_type_hints(record)
    found: dict[str, CanonicalField] = {}
    for item in dataclasses.fields(record):
        if item.name in RESERVED:
            continue
        kind, nullable, enum = _kind(hints[item.name])
        needed = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
        found[item.name] = CanonicalField(item.name, kind, nullable, needed, enum)
    _KNOWN[record] = found
    return found
