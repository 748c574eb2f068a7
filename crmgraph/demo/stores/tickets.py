"""The ticket system simulator's own database: Zendesk-style organizations, users, tickets, comments.

Lists (``domain_names``, ``tags``) are JSON arrays; timestamps are ISO 8601 UTC without fractions, as
Zendesk writes them (``2024-03-05T10:15:00Z``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from crmgraph.demo.stores.sqlite import connect as open_store

SCHEMA = """
CREATE TABLE IF NOT EXISTS organizations (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    external_id  TEXT,
    domain_names TEXT    NOT NULL DEFAULT '[]',
    details      TEXT,
    notes        TEXT,
    tags         TEXT    NOT NULL DEFAULT '[]',
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL,
    email           TEXT,
    phone           TEXT,
    external_id     TEXT,
    organization_id INTEGER,
    role            TEXT    NOT NULL,  -- end-user | agent | admin
    time_zone       TEXT    NOT NULL,
    locale          TEXT    NOT NULL,
    tags            TEXT    NOT NULL DEFAULT '[]',
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1,
    verified        INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS tickets (
    id              INTEGER PRIMARY KEY,
    external_id     TEXT,
    type            TEXT,              -- problem | incident | question | task
    subject         TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    priority        TEXT,              -- urgent | high | normal | low
    status          TEXT    NOT NULL,  -- new | open | pending | hold | solved | closed
    requester_id    INTEGER NOT NULL,
    submitter_id    INTEGER NOT NULL,
    assignee_id     INTEGER,
    organization_id INTEGER,
    group_id        INTEGER,
    tags            TEXT    NOT NULL DEFAULT '[]',
    channel         TEXT    NOT NULL,  -- via.channel: email | web | api | voice | chat
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    due_at          TEXT
);
CREATE TABLE IF NOT EXISTS comments (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL,
    author_id  INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    public     INTEGER NOT NULL DEFAULT 1,
    created_at TEXT    NOT NULL
);
"""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the ticket database; read-only connections are what the API server uses."""
    return open_store(path, SCHEMA, readonly=readonly)


def create_indexes(conn: sqlite3.Connection) -> None:
    """Indexes are built after the bulk load: inserting into an indexed table is several times slower."""
    conn.executescript(
        "CREATE INDEX IF NOT EXISTS tickets_org ON tickets (organization_id, id);"
        "CREATE INDEX IF NOT EXISTS tickets_requester ON tickets (requester_id, id);"
        "CREATE INDEX IF NOT EXISTS tickets_updated ON tickets (updated_at, id);"
        "CREATE INDEX IF NOT EXISTS comments_ticket ON comments (ticket_id, created_at, id);"
        "CREATE INDEX IF NOT EXISTS users_email ON users (email COLLATE NOCASE);"
        "CREATE INDEX IF NOT EXISTS users_external ON users (external_id);"
        "CREATE INDEX IF NOT EXISTS users_org ON users (organization_id);"
    )
