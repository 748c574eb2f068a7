"""The customer value model on a small fixed order history: fitted, scored again without a refit, and
left empty (with a reason) when the history is too thin."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from crmgraph.analytics import tables as t
from crmgraph.analytics.settings import ValueConfig
from crmgraph.analytics.store import AnalyticStore
from crmgraph.analytics.value_model import ValueModel, histories, rescore, value_rows
from crmgraph.analytics.writer import insert_rows

NOW = datetime(2026, 6, 30, tzinfo=UTC)
VALUE = ValueConfig()


def _history(customers: int = 60, seed: int = 7) -> list[dict[str, object]]:
    """Order days per customer: a few buy often, most now and then, some once; an invoice per order day."""
    dice = random.Random(seed)
    rows: list[dict[str, object]] = []
    for number in range(1, customers + 1):
        first = date(2024, 1, 1) + timedelta(days=dice.randrange(0, 300))
        days = {first} | {first + timedelta(days=dice.randrange(1, 500)) for _ in range(dice.choice([0, 1, 2, 4, 8]))}
        for day in sorted(d for d in days if d <= NOW.date()):
            total = Decimal(dice.randrange(500, 5000))
            for entity in ("order", "invoice"):
                rows.append({"source": "erp", "entity": entity, "party_id": f"P{number}", "day": day,
                             "currency": "EUR", "customer_id": str(number), "count": 1, "total": total,
                             "total_original": total})  # fmt: skip
    return rows


def test_a_customers_history_is_counted_in_repeat_days() -> None:
    rows = [
        {"entity": "order", "customer_id": "1", "day": date(2026, 1, 1), "count": 2, "total": Decimal("100")},
        {"entity": "order", "customer_id": "1", "day": date(2026, 1, 11), "count": 1, "total": Decimal("40")},
        {"entity": "order", "customer_id": "1", "day": date(2026, 1, 21), "count": 1, "total": Decimal("60")},
        {"entity": "invoice", "customer_id": "1", "day": date(2026, 1, 21), "count": 1, "total": Decimal("999")},
    ]
    found = histories(rows, NOW)["1"]
    assert (found.orders, found.frequency, found.recency_days, found.monetary) == (4, 2, 20.0, 50.0)
    assert found.age_days == (NOW.date() - date(2026, 1, 1)).days


def test_the_model_predicts_lifetime_value_from_the_history() -> None:
    rows = _history()
    model = ValueModel.fit(rows, VALUE, NOW)
    assert model.beta_geo is not None and model.gamma_gamma is not None, model.status
    scored = {row["customer_id"]: row for row in value_rows(model, rows, VALUE, NOW)}
    assert len(scored) == 60
    for row in scored.values():
        assert 0 <= row["p_alive"] <= 1
        assert row["expected_purchases"] >= 0
        assert row["predicted_clv"] is not None and row["predicted_clv"] >= 0
        assert row["lifetime_revenue"] > 0
    # Someone who bought often and lately is worth more than someone who bought once, long ago.
    frequent = max(scored.values(), key=lambda row: (row["frequency"], row["recency_days"]))
    once = min(scored.values(), key=lambda row: (row["frequency"], -row["age_days"]))
    assert frequent["predicted_clv"] > once["predicted_clv"]


def test_too_little_history_leaves_predictions_empty_with_a_reason(caplog: pytest.LogCaptureFixture) -> None:
    rows = [r for r in _history(customers=5)]
    model = ValueModel.fit(rows, VALUE, NOW)
    assert model.beta_geo is None and "not fitted" in model.status
    assert "not fitted" in caplog.text
    scored = value_rows(model, rows, VALUE, NOW)
    assert scored and all(row["predicted_clv"] is None and row["p_alive"] is None for row in scored)
    assert all(row["lifetime_revenue"] is not None for row in scored)


def test_a_customer_is_scored_again_with_the_saved_parameters() -> None:
    rows = _history()
    store = AnalyticStore("duckdb:///:memory:")
    try:
        model = ValueModel.fit(rows, VALUE, NOW)
        with store.writing() as conn:
            insert_rows(conn, t.party_days, rows)
            insert_rows(conn, t.customer_value, value_rows(model, rows, VALUE, NOW))
            model.save(conn, NOW)
        later = NOW + timedelta(days=1)
        new_day = {**rows[0], "day": later.date(), "total": Decimal("2500"), "total_original": Decimal("2500")}
        with store.writing() as conn:
            insert_rows(conn, t.party_days, [new_day])
            loaded = ValueModel.load(conn)
            assert loaded is not None and loaded.beta_geo == model.beta_geo
            assert rescore(conn, loaded, [str(new_day["customer_id"])], VALUE, later) == 1
        with store.engine.connect() as conn:
            from sqlalchemy import select

            row = conn.execute(
                select(t.customer_value).where(t.customer_value.c.customer_id == new_day["customer_id"])
            ).one()
        before = histories(rows, NOW)[str(new_day["customer_id"])]
        assert row.frequency == before.frequency + 1 and row.predicted_clv is not None
    finally:
        store.close()
