"""The CRM's property definitions, as far as writes need them: which properties exist, their options, which
are read-only, which are numbers or dates, and which must be unique.

HubSpot refuses a write that names a property the portal does not define, a value outside an enumeration's
options, a number that does not parse, a read-only property (a deal's calculated ``hs_date_entered_*`` too),
and a second contact with an e-mail already held. The demo defines the properties its seed writes plus a few
HubSpot defaults a client commonly sets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from crmgraph.demo.crm_stage_history import is_stage_date
from crmgraph.demo.seed.crm_projection import DEAL_STAGES_OPEN

READ_ONLY = frozenset({"hs_object_id", "createdate", "hs_createdate", "hs_lastmodifieddate", "lastmodifieddate"})
LIFECYCLE_STAGES = (
    "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist",
    "other",
)  # fmt: skip
DEAL_STAGES = (*DEAL_STAGES_OPEN, "closedwon", "closedlost")
_ENGAGEMENT = {"hs_timestamp", "hubspot_owner_id"}


@dataclass(frozen=True)
class Properties:
    names: frozenset[str]
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    numbers: frozenset[str] = frozenset()
    datetimes: frozenset[str] = frozenset()
    unique: str | None = None  # the property no two objects of the type may share (case-insensitively)


PROPERTIES: dict[str, Properties] = {
    "companies": Properties(
        frozenset({"name", "domain", "website", "phone", "address", "city", "zip", "state", "country", "industry",
                   "lifecyclestage", "hubspot_owner_id", "tax_id", "numberofemployees", "annualrevenue",
                   "description"}),
        {"lifecyclestage": LIFECYCLE_STAGES},
        frozenset({"numberofemployees", "annualrevenue"}),
    ),
    "contacts": Properties(
        frozenset({"firstname", "lastname", "email", "phone", "mobilephone", "jobtitle", "hs_language",
                   "lifecyclestage", "hubspot_owner_id", "company", "address", "city", "zip", "country"}),
        {"lifecyclestage": LIFECYCLE_STAGES},
        unique="email",
    ),
    "deals": Properties(
        frozenset({"dealname", "amount", "deal_currency_code", "pipeline", "dealstage", "closedate",
                   "hubspot_owner_id", "description"}),
        {"dealstage": DEAL_STAGES, "pipeline": ("default",)},
        frozenset({"amount"}),
        frozenset({"closedate"}),
    ),
    "calls": Properties(
        frozenset({*_ENGAGEMENT, "hs_call_title", "hs_call_body", "hs_call_direction", "hs_call_duration",
                   "hs_call_status"}),
        {"hs_call_direction": ("INBOUND", "OUTBOUND"),
         "hs_call_status": ("BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING", "FAILED",
                            "IN_PROGRESS", "NO_ANSWER", "QUEUED", "RINGING")},
        frozenset({"hs_call_duration"}),
        frozenset({"hs_timestamp"}),
    ),
    "emails": Properties(
        frozenset({*_ENGAGEMENT, "hs_email_subject", "hs_email_text", "hs_email_direction", "hs_email_status"}),
        {"hs_email_direction": ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"),
         "hs_email_status": ("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT")},
        datetimes=frozenset({"hs_timestamp"}),
    ),
    "meetings": Properties(
        frozenset({*_ENGAGEMENT, "hs_meeting_title", "hs_meeting_body", "hs_meeting_start_time",
                   "hs_meeting_end_time", "hs_meeting_outcome"}),
        {"hs_meeting_outcome": ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED")},
        datetimes=frozenset({"hs_timestamp", "hs_meeting_start_time", "hs_meeting_end_time"}),
    ),
    "notes": Properties(frozenset({*_ENGAGEMENT, "hs_note_body"}), datetimes=frozenset({"hs_timestamp"})),
}  # fmt: skip


@dataclass(frozen=True)
class PropertyProblem:
    name: str
    code: str  # HubSpot's: PROPERTY_DOESNT_EXIST, INVALID_OPTION, READ_ONLY_VALUE, INVALID_FLOAT, INVALID_DATE
    message: str


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    if value.isdigit():
        return True  # epoch milliseconds
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def check_properties(object_type: str, values: dict[str, str]) -> list[PropertyProblem]:
    """What HubSpot would refuse in ``values`` (an empty string clears a property and is always allowed)."""
    spec = PROPERTIES[object_type]
    problems: list[PropertyProblem] = []
    for name, value in values.items():
        if name in READ_ONLY or (object_type == "deals" and is_stage_date(name)):
            problems.append(PropertyProblem(name, "READ_ONLY_VALUE", f'Property "{name}" is read-only'))
        elif name not in spec.names:
            problems.append(PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
        elif value == "":
            continue
        elif name in spec.options and value not in spec.options[name]:
            allowed = ", ".join(spec.options[name])
            message = f"{value} was not one of the allowed options: [{allowed}]"
            problems.append(PropertyProblem(name, "INVALID_OPTION", message))
        elif name in spec.numbers and not _is_number(value):
            problems.append(PropertyProblem(name, "INVALID_FLOAT", f"{value!r} is not a valid number for {name}"))
        elif name in spec.datetimes and not _is_datetime(value):
            message = f"{value!r} is not a valid date for {name}: send ISO 8601 or epoch milliseconds"
            problems.append(PropertyProblem(name, "INVALID_DATE", message))
    return problems


def problems_body(problems: list[PropertyProblem]) -> tuple[str, dict[str, object]]:
    """HubSpot's message (a JSON list of property checks) and the ``errors`` detail of the error body."""
    checks = [
        {"isValid": False, "message": p.message, "error": p.code, "name": p.name, "localizedErrorMessage": p.message}
        for p in problems
    ]
    errors = [{"message": p.message, "code": p.code, "context": {"propertyName": [p.name]}} for p in problems]
    return f"Property values were not valid: {json.dumps(checks)}", {"errors": errors}
