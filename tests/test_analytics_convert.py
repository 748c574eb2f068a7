"""Amounts in the reporting currency: converted at the configured rate, or kept beside a NULL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crmgraph.analytics.convert import Converter
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.records import Money


def test_an_amount_is_converted_at_the_rate_to_the_cent() -> None:
    converter = Converter(ReportsConfig(currency="EUR", exchange_rates={"USD": Decimal("0.925926")}))
    assert converter.money(Money(Decimal("100.00"), "USD")) == Decimal("92.59")
    assert converter.money(Money(Decimal("12.34"), "eur")) == Decimal("12.34")
    assert converter.money(None) is None


def test_a_currency_without_a_rate_gives_none_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    converter = Converter(ReportsConfig(currency="EUR"))
    assert converter.amount(Decimal("5"), "JPY") is None
    assert converter.amount(Decimal("7"), "jpy") is None
    assert converter.missing == {"JPY"}
    assert sum("no exchange rate for JPY" in record.getMessage() for record in caplog.records) == 1
