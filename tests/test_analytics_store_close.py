"""Closing the analytic store waits for the reads still running in worker threads: a task stopped at shutdown
leaves its thread running, and a DuckDB database refuses to close under a running statement."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from crmgraph.analytics.store import AnalyticStore


def test_closing_waits_for_a_read_still_running_in_a_thread(tmp_path: Path) -> None:
    store = AnalyticStore(f"duckdb:///{tmp_path / 'analytics.duckdb'}")
    reading = threading.Event()
    answers: list[object] = []

    def read() -> None:
        with store.engine.connect() as conn:
            reading.set()
            # Long enough that close() is called while it runs.
            answers.append(conn.scalar(text("SELECT count(*) FROM range(200000000) WHERE range % 7 = 0")))

    reader = threading.Thread(target=read)
    reader.start()
    assert reading.wait(10)
    store.close()  # raised ResourceInUseException, or broke the read, before it waited
    reader.join(30)
    assert answers == [28571429]
