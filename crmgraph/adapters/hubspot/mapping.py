"""HubSpot CRM v3 records mapped to canonical records.

A HubSpot record is ``{"id", "properties": {name: string | null}, "createdAt", "updatedAt", ...}``: every
property value is a string, an unset one is ``null`` or ``""``. Each guess about that shape goes through
:class:`_Fields`, so that a record crmgraph cannot understand becomes an
:class:`~crmgraph.errors.UpstreamBadResponse` for the key that asked for it, never a crash of the batch
and never a half-mapped record.

The ``*_PROPERTIES`` tuples are exactly the properties the mapping reads: the adapter asks for these and
no others, so that an answer carries nothing crmgraph would throw away.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from crmgraph.adapters.sdk.http import expect
from crmgraph.adapters.sdk.names import person_name
from crmgraph.adapters.sdk.remembered import mapped_once
from crmgraph.errors import UpstreamBadResponse
from crmgraph.records import (
    DealRecord,
    DealStage,
    InteractionKind,
    InteractionRecord,
    Money,
    OwnerRecord,
    PartyRecord,
    PersonRecord,
)

PARTY_PROPERTIES = (
    "name", "domain", "phone", "tax_id", "address", "zip", "city", "country", "industry", "lifecyclestage",
    "hubspot_owner_id",
)  # fmt: skip
# The record fields a company read with PARTY_PROPERTIES can fill (``Adapter.holds``): no e-mail, no tags.
PARTY_FIELDS = frozenset({
    "name", "tax_id", "domain", "phone", "country", "city", "address", "postal_code", "industry", "lifecycle_stage",
    "owner_id", "created_at", "updated_at",
})  # fmt: skip
PERSON_PROPERTIES = ("firstname", "lastname", "email", "phone", "jobtitle")
# The stages of HubSpot's default sales pipeline, in the pipeline's order (``GET /crm/v3/pipelines/deals``).
DEFAULT_PIPELINE_STAGES = (
    "appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent",
    "closedwon", "closedlost",
)  # fmt: skip
# HubSpot's calculated, read-only ``hs_date_entered_{stageId}``: when the deal (last) entered that stage.
STAGE_ENTERED_PREFIX = "hs_date_entered_"
STAGE_ENTERED_PROPERTIES = tuple(f"{STAGE_ENTERED_PREFIX}{stage}" for stage in DEFAULT_PIPELINE_STAGES)
DEAL_PROPERTIES = (
    "dealname", "dealstage", "amount", "deal_currency_code", "pipeline", "closedate", "hubspot_owner_id",
    *STAGE_ENTERED_PROPERTIES,
)  # fmt: skip

# HubSpot keeps a company's country as free text, usually the English name its UI offers. The names of the
# countries the demo estate uses, and the spellings people commonly type for them; anything else is None.
COUNTRY_CODES = {
    "china": "CN", "people's republic of china": "CN", "prc": "CN", "中国": "CN",
    "united states": "US", "united states of america": "US", "usa": "US", "us": "US",
    "united kingdom": "GB", "great britain": "GB", "uk": "GB", "gb": "GB",
    "germany": "DE", "deutschland": "DE", "de": "DE",
    "france": "FR", "fr": "FR",
    "singapore": "SG", "sg": "SG",
    "japan": "JP", "日本": "JP", "jp": "JP", "cn": "CN",
}  # fmt: skip

# The stages of HubSpot's default sales pipeline that end a deal. A custom pipeline's closing stages have
# ids of their own (numbers); until the pipelines API is read, such deals count as open.
DEAL_STAGES = {"closedwon": DealStage.WON, "closedlost": DealStage.LOST}

# Directions in domain words: HubSpot says INBOUND/OUTBOUND for calls, and EMAIL (sent from the CRM) or
# INCOMING_EMAIL for e-mails. FORWARDED_EMAIL says nothing reliable about who wrote it, so it maps to None.
DIRECTIONS = {
    "INBOUND": "INBOUND",
    "OUTBOUND": "OUTBOUND",
    "EMAIL": "OUTBOUND",
    "INCOMING_EMAIL": "INBOUND",
}

_CURRENCY = re.compile("[A-Z]{3}")
_EPOCH_MILLIS = re.compile("-?[0-9]{1,15}")
_DATE = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class EngagementType:
    """One HubSpot engagement object type and the properties that hold an interaction's parts."""

    object_type: str  # the v3 path segment: "calls"
    kind: InteractionKind
    title: str | None
    body: str
    direction: str | None

    @property
    def properties(self) -> tuple[str, ...]:
        return tuple(name for name in ("hs_timestamp", self.title, self.body, self.direction) if name)


ENGAGEMENT_TYPES = {
    engagement.object_type: engagement
    for engagement in (
        EngagementType("calls", InteractionKind.CALL, "hs_call_title", "hs_call_body", "hs_call_direction"),
        EngagementType("emails", InteractionKind.EMAIL, "hs_email_subject", "hs_email_text", "hs_email_direction"),
        EngagementType("meetings", InteractionKind.MEETING, "hs_meeting_title", "hs_meeting_body", None),
        EngagementType("notes", InteractionKind.NOTE, None, "hs_note_body", None),
    )
}


def interaction_id(engagement: EngagementType, object_id: str) -> str:
    """The source id of an interaction: HubSpot ids are unique per object type only (``calls:2000``)."""
    return f"{engagement.object_type}:{object_id}"


def parse_interaction_id(source_id: str) -> tuple[EngagementType, str] | None:
    """The engagement type and HubSpot id in a source id, or None for one this adapter never gave out."""
    object_type, _, object_id = source_id.partition(":")
    engagement = ENGAGEMENT_TYPES.get(object_type)
    if engagement is None or not object_id:
        return None
    return engagement, object_id


def country_code(name: str | None) -> str | None:
    return None if name is None else COUNTRY_CODES.get(" ".join(name.lower().split()))


def parse_instant(value: str) -> datetime | None:
    """An instant as HubSpot writes one: ISO 8601 with a zone, a bare date (UTC midnight), or epoch ms."""
    if _EPOCH_MILLIS.fullmatch(value):
        try:
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        # A date property is midnight UTC by HubSpot's definition; a naive time would be read in the
        # server's zone, wrong by hours and silently so.
        return moment.replace(tzinfo=UTC) if _DATE.fullmatch(value) else None
    return moment


class _Fields:
    """Typed reads of one HubSpot record; each failed read names the record and the property."""

    def __init__(self, source: str, raw: object, kind: str) -> None:
        # A JSON object as decoded is a dict: a test against the Mapping ABC would cost a Python-level check
        # for each of a page's hundreds of records (and of their nested objects).
        expect(source, isinstance(raw, dict), f"a {kind} that is not a JSON object")
        self.source = source
        self.raw: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        self.what = kind
        record_id = self.raw.get("id")
        if not isinstance(record_id, str) or not record_id:
            self.fail(f"id {record_id!r} is not a HubSpot id")
        self.id = record_id
        self.what = f"{kind} {record_id}"
        properties = self.raw.get("properties")
        if not isinstance(properties, dict):
            self.fail("it has no properties object")
        self.properties: Mapping[str, Any] = properties

    def fail(self, problem: str) -> NoReturn:
        # The error expect() raises; NoReturn lets the type checker follow the reads below.
        raise UpstreamBadResponse(self.source, f"unexpected answer: {self.what}: {problem}")

    def text(self, name: str, *, strip: bool = True) -> str | None:
        value = self.properties.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(f"{name} is {value!r}, not a string as every HubSpot property is")
        return (value.strip() if strip else value) or None  # HubSpot writes "" and null alike for unset

    def required_text(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            self.fail(f"{name} is missing")
        return value

    def instant(self, name: str) -> datetime | None:
        return self._instant(name, self.text(name))

    def required_instant(self, name: str) -> datetime:
        moment = self.instant(name)
        if moment is None:
            self.fail(f"{name} is missing")
        return moment

    def stamp(self, key: str) -> datetime | None:
        """``createdAt`` / ``updatedAt``, which HubSpot puts beside the properties, not among them."""
        value = self.raw.get(key)
        if value is not None and not isinstance(value, str):
            self.fail(f"{key} is {value!r}, not an ISO 8601 string")
        return self._instant(key, value or None)

    def _instant(self, name: str, value: str | None) -> datetime | None:
        if value is None:
            return None
        moment = parse_instant(value)
        if moment is None:
            self.fail(f"{name} {value!r} is not an instant (ISO 8601 with a zone, a date, or epoch ms)")
        return moment


def _stage_entered(deal: _Fields) -> tuple[tuple[str, datetime], ...]:
    """(stage id, moment) for every ``hs_date_entered_*`` property the answer carries with a value, oldest
    first; stages entered in the same instant keep the pipeline's order (a known stage before an unknown)."""
    order = {stage: index for index, stage in enumerate(DEFAULT_PIPELINE_STAGES)}
    entered: list[tuple[str, datetime]] = []
    for name in deal.properties:
        if isinstance(name, str) and name.startswith(STAGE_ENTERED_PREFIX):
            moment = deal.instant(name)
            if moment is not None:
                entered.append((name.removeprefix(STAGE_ENTERED_PREFIX), moment))
    entered.sort(key=lambda item: (item[1], order.get(item[0], len(order)), item[0]))
    return tuple(entered)


@dataclass(frozen=True)
class HubSpotMapping:
    """Maps the records of one source. ``currency`` is the account's company currency, if configured:
    HubSpot leaves ``deal_currency_code`` unset on deals in that currency when the account has only one."""

    source: str
    currency: str | None = None

    @mapped_once
    def party(self, raw: object) -> PartyRecord:
        company = _Fields(self.source, raw, "company")
        domain = company.text("domain")
        # HubSpot allows a company without a name and shows it by its domain; so do we.
        name = company.text("name") or domain
        if name is None:
            company.fail("it has neither a name nor a domain")
        return PartyRecord(
            self.source,
            company.id,
            name=name,
            tax_id=company.text("tax_id"),
            domain=domain,
            phone=company.text("phone"),
            country=country_code(company.text("country")),
            city=company.text("city"),
            address=company.text("address"),  # HubSpot's street address line
            postal_code=company.text("zip"),
            industry=company.text("industry"),
            lifecycle_stage=company.text("lifecyclestage"),
            owner_id=company.text("hubspot_owner_id"),
            created_at=company.stamp("createdAt"),
            updated_at=company.stamp("updatedAt"),
        )

    @mapped_once
    def person(self, raw: object, party_id: str | None) -> PersonRecord:
        contact = _Fields(self.source, raw, "contact")
        first, last = contact.text("firstname"), contact.text("lastname")
        # The address as recorded: matching normalizes case itself, and a steward may want to see it as is.
        email = contact.text("email")
        name = person_name(first, last) or email
        if name is None:
            contact.fail("it has no name and no e-mail address")
        return PersonRecord(
            self.source,
            contact.id,
            name=name,
            first_name=first,
            last_name=last,
            email=email,
            phone=contact.text("phone"),
            job_title=contact.text("jobtitle"),
            party_id=party_id,
            created_at=contact.stamp("createdAt"),
            updated_at=contact.stamp("updatedAt"),
        )

    @mapped_once
    def deal(self, raw: object, party_id: str | None) -> DealRecord:
        deal = _Fields(self.source, raw, "deal")
        stage = deal.required_text("dealstage")
        return DealRecord(
            self.source,
            deal.id,
            name=deal.required_text("dealname"),
            stage=DEAL_STAGES.get(stage, DealStage.OPEN),
            stage_label=stage,
            amount=self._amount(deal),
            pipeline=deal.text("pipeline"),
            close_date=deal.instant("closedate"),
            owner_id=deal.text("hubspot_owner_id"),
            party_id=party_id,
            created_at=deal.stamp("createdAt"),
            updated_at=deal.stamp("updatedAt"),
            stage_entered=_stage_entered(deal),
        )

    def _amount(self, deal: _Fields) -> Money | None:
        raw = deal.text("amount")
        if raw is None:
            return None
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            deal.fail(f"amount {raw!r} is not a number")
        if not amount.is_finite():
            deal.fail(f"amount {raw!r} is not a number")
        currency = deal.text("deal_currency_code") or self.currency
        if currency is None:
            deal.fail("amount has no deal_currency_code; set the source's `currency` to the account's currency")
        if not _CURRENCY.fullmatch(currency):
            deal.fail(f"deal_currency_code {currency!r} is not an ISO 4217 code")
        return Money(amount, currency)

    def interaction(self, engagement: EngagementType, raw: object, party_id: str | None) -> InteractionRecord:
        fields = _Fields(self.source, raw, engagement.object_type.removesuffix("s"))
        direction = fields.text(engagement.direction) if engagement.direction else None
        return InteractionRecord(
            self.source,
            interaction_id(engagement, fields.id),
            kind=engagement.kind,
            occurred_at=fields.required_instant("hs_timestamp"),
            title=fields.text(engagement.title) if engagement.title else None,
            body=fields.text(engagement.body, strip=False),
            direction=DIRECTIONS.get(direction or ""),
            party_id=party_id,
        )

    def owner(self, raw: object) -> OwnerRecord:
        # An owner is not a CRM object: its fields sit at the top level, with no properties object.
        if not isinstance(raw, Mapping):
            raise UpstreamBadResponse(self.source, "unexpected answer: an owner that is not a JSON object")
        owner_id, email, first, last = (raw.get(key) for key in ("id", "email", "firstName", "lastName"))
        what = f"owner {owner_id!r}"
        if not isinstance(owner_id, str) or not owner_id:
            raise UpstreamBadResponse(self.source, f"unexpected answer: {what} has no id")
        texts = (email, first, last)
        expect(self.source, all(v is None or isinstance(v, str) for v in texts), f"{what}: {texts!r} are not text")
        email = (email or "").strip() or None
        name = " ".join(part.strip() for part in (first, last) if part and part.strip()) or email
        if name is None:
            raise UpstreamBadResponse(self.source, f"unexpected answer: {what} has no name and no e-mail address")
        return OwnerRecord(self.source, owner_id, name=name, email=email)
