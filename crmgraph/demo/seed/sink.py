"""Where generated rows go: batched inserts into each system's store, and the ground-truth CSV.

Rows are buffered per table and written in chunks, so memory stays flat however large the estate.
"""

from __future__ import annotations

import csv
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import Engine, Table

from crmgraph.demo.seed.noise import Noise

if TYPE_CHECKING:
    from crmgraph.demo.seed.ticket_texts import TicketText

CHUNK = 5000

CRM_INSERTS = {
    "objects": "INSERT INTO objects (object_type, id, properties, created_at, updated_at) VALUES (?,?,?,?,?)",
    "associations": "INSERT OR IGNORE INTO associations VALUES (?,?,?,?,?)",
    "owners": "INSERT INTO owners VALUES (?,?,?,?,?,?)",
}
TICKET_INSERTS = {
    "organizations": "INSERT INTO organizations VALUES (?,?,?,?,?,?,?,?,?)",
    "users": "INSERT INTO users VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "tickets": "INSERT INTO tickets VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "comments": "INSERT INTO comments VALUES (?,?,?,?,?,?)",
}
MARKETING_INSERTS = {
    "users": "INSERT INTO users VALUES (?,?,?,?,?)",
    "stages": "INSERT INTO stages VALUES (?,?,?)",
    "categories": "INSERT INTO categories VALUES (?,?,?)",
    "companies": "INSERT INTO companies VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "contacts": "INSERT INTO contacts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "contact_companies": "INSERT INTO contact_companies VALUES (?,?,?,?)",
    "campaigns": "INSERT INTO campaigns VALUES (?,?,?,?,?,?,?,?,?,?,?)",
    "campaign_leads": "INSERT INTO campaign_leads VALUES (?,?,?,?,?)",
    "segments": "INSERT INTO segments VALUES (?,?,?,?,?,?,?)",
    "segment_leads": "INSERT INTO segment_leads VALUES (?,?,?,?)",
    "emails": "INSERT INTO emails VALUES (?,?,?,?,?)",
    "events": "INSERT INTO events VALUES (?,?,?,?,?,?,?)",
}
TRUTH_COLUMNS = ("party", "person", "system", "object", "source_id", "xref", "noise")
LABEL_COLUMNS = ("ticket", "severity", "category", "tags", "language")


class SqliteSink:
    def __init__(self, conn: sqlite3.Connection, statements: dict[str, str]) -> None:
        self.conn = conn
        self.statements = statements
        self.buffers: defaultdict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.rows: Counter[str] = Counter()
        # A freshly generated file: losing it in a crash costs nothing, so skip the journal.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        buffer = self.buffers[table]
        buffer.append(row)
        self.rows[table] += 1
        if len(buffer) >= CHUNK:
            self._flush(table)

    def _flush(self, table: str) -> None:
        self.conn.executemany(self.statements[table], self.buffers[table])
        self.buffers[table].clear()

    def close(self) -> None:
        for table in list(self.buffers):
            self._flush(table)
        self.conn.commit()


class SqlSink:
    """ERP rows through SQLAlchemy Core, so the same code loads SQLite, PostgreSQL and MariaDB."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.buffers: defaultdict[Table, list[dict[str, Any]]] = defaultdict(list)
        self.rows: Counter[str] = Counter()

    def add(self, table: Table, row: dict[str, Any]) -> None:
        buffer = self.buffers[table]
        buffer.append(row)
        self.rows[table.name] += 1
        if len(buffer) >= CHUNK:
            self._flush(table)

    def _flush(self, table: Table) -> None:
        rows = self.buffers[table]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(table.insert(), rows)
            rows.clear()

    def close(self) -> None:
        # Parents before children, in case the target enforces order-sensitive constraints.
        for table in sorted(self.buffers, key=lambda t: t.name != "KNA1"):
            self._flush(table)


class TruthSink:
    """The ground truth: one CSV row per source record, naming the party (and person) it belongs to."""

    def __init__(self, handle: TextIO | None) -> None:
        self.writer = csv.writer(handle) if handle is not None else None
        if self.writer is not None:
            self.writer.writerow(TRUTH_COLUMNS)
        self.noise: Counter[tuple[str, str, str]] = Counter()
        self.records: Counter[tuple[str, str]] = Counter()

    def add(
        self,
        party: str,
        person: str,
        system: str,
        obj: str,
        source_id: object,
        noise: list[Noise],
        xref: str = "",
    ) -> None:
        self.records[(system, obj)] += 1
        for kind in noise:
            self.noise[(system, obj, kind.value)] += 1
        if xref:
            self.noise[(system, obj, "explicit_xref")] += 1
        if self.writer is not None:
            self.writer.writerow((party, person, system, obj, source_id, xref, ";".join(noise)))


class LabelSink:
    """The tickets' labels: one CSV row per seeded ticket, saying what the request truly is."""

    def __init__(self, handle: TextIO | None) -> None:
        self.writer = csv.writer(handle) if handle is not None else None
        if self.writer is not None:
            self.writer.writerow(LABEL_COLUMNS)
        self.counts: Counter[tuple[str, str]] = Counter()  # (label kind, value) -> tickets

    def add(self, ticket_id: int, text: TicketText) -> None:
        self.counts.update(
            [("severity", text.severity), ("category", text.category), ("language", text.language)]
            + [("tags", tag) for tag in text.tags]
        )
        if self.writer is not None:
            self.writer.writerow((ticket_id, text.severity, text.category, ";".join(text.tags), text.language))


def open_truth(path: Path) -> TextIO:
    return path.open("w", newline="", encoding="utf-8")
