"""Opening a simulated system's SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: Path, schema: str, *, readonly: bool) -> sqlite3.Connection:
    """Read-only for the API servers (they never write); read-write with the schema for the seeder."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.executescript(schema)
    conn.row_factory = sqlite3.Row
    return conn
