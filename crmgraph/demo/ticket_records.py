"""Rows of the ticket store rendered as Zendesk Support v2 JSON records.

Fields the store does not model are given the value Zendesk gives an account that does not use the
feature (``custom_fields: []``, ``shared: false``...), so that a client written against the real product
finds every field it reads.
"""

from __future__ import annotations

import html
import sqlite3
from collections.abc import Callable

import orjson

Record = dict[str, object]
Renderer = Callable[[sqlite3.Row, str], Record]


def _list(raw: str | None) -> list[object]:
    if not raw:
        return []
    value = orjson.loads(raw)
    return value if isinstance(value, list) else []


def record_url(base: str, collection: str, record_id: int) -> str:
    """The API URL of one record, as Zendesk writes it (with the ``.json`` suffix)."""
    return f"{base}/api/v2/{collection}/{record_id}.json"


def ticket_record(row: sqlite3.Row, base: str) -> Record:
    return {
        "id": row["id"],
        "url": record_url(base, "tickets", row["id"]),
        "external_id": row["external_id"],
        "type": row["type"],
        "subject": row["subject"],
        "raw_subject": row["subject"],
        "description": row["description"],
        "priority": row["priority"],
        "status": row["status"],
        "requester_id": row["requester_id"],
        "submitter_id": row["submitter_id"],
        "assignee_id": row["assignee_id"],
        "organization_id": row["organization_id"],
        "group_id": row["group_id"],
        "tags": _list(row["tags"]),
        "via": {"channel": row["channel"]},
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "due_at": row["due_at"],
        "custom_fields": [],
        "is_public": True,
    }


def user_record(row: sqlite3.Row, base: str) -> Record:
    return {
        "id": row["id"],
        "url": record_url(base, "users", row["id"]),
        "name": row["name"],
        "email": row["email"],
        "phone": row["phone"],
        "external_id": row["external_id"],
        "organization_id": row["organization_id"],
        "role": row["role"],
        "time_zone": row["time_zone"],
        "locale": row["locale"],
        "tags": _list(row["tags"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "active": bool(row["active"]),
        "verified": bool(row["verified"]),
        "shared": False,
        "suspended": False,
    }


def organization_record(row: sqlite3.Row, base: str) -> Record:
    return {
        "id": row["id"],
        "url": record_url(base, "organizations", row["id"]),
        "name": row["name"],
        "external_id": row["external_id"],
        "domain_names": _list(row["domain_names"]),
        "details": row["details"],
        "notes": row["notes"],
        "tags": _list(row["tags"]),
        "group_id": None,
        "shared_tickets": False,
        "shared_comments": False,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def comment_html(body: str) -> str:
    """Zendesk's rendering of a plain-text comment: a paragraph per blank-line-separated block."""
    blocks = [block for block in body.replace("\r\n", "\n").split("\n\n") if block.strip()]
    return "".join(f"<p>{html.escape(block.strip()).replace(chr(10), '<br>')}</p>" for block in blocks)


def comment_record(row: sqlite3.Row, base: str) -> Record:
    # A comment has no URL of its own in Zendesk; ``base`` is accepted so every renderer looks alike.
    return {
        "id": row["id"],
        "type": "Comment",
        "author_id": row["author_id"],
        "body": row["body"],
        "html_body": comment_html(row["body"]),
        "plain_body": row["body"],
        "public": bool(row["public"]),
        "created_at": row["created_at"],
        "attachments": [],
        "via": {"channel": "web"},
    }
