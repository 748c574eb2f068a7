"""Labelled tickets: a labels file joined to the tickets' subjects and texts, and the held-out split.

The labels file is CSV with a header: ``ticket`` (the ticket system's id), ``severity``, ``category``,
``tags`` (``;``-separated) and optionally ``language``; the demo seed writes one (``tickets_labels.csv``).
"""

from __future__ import annotations

import csv
import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from crmgraph.workflows.triage.errors import TriageFileError

LABEL_COLUMNS = ("ticket", "severity", "category", "tags")
HELD_OUT_PERCENT = 20


@dataclass(frozen=True)
class Label:
    severity: str
    category: str
    tags: tuple[str, ...]
    language: str = ""


@dataclass(frozen=True)
class LabelledTicket:
    ticket_id: str
    subject: str
    text: str
    label: Label


def read_labels(path: Path) -> dict[str, Label]:
    """Ticket id -> label; a missing file, a missing column or an empty label is refused with its line."""
    if not path.is_file():
        raise TriageFileError(path, "no such labels file (the demo seed writes tickets_labels.csv)")
    labels: dict[str, Label] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in LABEL_COLUMNS if column not in (reader.fieldnames or ())]
        if missing:
            raise TriageFileError(path, f"not a labels file: no column {', '.join(missing)} (wants {LABEL_COLUMNS})")
        for line, row in enumerate(reader, start=2):
            if not row["ticket"] or not row["severity"] or not row["category"]:
                raise TriageFileError(path, f"line {line}: ticket, severity and category must not be empty")
            tags = tuple(tag for tag in (row["tags"] or "").split(";") if tag)
            labels[row["ticket"]] = Label(row["severity"], row["category"], tags, row.get("language") or "")
    if not labels:
        raise TriageFileError(path, "the labels file holds no ticket")
    return labels


def read_ticket_texts(path: Path) -> dict[str, tuple[str, str]]:
    """Ticket id -> (subject, description) from a ticket system's SQLite store (the demo estate's)."""
    if not path.is_file():
        raise TriageFileError(path, "no such ticket database")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT id, subject, description FROM tickets").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise TriageFileError(path, f"not a ticket database ({exc})") from exc
    return {str(ticket_id): (subject or "", description or "") for ticket_id, subject, description in rows}


def join(labels: dict[str, Label], texts: dict[str, tuple[str, str]], labels_path: Path) -> list[LabelledTicket]:
    """The labelled tickets whose text is known, in ticket id order; labels that mostly name tickets that are
    not there are the wrong file (another estate, another seed) and are refused."""
    found = [
        LabelledTicket(ticket_id, *texts[ticket_id], label) for ticket_id, label in labels.items() if ticket_id in texts
    ]
    if len(found) < len(labels) / 2:
        raise TriageFileError(
            labels_path,
            f"the labels do not match the tickets: {len(found)} of {len(labels)} labelled tickets exist "
            "(labels of another estate or seed?)",
        )
    return sorted(found, key=lambda t: (len(t.ticket_id), t.ticket_id))


def is_held_out(ticket_id: str, percent: int = HELD_OUT_PERCENT) -> bool:
    """A stable split by a hash of the id: the same ticket is held out in every run, on every machine."""
    digest = hashlib.blake2b(f"triage:{ticket_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest) % 100 < percent


def split(tickets: Iterable[LabelledTicket]) -> tuple[list[LabelledTicket], list[LabelledTicket]]:
    """(training, held out)."""
    training: list[LabelledTicket] = []
    held_out: list[LabelledTicket] = []
    for ticket in tickets:
        (held_out if is_held_out(ticket.ticket_id) else training).append(ticket)
    return training, held_out


def pairs(tickets: Sequence[LabelledTicket]) -> list[tuple[str, str]]:
    return [(t.subject, t.text) for t in tickets]
