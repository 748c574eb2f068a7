"""What the simulated CRM's writes accept and how it stamps them: request bodies, association types, versions.

Request bodies follow HubSpot's CRM v3 objects and v4 associations APIs; one field is the demo's own:
``ifUpdatedAt`` in a batch update input, the per-object form of the ``X-Crmgraph-If-Updated-At`` header
(HubSpot has no precondition on writes; see docs/demo-estate.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from crmgraph.demo.stores.crm import ASSOCIATION_TYPE_IDS

MAX_BATCH_WRITE_INPUTS = 100
IF_UPDATED_AT = "X-Crmgraph-If-Updated-At"  # the demo's precondition header on PATCH

PropertyValue = str | int | float | bool | None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObjectRef(_Body):
    id: str


class AssociationSpec(_Body):
    associationCategory: Literal["HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED"]
    associationTypeId: int


class CreateAssociation(_Body):
    to: ObjectRef
    types: list[AssociationSpec] = Field(min_length=1)


class CreateInput(_Body):
    properties: dict[str, PropertyValue] = Field(default_factory=dict)
    associations: list[CreateAssociation] = Field(default_factory=list)
    objectWriteTraceId: str | None = None


class UpdateInput(_Body):
    properties: dict[str, PropertyValue]
    objectWriteTraceId: str | None = None


class BatchCreate(_Body):
    inputs: list[CreateInput] = Field(min_length=1, max_length=MAX_BATCH_WRITE_INPUTS)


class BatchUpdateInput(UpdateInput):
    id: str
    idProperty: str | None = None
    ifUpdatedAt: str | None = None  # the demo's own precondition, see the module docstring


class BatchUpdate(_Body):
    inputs: list[BatchUpdateInput] = Field(min_length=1, max_length=MAX_BATCH_WRITE_INPUTS)


class AssociationCreateInput(_Body):
    from_: ObjectRef = Field(alias="from")
    to: ObjectRef
    types: list[AssociationSpec] = Field(min_length=1)


class AssociationBatchCreate(_Body):
    inputs: list[AssociationCreateInput] = Field(min_length=1, max_length=MAX_BATCH_WRITE_INPUTS * 20)


def as_string(value: PropertyValue) -> str:
    """HubSpot keeps every property as a string; ``None`` and ``""`` clear it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


# The primary association types (contact and deal to their company) beside the unlabeled ones the seed holds.
_PRIMARY: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 1,
    ("companies", "contacts"): 2,
    ("deals", "companies"): 5,
    ("companies", "deals"): 6,
}


def association_types(from_type: str, to_type: str) -> dict[int, int]:
    """The HubSpot-defined association type ids from ``from_type`` to ``to_type``, each with its inverse."""
    found: dict[int, int] = {}
    if (from_type, to_type) in ASSOCIATION_TYPE_IDS:
        found[ASSOCIATION_TYPE_IDS[(from_type, to_type)]] = ASSOCIATION_TYPE_IDS[(to_type, from_type)]
    if (from_type, to_type) in _PRIMARY:
        found[_PRIMARY[(from_type, to_type)]] = _PRIMARY[(to_type, from_type)]
    return found


def default_association(from_type: str, to_type: str) -> int | None:
    """The type a ``.../associations/default/...`` call writes: the unlabeled one."""
    return ASSOCIATION_TYPE_IDS.get((from_type, to_type))


def primary_pair(type_id: int) -> bool:
    return type_id in _PRIMARY.values()


def parse_stamp(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def format_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def next_stamp(previous: str | None) -> str:
    """Now, or a millisecond after ``previous`` if the clock has not passed it: every change of an object gets
    a new ``updatedAt``, so that a version read before a change never matches after it."""
    now = datetime.now(UTC)
    if previous is not None:
        floor = parse_stamp(previous) + timedelta(milliseconds=1)
        now = max(now, floor)
    return format_stamp(now)


def same_stamp(expected: str, actual: str) -> bool:
    """Whether a precondition names this version: the exact string, or the same instant written otherwise."""
    if expected == actual:
        return True
    try:
        return parse_stamp(expected) == parse_stamp(actual)
    except ValueError:
        return False
