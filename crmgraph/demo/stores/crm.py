"""The CRM simulator's own database: HubSpot-style objects with string properties, and associations.

Every object type (companies, contacts, deals, calls, emails, meetings, notes) lives in one table, as in
HubSpot, where all properties are strings. ``properties`` is a JSON object; ``hs_object_id``,
``createdate`` and the last-modified property are derived from the columns when the API answers.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from crmgraph.demo.stores.sqlite import connect as open_store

OBJECT_TYPES = ("companies", "contacts", "deals", "calls", "emails", "meetings", "notes")
ENGAGEMENT_TYPES = ("calls", "emails", "meetings", "notes")

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    object_type TEXT    NOT NULL,
    id          INTEGER NOT NULL,
    properties  TEXT    NOT NULL,  -- JSON object, every value a string (or absent)
    created_at  TEXT    NOT NULL,  -- ISO 8601 UTC with milliseconds, e.g. 2024-03-05T10:15:00.000Z
    updated_at  TEXT    NOT NULL,
    archived    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (object_type, id)
);
-- One row per direction: HubSpot reports a different association type id each way.
CREATE TABLE IF NOT EXISTS associations (
    from_type TEXT    NOT NULL,
    from_id   INTEGER NOT NULL,
    to_type   TEXT    NOT NULL,
    to_id     INTEGER NOT NULL,
    type_id   INTEGER NOT NULL,
    PRIMARY KEY (from_type, from_id, to_type, to_id, type_id)
);
CREATE TABLE IF NOT EXISTS owners (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

# HubSpot-defined association type ids (from -> to), as the v4 associations API reports them.
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("contacts", "deals"): 4,
    ("deals", "contacts"): 3,
    ("calls", "companies"): 182,
    ("companies", "calls"): 181,
    ("emails", "companies"): 186,
    ("companies", "emails"): 185,
    ("meetings", "companies"): 188,
    ("companies", "meetings"): 187,
    ("notes", "companies"): 190,
    ("companies", "notes"): 189,
    ("calls", "contacts"): 194,
    ("contacts", "calls"): 193,
    ("emails", "contacts"): 198,
    ("contacts", "emails"): 197,
    ("meetings", "contacts"): 200,
    ("contacts", "meetings"): 199,
    ("notes", "contacts"): 202,
    ("contacts", "notes"): 201,
}


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the CRM database; read-only connections are what the API server uses."""
    return open_store(path, SCHEMA, readonly=readonly)


def create_indexes(conn: sqlite3.Connection) -> None:
    """Indexes are built after the bulk load: inserting into an indexed table is several times slower."""
    conn.executescript(
        "CREATE INDEX IF NOT EXISTS associations_to ON associations (to_type, to_id);"
        "CREATE INDEX IF NOT EXISTS objects_updated ON objects (object_type, updated_at);"
    )
