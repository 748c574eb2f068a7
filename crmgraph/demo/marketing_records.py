"""Store rows as Mautic's API writes them: contacts, companies, campaigns, segments, timeline events.

Field values in ``fields`` are strings or null, as Mautic keeps custom-field values; ``fields.all`` is the
flat ``alias -> value`` view of the same values. A contact's primary company is in ``primaryCompany``
(``{"id", "companyname"}`` or null): the demo's extension, so that one list call gives every lead's
company (Mautic itself answers it per contact at ``/api/contacts/{id}/companies``, which is served too).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson

# (alias, label, type, group) of the contact fields, in Mautic's order; a field's id is its position + 1.
CONTACT_FIELDS = (
    ("firstname", "First Name", "text", "core"),
    ("lastname", "Last Name", "text", "core"),
    ("company", "Primary company", "text", "core"),
    ("position", "Position", "text", "core"),
    ("email", "Email", "email", "core"),
    ("mobile", "Mobile", "tel", "core"),
    ("phone", "Phone", "tel", "core"),
    ("points", "Points", "number", "core"),
    ("city", "City", "text", "core"),
    ("country", "Country", "country", "core"),
    ("linkedin", "LinkedIn", "text", "social"),
)
COMPANY_FIELDS = (
    ("companyname", "Company Name", "text", "core", "name"),
    ("companyemail", "Company Email", "email", "core", "email"),
    ("companywebsite", "Website", "url", "core", "website"),
    ("companyphone", "Phone", "tel", "core", "phone"),
    ("companyaddress1", "Address Line 1", "text", "core", "address1"),
    ("companycity", "City", "text", "core", "city"),
    ("companyzipcode", "Zip Code", "text", "core", "zipcode"),
    ("companycountry", "Country", "country", "core", "country"),
    ("companyindustry", "Industry", "select", "professional", "industry"),
)
EVENT_TYPES = {
    "campaign.event": "Campaign action triggered",
    "email.read": "Email read",
    "email.sent": "Email sent",
    "form.submitted": "Form submitted",
    "page.hit": "Page hit",
    "point.gained": "Point gained",
}
API_USER = 1  # who "created" every seeded record: Mautic's first user


@dataclass(frozen=True)
class Catalog:
    """The small tables every answer refers to, read once: users (owners), stages, campaign categories."""

    users: dict[int, sqlite3.Row]
    stages: dict[int, str]
    categories: dict[int, sqlite3.Row]

    @classmethod
    def read(cls, conn: sqlite3.Connection) -> Catalog:
        return cls(
            {row["id"]: row for row in conn.execute("SELECT * FROM users")},
            {row["id"]: row["name"] for row in conn.execute("SELECT * FROM stages")},
            {row["id"]: row for row in conn.execute("SELECT * FROM categories")},
        )

    def owner(self, user_id: int | None) -> dict[str, object] | None:
        user = self.users.get(user_id) if user_id is not None else None
        if user is None:
            return None
        return {
            "id": user["id"],
            "username": user["username"],
            "firstName": user["first_name"],
            "lastName": user["last_name"],
        }

    def user(self, user_id: int) -> dict[str, object]:
        user = self.users[user_id]
        return {
            "id": user["id"],
            "username": user["username"],
            "firstName": user["first_name"],
            "lastName": user["last_name"],
            "email": user["email"],
            "isPublished": True,
        }


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _grouped(
    values: Mapping[str, str | None], spec: Sequence[tuple[str, ...]], groups: tuple[str, ...]
) -> dict[str, object]:
    grouped: dict[str, dict[str, object]] = {group: {} for group in groups}
    for position, (alias, label, kind, group, *_) in enumerate(spec, start=1):
        grouped[group][alias] = {
            "id": str(position),
            "label": label,
            "alias": alias,
            "type": kind,
            "group": group,
            "object": "lead",
            "value": values.get(alias),
        }
    # Mautic writes an empty group as an empty JSON array.
    return {group: entries or [] for group, entries in grouped.items()}


def contact_record(
    row: sqlite3.Row, catalog: Catalog, company: tuple[int, str] | None, *, minimal: bool = False
) -> dict[str, object]:
    values: dict[str, str | None] = {
        alias: _text(row[alias]) if alias in row.keys() else None  # noqa: SIM118 - a Row tests values, not keys
        for alias, *_ in CONTACT_FIELDS
    }
    flat: dict[str, object] = {"id": row["id"], **values}
    fields: dict[str, object] = {"all": flat}
    if not minimal:
        fields = {**_grouped(values, CONTACT_FIELDS, ("core", "social", "personal", "professional")), "all": flat}
    stage = catalog.stages.get(row["stage_id"]) if row["stage_id"] is not None else None
    ip = row["ip_address"]
    return {
        "id": row["id"],
        "isPublished": bool(row["is_published"]),
        "dateAdded": row["date_added"],
        "createdBy": API_USER,
        "dateModified": row["date_modified"],
        "owner": catalog.owner(row["owner_id"]),
        "points": row["points"],
        "lastActive": row["last_active"],
        "dateIdentified": row["date_identified"],
        "color": None,
        "ipAddresses": {ip: {"ipAddress": ip, "ipDetails": {}}} if ip else [],
        "stage": {"id": row["stage_id"], "name": stage} if stage else None,
        "tags": [{"tag": tag} for tag in orjson.loads(row["tags"])],
        "primaryCompany": {"id": company[0], "companyname": company[1]} if company else None,
        "fields": fields,
    }


def company_record(row: sqlite3.Row, catalog: Catalog) -> dict[str, object]:
    values = {alias: _text(row[column]) for alias, *_, column in COMPANY_FIELDS}
    return {
        "id": row["id"],
        "isPublished": True,
        "dateAdded": row["date_added"],
        "createdBy": API_USER,
        "dateModified": row["date_modified"],
        "owner": catalog.owner(row["owner_id"]),
        "score": 0,
        "fields": {
            **_grouped(values, COMPANY_FIELDS, ("core", "professional", "other")),
            "all": {"id": row["id"], **values},
        },
    }


def campaign_record(row: sqlite3.Row, catalog: Catalog) -> dict[str, object]:
    category = catalog.categories[row["category_id"]]
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "isPublished": bool(row["is_published"]),
        "publishUp": row["publish_up"],
        "publishDown": row["publish_down"],
        "dateAdded": row["date_added"],
        "createdBy": API_USER,
        "dateModified": row["date_modified"],
        "category": {
            "id": category["id"],
            "title": category["title"],
            "alias": category["alias"],
            "bundle": "campaign",
        },
        # The demo's extension: Mautic keeps no cost of a campaign.
        "budget": {"amount": row["budget_amount"], "currency": row["budget_currency"]},
        "events": [],
        "lists": [],
        "forms": [],
    }


def segment_record(row: sqlite3.Row) -> dict[str, object]:
    return {
        "id": row["id"],
        "isPublished": True,
        "dateAdded": row["date_added"],
        "createdBy": API_USER,
        "dateModified": row["date_modified"],
        "name": row["name"],
        "publicName": row["name"],
        "alias": row["alias"],
        "description": row["description"],
        "filters": [],
        "isGlobal": bool(row["is_global"]),
        "isPreferenceCenter": False,
    }


def email_record(row: sqlite3.Row) -> dict[str, object]:
    return {
        "id": row["id"],
        "name": row["name"],
        "subject": row["subject"],
        "isPublished": True,
        "dateAdded": row["date_added"],
        "emailType": "template",
        "campaignId": row["campaign_id"],
    }


def event_record(row: sqlite3.Row) -> dict[str, object]:
    return {
        "event": row["event"],
        "eventId": f"{row['event']}{row['id']}",
        "eventLabel": row["label"],
        "eventType": EVENT_TYPES.get(row["event"], row["event"]),
        "timestamp": row["timestamp"],
        "contactId": str(row["contact_id"]),
        "details": orjson.loads(row["details"]),
        "featured": False,
    }
