"""SQL pieces both dialects of the analytic store (DuckDB, PostgreSQL) run alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Double, cast, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

CENT = Decimal("0.01")


class epoch_seconds(FunctionElement[float]):
    """Seconds since 1970 of a timestamp, as a double. ``EXTRACT(epoch FROM ...)`` is a ``numeric`` on
    PostgreSQL 14 and later, and sorting or dividing numerics is many times slower than doubles (the
    service report's percentiles took seconds on 150,000 tickets): each dialect's double-valued form."""

    type = Double()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(epoch_seconds)
def _epoch_default(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(EXTRACT(epoch FROM {compiler.process(element.clauses, **kw)}) AS DOUBLE PRECISION)"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date_part('epoch', {compiler.process(element.clauses, **kw)})"


@compiles(epoch_seconds, "duckdb")
def _epoch_duckdb(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"epoch({compiler.process(element.clauses, **kw)})"


def hours_between(start: Any, end: Any) -> ColumnElement[Any]:
    """Hours from ``start`` to ``end`` (timestamps with a zone): NULL when either is NULL."""
    return (epoch_seconds(end) - epoch_seconds(start)) / 3600.0


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
