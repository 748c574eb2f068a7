"""Writes to HubSpot's CRM v3 objects: companies, contacts, deals and engagements created and changed.

    create     POST  /crm/v3/objects/{type}        {"properties": {...}, "associations": [{to, types}]}
    update     PATCH /crm/v3/objects/{type}/{id}   {"properties": {...}}

Canonical values (what the graph's mutations pass, in the field names of :mod:`crmgraph.records`) are
written to the properties the read mapping (:mod:`crmgraph.adapters.hubspot.mapping`) reads them from, so
that a value written is the value read back. A create is associated with its company (``links["party"]``)
by the primary association type, as HubSpot's UI does for a record made from a company's page.

Optimistic concurrency: HubSpot has no conditional write. The demo CRM honours the precondition header
``X-Crmgraph-If-Updated-At`` (409 when the record changed since); against another HubSpot the adapter
compares the version itself just before writing (:func:`stale`), which narrows the race but cannot close it.

Refusals: a 400 ``VALIDATION_ERROR`` names the properties at fault (``errors[].context.propertyName``),
which are turned back into canonical field names; a 409 is a ``CONFLICT`` (a stale version, or a contact
e-mail another contact holds); a 404 is ``NOT_FOUND``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from crmgraph.adapters.hubspot.mapping import (
    DEAL_PROPERTIES,
    ENGAGEMENT_TYPES,
    PARTY_PROPERTIES,
    PERSON_PROPERTIES,
    EngagementType,
    parse_instant,
    parse_interaction_id,
)
from crmgraph.adapters.sdk.http import HttpSource, expect
from crmgraph.adapters.sdk.writes import Refusal, WriteOp, WriteRefused
from crmgraph.errors import UpstreamRejected

OBJECTS = "/crm/v3/objects"
DEFAULT_PIPELINE, FIRST_STAGE = "default", "appointmentscheduled"  # HubSpot's default sales pipeline
IF_UPDATED_AT = "X-Crmgraph-If-Updated-At"  # the demo CRM's precondition (docs/demo-estate.md)

# Canonical field -> HubSpot property, per entity: the read mapping turned around.
PARTY = {
    "name": "name", "domain": "domain", "phone": "phone", "tax_id": "tax_id", "address": "address",
    "postal_code": "zip", "city": "city", "country": "country", "industry": "industry",
    "lifecycle_stage": "lifecyclestage", "owner_id": "hubspot_owner_id",
}  # fmt: skip
PERSON = {"first_name": "firstname", "last_name": "lastname", "email": "email", "phone": "phone",
          "job_title": "jobtitle", "owner_id": "hubspot_owner_id"}  # fmt: skip
DEAL = {"name": "dealname", "stage": "dealstage", "amount": "amount", "currency_code": "deal_currency_code",
        "pipeline": "pipeline", "close_date": "closedate", "owner_id": "hubspot_owner_id"}  # fmt: skip
# The HubSpot-defined primary association of each object type to its company (an engagement has only one).
TO_COMPANY = {"contacts": 1, "deals": 5, "calls": 182, "emails": 186, "meetings": 188, "notes": 190}
# A country code written as the English name HubSpot's UI offers (the read mapping knows each of them).
COUNTRY_NAMES = {"CN": "China", "US": "United States", "GB": "United Kingdom", "DE": "Germany", "FR": "France",
                 "SG": "Singapore", "JP": "Japan"}  # fmt: skip


@dataclass(frozen=True)
class Target:
    """Where a write goes: the v3 object type, its engagement type (interactions), the HubSpot id (updates)."""

    object_type: str
    engagement: EngagementType | None
    object_id: str | None
    properties: tuple[str, ...]  # what a read-back asks for: what the read mapping reads

    @property
    def path(self) -> str:
        base = f"{OBJECTS}/{self.object_type}"
        return base if self.object_id is None else f"{base}/{self.object_id}"


_PLAIN = {"party": ("companies", PARTY_PROPERTIES), "person": ("contacts", PERSON_PROPERTIES),
          "deal": ("deals", DEAL_PROPERTIES)}  # fmt: skip


def target(source: str, op: WriteOp) -> Target | Refusal:
    """Where ``op`` goes, or a NOT_FOUND/INVALID refusal for an id or kind this adapter never gave out."""
    if op.entity in _PLAIN:
        object_type, properties = _PLAIN[op.entity]
        if op.record_id is not None and not op.record_id.isdigit():
            return Refusal("NOT_FOUND", f"no {op.entity} {op.record_id} in {source}")
        return Target(object_type, None, op.record_id, properties)
    if op.record_id is not None:
        parsed = parse_interaction_id(op.record_id)
        if parsed is None or not parsed[1].isdigit():
            return Refusal("NOT_FOUND", f"no interaction {op.record_id} in {source}")
        return Target(parsed[0].object_type, parsed[0], parsed[1], parsed[0].properties)
    kind = str(_plain(op.values.get("kind")) or "")
    engagement = next((e for e in ENGAGEMENT_TYPES.values() if e.kind.value == kind), None)
    if engagement is None:
        return Refusal("INVALID", f"an interaction is a CALL, EMAIL, MEETING or NOTE, not {kind!r}", "kind")
    return Target(engagement.object_type, engagement, None, engagement.properties)


def property_names(op: WriteOp, where: Target) -> dict[str, str]:
    """Canonical field -> HubSpot property for ``where``'s object type."""
    if where.engagement is None:
        return {"party": PARTY, "person": PERSON, "deal": DEAL}[op.entity]
    engagement = where.engagement
    names = {"occurred_at": "hs_timestamp", "body": engagement.body, "owner_id": "hubspot_owner_id"}
    if engagement.title:
        names["title"] = engagement.title
    if engagement.direction:
        names["direction"] = engagement.direction
    return names


def properties(op: WriteOp, where: Target) -> dict[str, str | None] | Refusal:
    """The HubSpot properties ``op`` sets (``None`` clears one), or a refusal naming a field it has no
    property for (a mapping gap is the caller's mistake, not the system's)."""
    names = property_names(op, where)
    written: dict[str, str | None] = {}
    for field, value in op.values.items():
        if field == "kind" and where.engagement is not None:
            continue  # chose the object type
        if field not in names:
            return Refusal("INVALID", f"{where.object_type} have no place for {field}", field)
        written[names[field]] = _wire_value(field, value)
    if op.entity == "deal" and op.action == "create":
        # HubSpot puts a deal without a stage nowhere a pipeline board shows it: the default pipeline's first.
        written.setdefault("pipeline", DEFAULT_PIPELINE)
        if not written.get("dealstage"):
            written["dealstage"] = FIRST_STAGE
    if where.engagement is not None and op.action == "create" and "hs_timestamp" not in written:
        written["hs_timestamp"] = _instant(datetime.now(UTC))  # HubSpot requires when it happened
    return written


def body(op: WriteOp, where: Target, props: Mapping[str, str | None]) -> dict[str, Any]:
    sent: dict[str, Any] = {"properties": dict(props)}
    party = op.links.get("party")
    if op.action == "create" and party and where.object_type in TO_COMPANY:
        spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TO_COMPANY[where.object_type]}
        sent["associations"] = [{"to": {"id": party}, "types": [spec]}]
    return sent


async def send(http: HttpSource, source: str, op: WriteOp, where: Target, *, precondition: bool) -> Mapping[str, Any]:
    """The raw record HubSpot answers with; :class:`WriteRefused` for a refusal."""
    props = properties(op, where)
    if isinstance(props, Refusal):
        raise WriteRefused(source, [props])
    headers = {IF_UPDATED_AT: op.expected_version} if precondition and op.expected_version else None
    method = "POST" if op.action == "create" else "PATCH"
    status, answer = await http.send_json(method, where.path, body(op, where, props), headers=headers)
    if status < 400:
        expect(source, isinstance(answer, Mapping) and isinstance(answer.get("id"), str), f"a {where.object_type}")
        written: Mapping[str, Any] = answer
        return written
    raise refused(source, status, answer, op, property_names(op, where))


def refused(source: str, status: int, answer: Any, op: WriteOp, names: Mapping[str, str]) -> Exception:
    said = answer if isinstance(answer, Mapping) else {}
    message = str(said.get("message") or status)
    canonical = {prop: field for field, prop in names.items()}
    errors = [e for e in said.get("errors") or () if isinstance(e, Mapping)]
    if status == 404:
        return WriteRefused(source, [Refusal("NOT_FOUND", f"no {op.entity} {op.record_id} in {source}")])
    if status == 409 and not errors:  # the precondition: the record changed since the version named
        context = said.get("context")
        now = context.get("updatedAt") if isinstance(context, Mapping) else None
        return WriteRefused(source, [conflict(op, now[0] if isinstance(now, list) and now else None)])
    if status in (400, 409):
        code: Literal["CONFLICT", "INVALID"] = "CONFLICT" if status == 409 else "INVALID"
        # HubSpot names the holder of a duplicate e-mail only in the top message ("Existing ID: 123"): kept.
        holder = f" ({message})" if "Existing ID" in message else ""
        refusals = [Refusal(code, str(e.get("message") or message) + holder, _field(e, canonical)) for e in errors]
        return WriteRefused(source, refusals or [Refusal(code, message)])
    return UpstreamRejected(source, f"refused the write ({status}): {message}")


def conflict(op: WriteOp, current: str | None) -> Refusal:
    now = f" (now {current})" if current else ""
    return Refusal("CONFLICT", f"the {op.entity} changed since version {op.expected_version} was read{now}; "
                               "read it again")  # fmt: skip


def stale(expected: str, updated_at: object) -> bool:
    """Whether a record whose ``updatedAt`` is ``updated_at`` is not at version ``expected`` (the same instant
    written another way is the same version)."""
    if not isinstance(updated_at, str):
        return True
    if expected == updated_at:
        return False
    was, now = parse_instant(expected), parse_instant(updated_at)
    return was is None or now is None or was != now


def version(moment: datetime | None) -> str | None:
    """A record's version as the graph shows it: its ``updatedAt`` to the millisecond, as HubSpot writes it."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _field(error: Mapping[str, Any], canonical: Mapping[str, str]) -> str | None:
    context = error.get("context")
    named = context.get("propertyName") if isinstance(context, Mapping) else None
    prop = named[0] if isinstance(named, list) and named else None
    return canonical.get(prop, prop) if isinstance(prop, str) else None


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else value


def _instant(moment: datetime) -> str:
    return version(moment) or ""


def _wire_value(field: str, value: object) -> str | None:
    """A canonical value as HubSpot keeps it: every property is a string."""
    value = _plain(value)
    if value is None or value == "":
        return None
    if field == "country" and isinstance(value, str):
        return COUNTRY_NAMES.get(value.upper(), value)
    if isinstance(value, datetime):
        return _instant(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()  # a date property: midnight UTC, as the read mapping takes it
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)
