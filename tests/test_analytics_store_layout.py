"""The analytic store re-creates its tables when another version's layout left them (they hold only what a
rebuild reads again), and keeps them when the layout is its own."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, text

from crmgraph.analytics import tables as t
from crmgraph.analytics.store import LAYOUT, AnalyticStore


def _customers(store: AnalyticStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(t.customers)) or 0)


def test_a_store_of_this_layout_keeps_its_rows(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'analytics.duckdb'}"
    store = AnalyticStore(url)
    with store.writing() as conn:
        conn.execute(t.customers.insert().values(customer_id="1", name="Acme"))
    store.close()
    again = AnalyticStore(url)
    assert _customers(again) == 1
    again.close()


def test_tables_an_older_version_left_are_re_created_with_this_layouts_columns(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'analytics.duckdb'}"
    store = AnalyticStore(url)
    with store.engine.begin() as conn:  # what the first release of the store left: no category, no marker
        conn.execute(text("DROP TABLE tickets"))
        conn.execute(text("CREATE TABLE tickets (ticket_key VARCHAR PRIMARY KEY, kind VARCHAR)"))
        conn.execute(text("DROP TABLE store_layout"))
        conn.execute(t.customers.insert().values(customer_id="1", name="Acme"))
    store.close()
    again = AnalyticStore(url)
    with again.engine.connect() as conn:
        columns = set(conn.execute(text("SELECT * FROM tickets LIMIT 0")).keys())
        layout = conn.scalar(text("SELECT layout FROM store_layout"))
    assert "category" in columns and layout == LAYOUT
    assert _customers(again) == 0, "re-created empty: a rebuild fills it"
    again.close()
