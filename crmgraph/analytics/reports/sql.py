"""SQL pieces both dialects of the analytic store (DuckDB, PostgreSQL) run alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Double, cast, extract, func

CENT = Decimal("0.01")


def hours_between(start: Any, end: Any) -> ColumnElement[Any]:
    """Hours from ``start`` to ``end`` (timestamps with a zone): NULL when either is NULL."""
    return (extract("epoch", end) - extract("epoch", start)) / 3600.0


def percentile(fraction: float, value: Any) -> ColumnElement[float]:
    """The continuous percentile (interpolated, as numpy's default): an ordered-set aggregate in both dialects."""
    return cast(func.percentile_cont(fraction).within_group(value), Double)


def money(value: Any) -> Decimal:
    """An amount from the store (Decimal, float or NULL) as Decimal cents; NULL counts as zero."""
    if value is None:
        return Decimal(0).quantize(CENT)
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(CENT)


def optional_money(value: Any) -> Decimal | None:
    return None if value is None else money(value)


def share(part: int | float | Decimal, whole: int | float | Decimal) -> float | None:
    """``part / whole``; None when the whole is zero (no share to speak of)."""
    return None if not whole else float(part) / float(whole)
