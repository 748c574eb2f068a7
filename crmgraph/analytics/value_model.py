"""The customer value model: BG/NBD (will the customer buy again, how often) and Gamma-Gamma (how much),
from the ``lifetimes`` library, over each customer's order days.

Per customer, from ``party_days`` orders in the reporting currency: *frequency* is the number of days with
an order after the first, *recency* the days from the first order day to the last, *age* the days from the
first order day to now, *monetary* the mean total of the repeat days. The models are fitted at a rebuild
(or when asked); a customer whose orders change later is scored again with the fitted parameters, kept in
``store_state`` so that another process scores alike. ``lifetime_revenue`` is what the customer was
invoiced. Too little history to fit (few customers who bought twice) leaves the predictions NULL and says
why, once, in the log and in ``status``.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from crmgraph.analytics.rows import Row
from crmgraph.analytics.settings import ValueConfig
from crmgraph.analytics.tables import store_state
from crmgraph.analytics.writer import delete_keys, insert_rows

log = logging.getLogger(__name__)

MIN_REPEAT_CUSTOMERS = 10  # fewer customers who bought on two days than this: no model worth the name
PENALIZERS = (0.0, 0.001, 0.01, 0.1)  # tried in turn until a fit converges to usable parameters
DAYS_PER_MONTH = 30  # lifetimes' own factor for a daily time unit
STATE_KEY = "value_model"
Prediction = tuple[float | None, float | None, float | None]  # p_alive, expected purchases, lifetime value


@dataclass(frozen=True)
class History:
    """One customer's order days, as the model reads them."""

    customer_id: str
    orders: int
    frequency: int
    recency_days: float
    age_days: float
    monetary: float | None  # mean repeat-day total, reporting currency; None without a repeat day (or rate)


def histories(party_days: Iterable[Row], now: datetime) -> dict[str, History]:
    """Each customer's history from ``party_days`` rows (order rows with a customer; the rest ignored)."""
    orders: defaultdict[str, int] = defaultdict(int)
    by_day: defaultdict[str, defaultdict[date, Decimal | None]] = defaultdict(lambda: defaultdict(lambda: Decimal(0)))
    for row in party_days:
        customer = row.get("customer_id")
        if row.get("entity") != "order" or customer is None:
            continue
        orders[customer] += int(row["count"])
        days = by_day[customer]
        day: date = row["day"]
        total = row.get("total")
        current = days[day]
        days[day] = None if total is None or current is None else current + Decimal(total)
    today = now.date()
    found: dict[str, History] = {}
    for customer, days in by_day.items():
        ordered = sorted(days)
        first, last = ordered[0], ordered[-1]
        repeat = [days[day] for day in ordered[1:]]
        known = [float(total) for total in repeat if total is not None]
        found[customer] = History(
            customer_id=customer,
            orders=orders[customer],
            frequency=len(ordered) - 1,
            recency_days=float((last - first).days),
            age_days=float(max((today - first).days, (last - first).days)),
            monetary=sum(known) / len(known) if known and len(known) == len(repeat) else None,
        )
    return found


def invoiced(party_days: Iterable[Row]) -> dict[str, Decimal]:
    """Each customer's invoiced total in the reporting currency (rows without a rate left out)."""
    totals: defaultdict[str, Decimal] = defaultdict(Decimal)
    for row in party_days:
        if row.get("entity") == "invoice" and row.get("customer_id") is not None and row.get("total") is not None:
            totals[row["customer_id"]] += Decimal(row["total"])
    return dict(totals)


def _lifetimes() -> Any:
    with warnings.catch_warnings():
        # lifetimes 0.11 sets a pandas option pandas 3 deprecates: harmless, and not ours to fix.
        warnings.simplefilter("ignore")
        import lifetimes  # type: ignore[import-untyped]

    return lifetimes


@dataclass
class ValueModel:
    """Fitted BG/NBD and Gamma-Gamma parameters (None where a model could not be fitted) and why."""

    status: str
    beta_geo: dict[str, float] | None = None
    gamma_gamma: dict[str, float] | None = None
    fitted_at: str | None = None
    _fitters: tuple[Any, Any] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def fit(cls, party_days: Iterable[Row], value: ValueConfig, now: datetime) -> ValueModel:
        found = list(histories(party_days, now).values())
        repeat = [h for h in found if h.frequency > 0 and h.monetary is not None and h.monetary > 0]
        if len(repeat) < MIN_REPEAT_CUSTOMERS:
            status = (
                f"not fitted: {len(repeat)} customers ordered on two days or more, {MIN_REPEAT_CUSTOMERS} needed; "
                "predictions left empty"
            )
            log.warning("customer value model %s", status)
            return cls(status, fitted_at=now.isoformat())
        lib = _lifetimes()
        import numpy as np

        frequency, recency, age = (np.asarray(values, dtype=float) for values in _brt(found))
        repeat_frequency = np.asarray([h.frequency for h in repeat], dtype=float)
        repeat_monetary = np.asarray([h.monetary for h in repeat], dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overflow and precision warnings of the optimiser: judged by its result
            beta_geo = _fit_each(
                lambda p: lib.BetaGeoFitter(penalizer_coef=p), lambda m: m.fit(frequency, recency, age), lib
            )
            gamma_gamma = _fit_each(
                lambda p: lib.GammaGammaFitter(penalizer_coef=p),
                lambda m: m.fit(repeat_frequency, repeat_monetary),
                lib,
            )
        if beta_geo is None:
            status = "not fitted: BG/NBD did not converge; predictions left empty"
            log.warning("customer value model %s", status)
            return cls(status, fitted_at=now.isoformat())
        status = f"fitted on {len(found)} customers ({len(repeat)} with repeat orders)"
        if gamma_gamma is None:
            status += "; Gamma-Gamma not fitted: lifetime value left empty"
            log.warning("customer value model: %s", status)
        return cls(
            status,
            beta_geo={k: float(v) for k, v in beta_geo.params_.items()},
            gamma_gamma=None if gamma_gamma is None else {k: float(v) for k, v in gamma_gamma.params_.items()},
            fitted_at=now.isoformat(),
            _fitters=(beta_geo, gamma_gamma),
        )

    def _models(self) -> tuple[Any, Any]:
        if self._fitters is None:
            import pandas as pd  # type: ignore[import-untyped]

            lib = _lifetimes()
            beta_geo = gamma_gamma = None
            if self.beta_geo is not None:
                beta_geo = lib.BetaGeoFitter()
                beta_geo.params_ = pd.Series(self.beta_geo)
                # What fit() would alias: customer_lifetime_value() calls it.
                beta_geo.predict = beta_geo.conditional_expected_number_of_purchases_up_to_time
            if self.gamma_gamma is not None:
                gamma_gamma = lib.GammaGammaFitter()
                gamma_gamma.params_ = pd.Series(self.gamma_gamma)
            self._fitters = (beta_geo, gamma_gamma)
        return self._fitters

    def predict(self, found: Sequence[History], value: ValueConfig) -> list[Prediction]:
        """(probability alive, expected purchases over the horizon, predicted lifetime value) per history."""
        beta_geo, gamma_gamma = self._models()
        if beta_geo is None or not found:
            return [(None, None, None)] * len(found)
        import numpy as np
        import pandas as pd

        frequency, recency, age = (pd.Series(values, dtype=float) for values in _brt(found))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            alive = np.asarray(beta_geo.conditional_probability_alive(frequency, recency, age), dtype=float)
            expected = np.asarray(
                beta_geo.conditional_expected_number_of_purchases_up_to_time(
                    value.horizon_months * DAYS_PER_MONTH, frequency, recency, age
                ),
                dtype=float,
            )
            clv: Any = [None] * len(found)
            if gamma_gamma is not None:
                monetary = pd.Series([h.monetary or 0.0 for h in found], dtype=float)
                clv = np.asarray(
                    gamma_gamma.customer_lifetime_value(
                        beta_geo, frequency, recency, age, monetary, time=value.horizon_months,
                        discount_rate=value.discount_rate_monthly, freq="D",
                    ),
                    dtype=float,
                )  # fmt: skip
        return [(_finite(a), _finite(e), _finite(c)) for a, e, c in zip(alive, expected, clv, strict=True)]

    def save(self, conn: Connection, now: datetime) -> None:
        detail = {
            "status": self.status, "beta_geo": self.beta_geo, "gamma_gamma": self.gamma_gamma,
            "fitted_at": self.fitted_at,
        }  # fmt: skip
        delete_keys(conn, store_state, "name", [STATE_KEY])
        conn.execute(store_state.insert().values(name=STATE_KEY, version=0, detail=json.dumps(detail), updated_at=now))

    @classmethod
    def load(cls, conn: Connection) -> ValueModel | None:
        """The model the last rebuild fitted; None when the store has none."""
        text = conn.scalar(select(store_state.c.detail).where(store_state.c.name == STATE_KEY))
        if not text:
            return None
        data = json.loads(text)
        return cls(data["status"], data.get("beta_geo"), data.get("gamma_gamma"), data.get("fitted_at"))


def _brt(found: Sequence[History]) -> tuple[list[float], list[float], list[float]]:
    """frequency, recency and age as the model takes them: an age of at least one day, never below recency."""
    return (
        [float(h.frequency) for h in found],
        [h.recency_days for h in found],
        [max(h.age_days, h.recency_days, 1.0) for h in found],
    )


def _fit_each(make: Any, fit: Any, lib: Any, usable: Any = None) -> Any:
    """The first model that converges (to usable parameters), trying the penalizers in turn; None if none does."""
    for penalizer in PENALIZERS:
        model = make(penalizer)
        try:
            fit(model)
        except (lib.utils.ConvergenceError, ValueError, FloatingPointError, ZeroDivisionError):
            continue
        params = [float(value) for value in model.params_.values]
        if all(value == value and abs(value) != float("inf") for value in params) and (usable is None or usable(model)):
            return model
    return None


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None


def value_rows(model: ValueModel, party_days: Sequence[Row], value: ValueConfig, now: datetime) -> list[Row]:
    """The ``customer_value`` rows of every customer with orders or invoices in ``party_days``."""
    found = histories(party_days, now)
    revenue = invoiced(party_days)
    ordered = list(found.values())
    predictions = dict(zip((h.customer_id for h in ordered), model.predict(ordered, value), strict=True))
    rows: list[Row] = []
    for customer in sorted(set(found) | set(revenue)):
        history = found.get(customer)
        alive, expected, clv = predictions.get(customer, (None, None, None))
        rows.append({
            "customer_id": customer,
            "orders": history.orders if history else 0,
            "frequency": history.frequency if history else 0,
            "recency_days": history.recency_days if history else 0.0,
            "age_days": history.age_days if history else 0.0,
            "monetary": history.monetary if history else None,
            "lifetime_revenue": revenue.get(customer),
            "p_alive": alive,
            "expected_purchases": expected,
            "predicted_clv": clv,
            "computed_at": now,
        })  # fmt: skip
    return rows


def rescore(conn: Connection, model: ValueModel, customers: Iterable[str], value: ValueConfig, now: datetime) -> int:
    """Score ``customers`` again from their ``party_days`` rows in the store, with the fitted parameters."""
    from crmgraph.analytics.tables import customer_value, party_days

    wanted = sorted(set(customers))
    if not wanted:
        return 0
    rows: list[Row] = []
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = select(party_days).where(party_days.c.customer_id.in_(chunk))
        rows.extend(dict(r._mapping) for r in conn.execute(query))
    scored = value_rows(model, rows, value, now)
    delete_keys(conn, customer_value, "customer_id", wanted)
    insert_rows(conn, customer_value, scored)
    return len(scored)
