"""Amounts in the reporting currency (``reports.currency``) at the configured fixed rates.

An amount whose currency has no rate keeps its original beside a NULL converted amount, so a report
shows the gap instead of a wrong sum; the missing rate is logged once per currency, not once per row.
"""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_EVEN, Decimal

from crmgraph.analytics.settings import ReportsConfig
from crmgraph.records import Money

log = logging.getLogger(__name__)
CENT = Decimal("0.01")


class Converter:
    def __init__(self, reports: ReportsConfig) -> None:
        self.reports = reports
        self.missing: set[str] = set()  # currencies met without a rate (each logged once)

    def amount(self, amount: Decimal, currency: str) -> Decimal | None:
        """``amount`` of ``currency`` in the reporting currency, to the cent; None when no rate is configured."""
        rate = self.reports.rate(currency)
        if rate is None:
            if currency.upper() not in self.missing:
                self.missing.add(currency.upper())
                log.warning(
                    "reports: no exchange rate for %s (reports.exchange_rates); its amounts are kept in %s and "
                    "left out of %s figures",
                    currency.upper(), currency.upper(), self.reports.currency,
                )  # fmt: skip
            return None
        return (amount * rate).quantize(CENT, rounding=ROUND_HALF_EVEN)

    def money(self, money: Money | None) -> Decimal | None:
        return None if money is None else self.amount(money.amount, money.currency)
