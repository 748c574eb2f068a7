"""The simulated marketing system's writes, in Mautic's shapes, and the webhooks they cause.

- ``POST /api/contacts/new``: the body (JSON, or a form) holds field aliases: ``firstname``, ``lastname``,
  ``email``, ``company``, ``position``, ``phone``, ``mobile``, ``city``, ``country``, and ``points``, ``owner``
  (a user id), ``stage`` (an id or a name), ``tags`` (a list or comma-separated; ``-tag`` removes one),
  ``ipAddress``, ``lastActive``, ``overwriteWithBlank``. As in Mautic, the e-mail identifies a contact: a
  create whose e-mail is already known updates that contact (200) instead of making a second one (201).
  A ``company`` name links the contact to the company of that name, made when there is none.
- ``PATCH /api/contacts/{id}/edit`` changes the fields given (404 when unknown); ``PUT`` replaces every field
  with those given, and creates the contact (under a new id, 201) when the id is unknown.
- ``POST /api/campaigns/{id}/contact/{contactId}/add`` makes the contact a member: ``{"success": 1}``.

Refused values are Mautic's 400 with ``details`` by field. Fields Mautic does not know are ignored. Webhook
events: ``mautic.lead_post_save_new`` and ``mautic.lead_post_save_update`` (``{"contact": ..., "timestamp"}``).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from crmgraph.demo.instruments import json_response, note_write
from crmgraph.demo.marketing_errors import ApiError, bad_request, invalid, not_found
from crmgraph.demo.marketing_query import MAX_SQLITE_INTEGER, instant
from crmgraph.demo.marketing_records import Catalog, contact_record
from crmgraph.demo.webhooks import Event, WebhookHub

TEXT_FIELDS = ("firstname", "lastname", "email", "company", "position", "phone", "mobile", "city", "country")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TEXT = 191  # Mautic's VARCHAR(191) columns
STAMP = "%Y-%m-%dT%H:%M:%S+00:00"


def next_stamp(previous: str | None) -> str:
    """Now, and at least a second after ``previous``: a change always shows in a ``dateModified`` filter."""
    now = datetime.now(UTC).replace(microsecond=0)
    if previous is not None:
        now = max(now, datetime.fromisoformat(previous) + timedelta(seconds=1))
    return now.strftime(STAMP)


async def _body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/")):
        form = await request.form()
        fields: dict[str, Any] = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        tags = form.getlist("tags[]")
        if tags:
            fields["tags"] = [tag for tag in tags if isinstance(tag, str)]
        return fields
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError:
        raise bad_request("The request body must be a JSON object of contact fields, or a form.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object of contact fields, or a form.")
    return body


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() in ("1", "true")


class MarketingWrites:
    def __init__(self, conn: sqlite3.Connection, catalog: Catalog, hub: WebhookHub) -> None:
        self.conn = conn
        self.catalog = catalog
        self.hub = hub

    def _contact(self, contact_id: int) -> sqlite3.Row | None:
        if contact_id > MAX_SQLITE_INTEGER:
            return None
        row: sqlite3.Row | None = self.conn.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,)).fetchone()
        return row

    def _stage(self, value: object) -> int | None:
        for stage_id, name in self.catalog.stages.items():
            if str(value) == str(stage_id) or str(value).lower() == name.lower():
                return stage_id
        return None

    def _changes(self, body: dict[str, Any]) -> tuple[dict[str, object], list[str] | None]:
        """The columns the body sets, and its tags (None when it names none); refused values raise a 400."""
        blank = _truthy(body.get("overwriteWithBlank", False))
        problems: dict[str, list[str]] = {}
        changes: dict[str, object] = {}
        for alias in TEXT_FIELDS:
            if alias not in body:
                continue
            value = body[alias]
            if value is None or value == "":
                if blank:
                    changes[alias] = None
                continue
            text = str(value).strip()
            if len(text) > MAX_TEXT:
                problems.setdefault(alias, []).append(
                    f"This value is too long. It should have {MAX_TEXT} characters or less."
                )
            elif alias == "email" and not EMAIL.match(text):
                problems.setdefault(alias, []).append("A valid email is required.")
            changes[alias] = text
        if body.get("points") not in (None, ""):
            try:
                changes["points"] = int(str(body["points"]))
            except ValueError:
                problems.setdefault("points", []).append("This value is not valid.")
        if body.get("owner") not in (None, ""):
            owner = str(body["owner"])
            if not owner.isdigit() or int(owner) not in self.catalog.users:
                problems.setdefault("owner", []).append("This value is not valid.")
            else:
                changes["owner_id"] = int(owner)
        if body.get("stage") not in (None, ""):
            stage = self._stage(body["stage"])
            if stage is None:
                problems.setdefault("stage", []).append("This value is not valid.")
            changes["stage_id"] = stage
        if body.get("ipAddress"):
            changes["ip_address"] = str(body["ipAddress"])
        if body.get("lastActive"):
            try:
                changes["last_active"] = instant(str(body["lastActive"]))
            except ApiError:  # the value is not a date: refused as the field's problem
                problems.setdefault("lastActive", []).append("This value is not a valid datetime.")
        tags = body.get("tags")
        if isinstance(tags, str):
            tags = [tag.strip() for tag in tags.split(",") if tag.strip()]
        if tags is not None and not (isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)):
            problems.setdefault("tags", []).append("Tags must be a list of strings.")
        if problems:
            raise invalid(problems)
        return changes, tags

    def _company(self, contact_id: int, name: object, stamp: str) -> int:
        """Link the contact to the company named (made when unknown); the records written (0 or 1)."""
        self.conn.execute("DELETE FROM contact_companies WHERE contact_id = ?", (contact_id,))
        if not name:
            return 0
        found = self.conn.execute(
            "SELECT id FROM companies WHERE name = ? COLLATE NOCASE ORDER BY id", (name,)
        ).fetchone()
        made = 0
        if found is None:
            (last,) = self.conn.execute("SELECT max(id) FROM companies").fetchone()
            company_id = (last or 0) + 1
            self.conn.execute(
                "INSERT INTO companies (id, name, date_added, date_modified) VALUES (?, ?, ?, ?)",
                (company_id, name, stamp, stamp),
            )
            made = 1
        else:
            company_id = found[0]
        self.conn.execute("INSERT INTO contact_companies VALUES (?, ?, ?, 1)", (contact_id, company_id, stamp))
        return made

    def _write(
        self, before: sqlite3.Row | None, changes: dict[str, object], tags: list[str] | None, replace: bool
    ) -> tuple[int, int]:
        """Insert or update one contact; (its id, records written)."""
        stamp = next_stamp(before["date_modified"] if before is not None else None)
        old_tags: list[str] = orjson.loads(before["tags"]) if before is not None and not replace else []
        kept = [tag for tag in old_tags if f"-{tag}" not in (tags or [])]
        changes["tags"] = orjson.dumps(
            kept + [t for t in tags or [] if not t.startswith("-") and t not in kept]
        ).decode()
        if before is None or replace:
            cleared: dict[str, object] = {alias: None for alias in TEXT_FIELDS} | {
                "points": 0,
                "owner_id": None,
                "stage_id": None,
            }
            changes = cleared | changes
        if before is None:
            (last,) = self.conn.execute("SELECT max(id) FROM contacts").fetchone()
            contact_id = (last or 0) + 1
            changes |= {
                "id": contact_id,
                "date_added": stamp,
                "date_identified": stamp if changes.get("email") else None,
            }
            changes["date_modified"] = stamp
            columns = ", ".join(changes)
            self.conn.execute(
                f"INSERT INTO contacts ({columns}) VALUES ({', '.join('?' * len(changes))})", list(changes.values())
            )
        else:
            contact_id = before["id"]
            changes["date_modified"] = stamp
            assignments = ", ".join(f"{column} = ?" for column in changes)
            self.conn.execute(f"UPDATE contacts SET {assignments} WHERE id = ?", [*changes.values(), contact_id])
        written = 1
        if "company" in changes:
            written += self._company(contact_id, changes["company"], stamp)
        return contact_id, written

    def _answer(self, request: Request, contact_id: int, created: bool, written: int) -> Response:
        note_write(request.scope, written)
        row = self._contact(contact_id)
        assert row is not None
        primary = self.conn.execute(
            "SELECT c.id, c.name FROM contact_companies cc JOIN companies c ON c.id = cc.company_id"
            " WHERE cc.contact_id = ? AND cc.is_primary = 1",
            (contact_id,),
        ).fetchone()
        record = contact_record(row, self.catalog, (primary[0], primary[1]) if primary else None)
        kind = "mautic.lead_post_save_new" if created else "mautic.lead_post_save_update"
        self.hub.publish([Event(kind, {"contact": record, "timestamp": row["date_modified"]})])
        return json_response({"contact": record}, 201 if created else 200)

    async def create(self, request: Request) -> Response:
        body = await _body(request)
        changes, tags = self._changes(body)
        with self.conn:
            existing = None
            if changes.get("email"):
                existing = self.conn.execute(
                    "SELECT * FROM contacts WHERE email = ? COLLATE NOCASE ORDER BY id LIMIT 1", (changes["email"],)
                ).fetchone()
            contact_id, written = self._write(existing, changes, tags, replace=False)
        return self._answer(request, contact_id, existing is None, written)

    async def edit(self, request: Request) -> Response:
        before = self._contact(request.path_params["id"])
        if before is None and request.method == "PATCH":
            raise not_found()
        changes, tags = self._changes(await _body(request))
        with self.conn:
            contact_id, written = self._write(before, changes, tags, replace=request.method == "PUT")
        return self._answer(request, contact_id, before is None, written)

    async def add_to_campaign(self, request: Request) -> Response:
        campaign_id, contact_id = request.path_params["id"], request.path_params["contact_id"]
        campaign = (
            campaign_id <= MAX_SQLITE_INTEGER
            and self.conn.execute("SELECT name FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()
        )
        if not campaign or self._contact(contact_id) is None:
            raise not_found()
        stamp = next_stamp(None)
        with self.conn:
            added = self.conn.execute(
                "INSERT OR IGNORE INTO campaign_leads VALUES (?, ?, ?, 0, 1)", (campaign_id, contact_id, stamp)
            ).rowcount
            if added:
                log = {
                    "campaignId": str(campaign_id),
                    "campaignName": campaign[0],
                    "dateTriggered": stamp,
                    "eventName": "Contact added to campaign",
                    "type": "campaign.addlead",
                }
                details = orjson.dumps({"log": log, "campaignId": str(campaign_id)}).decode()
                self.conn.execute(
                    "INSERT INTO events (contact_id, event, timestamp, campaign_id, label, details)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (contact_id, "campaign.event", stamp, campaign_id, campaign[0], details),
                )
        if added:
            note_write(request.scope, 1)
        return json_response({"success": 1})
