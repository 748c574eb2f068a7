"""Daily totals pushed down to the database: one ``GROUP BY`` over an entity's documents.

:meth:`SqlAdapter.aggregate_daily <crmgraph.adapters.sdk.base.Adapter.aggregate_daily>` for ``order`` and
``invoice``, built from the mapping (the demo ERP's names shown)::

    SELECT KUNNR, ERDAT, WAERK, count(*), sum(NETWR) FROM VBAK
    WHERE <the mapping's where> AND coalesce(ABSTK, '') <> 'C'      -- status.cancelled_when: not cancelled
      AND ERDAT IS NOT NULL AND ERDAT NOT IN ('', '00000000')         -- a date it can read
      [AND KUNNR IN (...)]                                            -- some parties, 500 a statement
    GROUP BY KUNNR, ERDAT, WAERK

What is totalled, per entity:

========= =============================== ==================== ==========================================
entity    day                             total                documents left out
========= =============================== ==================== ==========================================
order     the date of ``placed_at``       ``total``            cancelled (``status.cancelled_when``), and
                                                               rows outside the mapping's ``where``
invoice   the date of ``issued_at``       ``net`` (before tax, rows outside the mapping's ``where`` (the
                                          as lifetime revenue) demo's: ``FKSTO`` marks a cancelled bill)
========= =============================== ==================== ==========================================

The day is the date as the system writes it (its date column, in the mapping's ``timezone``); a timestamp
column is cut to its date by the database. Sums are exact: SQLite, which sums ``NUMERIC`` as floating point,
sums whole cents instead (each amount rounded to the cent, as a record reads it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, ColumnElement, Date, DateTime, Integer, Table, cast, func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql import Select

from crmgraph.adapters.sql.mapping import EntityMapping, InvoiceMapping, OrderMapping, SqlMapping
from crmgraph.adapters.sql.rows import CENT
from crmgraph.errors import UpstreamBadResponse
from crmgraph.records import Money, PartyDayTotal

# The entity's moment (its day) and amount fields.
TOTALLED = {"order": ("placed_at", "total"), "invoice": ("issued_at", "net")}
PARTY, DAY, CURRENCY, COUNT, TOTAL = (
    "crmgraph_party",
    "crmgraph_day",
    "crmgraph_currency",
    "crmgraph_count",
    "crmgraph_total",
)


def totalled(spec: EntityMapping) -> bool:
    return isinstance(spec, OrderMapping | InvoiceMapping)


def _day(column: Column[Any], dialect: str, reflected: Any) -> ColumnElement[Any]:
    """The date of the day column: as stored when it is a date or text, cut to its date when a timestamp."""
    if isinstance(reflected, DateTime):
        return func.date(column) if dialect == "sqlite" else cast(column, Date)
    return column


def _sum(column: Column[Any], dialect: str) -> ColumnElement[Any]:
    if dialect == "sqlite":  # exact: whole cents are integers; NUMERIC sums would be floats
        return func.sum(cast(func.round(column * 100), Integer))
    return func.sum(column)


def daily_totals_query(
    spec: EntityMapping,
    table: Table,
    kept: list[ColumnElement[bool]],
    mapping: SqlMapping,
    dialect: str,
    reflected: dict[str, Any],
    parties: Sequence[object] | None,
) -> Select[Any]:
    """The ``GROUP BY`` of ``spec``'s documents by party, day and currency (of ``parties`` if given)."""
    assert isinstance(spec, OrderMapping | InvoiceMapping)
    moment_field, amount_field = TOTALLED["order" if isinstance(spec, OrderMapping) else "invoice"]
    day_column = table.c[getattr(spec.fields, moment_field)[0]]
    party, currency = table.c[spec.party], table.c[spec.fields.currency]
    day = _day(day_column, dialect, reflected.get(day_column.name))
    conditions = [*kept, day_column.is_not(None)]
    if not isinstance(reflected.get(day_column.name), Date | DateTime):
        conditions.append(day_column.not_in(["", *mapping.null_dates]))
    if isinstance(spec, OrderMapping):
        conditions += [func.coalesce(table.c[name], "") != value for name, value in spec.status.cancelled_when.items()]
    if parties is not None:
        conditions.append(party.in_(parties))
    return (
        select(
            party.label(PARTY),
            day.label(DAY),
            currency.label(CURRENCY),
            func.count().label(COUNT),
            _sum(table.c[getattr(spec.fields, amount_field)], dialect).label(TOTAL),
        )
        .where(*conditions)
        .group_by(party, day, currency)
    )


def read_totals(source: str, rows: Iterable[RowMapping], mapping: SqlMapping, dialect: str) -> list[PartyDayTotal]:
    """The statement's rows as totals; a row that cannot be read fails the call (a total must not be wrong)."""
    totals: dict[tuple[str, date, str], tuple[int, Decimal]] = {}
    for row in rows:
        party, currency = _text(row[PARTY]), _text(row[CURRENCY])
        day = _read_day(source, row[DAY], mapping)
        amount = _amount(source, row[TOTAL], dialect)
        if not party or not currency:
            raise UpstreamBadResponse(source, f"a daily total without a party or currency: {dict(row)!r}")
        # Two stored spellings of one party or currency (CHAR padding) add up rather than repeat.
        key = (party, day, currency)
        count, total = totals.get(key, (0, Decimal(0)))
        totals[key] = (count + int(row[COUNT]), total + amount)
    return [
        PartyDayTotal(source, party, day, count, Money(total.quantize(CENT), currency))
        for (party, day, currency), (count, total) in sorted(totals.items())
    ]


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _read_day(source: str, value: object, mapping: SqlMapping) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for layout in (mapping.date_format, "%Y-%m-%d"):  # the stored text, or the ISO date a database gives
        try:
            return datetime.strptime(text, layout).date()
        except ValueError:
            continue
    raise UpstreamBadResponse(source, f"a daily total's day {value!r} is not a date ({mapping.date_format})")


def _amount(source: str, value: object, dialect: str) -> Decimal:
    if value is None or isinstance(value, bool):
        raise UpstreamBadResponse(source, f"a daily total's sum is {value!r}")
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    return amount / 100 if dialect == "sqlite" else amount
