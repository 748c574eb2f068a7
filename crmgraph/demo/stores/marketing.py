"""The marketing automation simulator's own database: Mautic-style contacts (leads), companies, campaigns,
segments and the contacts' activity timeline.

Timestamps are ISO 8601 UTC with an offset, as Mautic's API writes them (``2024-03-05T10:15:00+00:00``), so
that they sort as text. ``tags`` is a JSON array of strings; an event's ``details`` a JSON object.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from crmgraph.demo.stores.sqlite import connect as open_store

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (       -- Mautic users: who owns contacts (the CRM's owners, by e-mail)
    id         INTEGER PRIMARY KEY,
    username   TEXT NOT NULL,
    email      TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stages (
    id     INTEGER PRIMARY KEY,
    name   TEXT    NOT NULL,
    weight INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS categories (  -- campaign categories: the demo uses them as the channel
    id    INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    alias TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS companies (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    website       TEXT,
    email         TEXT,
    phone         TEXT,
    address1      TEXT,
    city          TEXT,
    zipcode       TEXT,
    country       TEXT,              -- the country's English name, as Mautic stores it
    industry      TEXT,
    owner_id      INTEGER,
    date_added    TEXT    NOT NULL,
    date_modified TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS contacts (
    id              INTEGER PRIMARY KEY,
    firstname       TEXT,
    lastname        TEXT,
    email           TEXT,
    phone           TEXT,
    mobile          TEXT,
    company         TEXT,            -- the company name as the lead typed it (free text)
    position        TEXT,
    city            TEXT,
    country         TEXT,
    owner_id        INTEGER,
    stage_id        INTEGER,
    points          INTEGER NOT NULL DEFAULT 0,
    tags            TEXT    NOT NULL DEFAULT '[]',
    ip_address      TEXT,
    last_active     TEXT,
    date_identified TEXT,
    date_added      TEXT    NOT NULL,
    date_modified   TEXT    NOT NULL,
    is_published    INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS contact_companies (
    contact_id INTEGER NOT NULL,
    company_id INTEGER NOT NULL,
    date_added TEXT    NOT NULL,
    is_primary INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (contact_id, company_id)
);
CREATE TABLE IF NOT EXISTS campaigns (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL,
    description     TEXT,
    category_id     INTEGER NOT NULL,
    is_published    INTEGER NOT NULL,
    publish_up      TEXT,
    publish_down    TEXT,
    budget_amount   TEXT    NOT NULL,  -- the demo's extension: Mautic keeps no cost
    budget_currency TEXT    NOT NULL,
    date_added      TEXT    NOT NULL,
    date_modified   TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS campaign_leads (
    campaign_id      INTEGER NOT NULL,
    lead_id          INTEGER NOT NULL,
    date_added       TEXT    NOT NULL,
    manually_removed INTEGER NOT NULL DEFAULT 0,
    manually_added   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, lead_id)
);
CREATE TABLE IF NOT EXISTS segments (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    alias         TEXT    NOT NULL,
    description   TEXT,
    is_global     INTEGER NOT NULL DEFAULT 1,
    date_added    TEXT    NOT NULL,
    date_modified TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS segment_leads (
    segment_id     INTEGER NOT NULL,
    lead_id        INTEGER NOT NULL,
    date_added     TEXT    NOT NULL,
    manually_added INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (segment_id, lead_id)
);
CREATE TABLE IF NOT EXISTS emails (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    campaign_id INTEGER NOT NULL,
    date_added  TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS events (      -- the contacts' timeline
    id          INTEGER PRIMARY KEY,
    contact_id  INTEGER NOT NULL,
    event       TEXT    NOT NULL,    -- email.sent | email.read | page.hit | form.submitted | ...
    timestamp   TEXT    NOT NULL,
    campaign_id INTEGER,
    label       TEXT    NOT NULL,
    details     TEXT    NOT NULL DEFAULT '{}'
);
"""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the marketing database; read-only connections are for readers that never write."""
    return open_store(path, SCHEMA, readonly=readonly)


def create_indexes(conn: sqlite3.Connection) -> None:
    """Indexes are built after the bulk load: inserting into an indexed table is several times slower."""
    conn.executescript(
        "CREATE INDEX IF NOT EXISTS contacts_modified ON contacts (date_modified, id);"
        "CREATE INDEX IF NOT EXISTS contacts_email ON contacts (email COLLATE NOCASE);"
        "CREATE INDEX IF NOT EXISTS contact_companies_company ON contact_companies (company_id);"
        "CREATE INDEX IF NOT EXISTS campaign_leads_lead ON campaign_leads (lead_id);"
        "CREATE INDEX IF NOT EXISTS segment_leads_lead ON segment_leads (lead_id);"
        "CREATE INDEX IF NOT EXISTS events_contact ON events (contact_id, timestamp);"
        "CREATE INDEX IF NOT EXISTS events_time ON events (timestamp, id);"
    )
