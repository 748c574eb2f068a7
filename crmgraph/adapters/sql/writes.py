"""Sales orders placed in a SQL ERP: a header and its lines in one transaction, through the mapping.

Canonical values (what ``salesOrderCreate`` passes): ``lines`` (each ``{sku, quantity, unit_price,
currency?}``), ``currency``, ``customer_reference``, ``requested_delivery`` (a date); ``links["party"]`` is
the debtor. Refused as asked (:class:`WriteRefused`, nothing written): a debtor the ERP does not have
(``NOT_FOUND`` at ``party``), a material it has never sold (``NOT_FOUND`` at ``lines.N.sku``), a quantity
of zero or less, a price below zero, a currency that is not three capital letters, lines in two currencies
(``INVALID`` at the line's field).

One transaction per order, as the ERP's own writers do (docs/demo-estate.md). The statements::

    SELECT header WHERE key column = key         an earlier attempt with the key placed it: answer that
    SELECT party (and its currency)              the debtor exists, and its currency is the default
    SELECT (SELECT description, unit ...)        per material, from its latest line: the ERP has no
                                                 material master in the mapping; one statement for all
    SELECT MAX(number)                           the next number is max + 1 ...
    INSERT header; INSERT lines                  ... and the primary key decides who got it
    SELECT header                                the order as the database now holds it (stamped)
    COMMIT

Numbers: ``max + 1`` read inside the transaction. On SQLite the transaction is ``BEGIN IMMEDIATE``: it holds
the database's one write lock from its first read, so two writers cannot read the same maximum. PostgreSQL
and MariaDB let two transactions read the same maximum; the second ``INSERT`` then waits for the first to
commit and fails on the primary key, and the whole transaction is run again (``ATTEMPTS`` times) with a new
maximum. No lock on the table: other writers (the ERP's own) keep working.

The outcome: a fault before ``COMMIT`` rolled everything back, so it is :class:`NotApplied` (the key may be
used again at once); a fault during ``COMMIT`` leaves the outcome unknown (the SDK reports it as such), and
the idempotency key kept in ``writes.idempotency_key`` lets :meth:`SqlAdapter.find_written` settle it.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Integer, Table, func, select
from sqlalchemy import exc as sa

from crmgraph.adapters.sdk.writes import Refusal, WriteOp, WriteRefused
from crmgraph.adapters.sql.mapping import OrderMapping, SqlMapping
from crmgraph.records import OrderStatus, Record

ATTEMPTS = 30  # transactions run again after losing a number to a concurrent writer (each loss is one commit)
CURRENCY = re.compile(r"[A-Z]{3}")
CENT, QUANTUM = Decimal("0.01"), Decimal("0.001")
MAX_LINES = 500
# A unique key violated: PostgreSQL's SQLSTATE, MySQL / MariaDB's error number, SQLite's message.
DUPLICATE_SQLSTATE, DUPLICATE_MYSQL = "23505", 1062


class NotApplied(Exception):
    """A database fault before ``COMMIT``: the transaction was rolled back, nothing was written."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: Decimal
    unit_price: Decimal
    currency: str | None

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(CENT)


def _decimal(value: object) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _line(index: int, raw: Mapping[str, Any], refusals: list[Refusal]) -> Line:
    at = f"lines.{index}"
    sku = str(raw.get("sku") or "").strip()
    if not sku or len(sku) > 40:
        refusals.append(Refusal("INVALID", "a material number of 1 to 40 characters", f"{at}.sku"))
    quantity = _decimal(raw.get("quantity"))
    if quantity is None or quantity <= 0 or quantity != quantity.quantize(QUANTUM):
        said = f"{raw.get('quantity')!r} will not do: more than 0, at most three decimals"
        refusals.append(Refusal("INVALID", said, f"{at}.quantity"))
    price = _decimal(raw.get("unit_price"))
    if price is None or price < 0 or price != price.quantize(CENT):
        said = f"{raw.get('unit_price')!r} will not do: 0 or more, at most two decimals"
        refusals.append(Refusal("INVALID", said, f"{at}.unit_price"))
    currency = raw.get("currency")
    if currency is not None and not CURRENCY.fullmatch(str(currency)):
        refusals.append(Refusal("INVALID", f"{currency!r} is not an ISO 4217 code (EUR, USD, CNY)", f"{at}.currency"))
    return Line(sku, quantity or Decimal(0), price or Decimal(0), str(currency) if currency is not None else None)


def order_lines(source: str, values: Mapping[str, Any]) -> tuple[list[Line], str | None]:
    """The lines and the order's currency (None: the debtor's), or :class:`WriteRefused` naming each fault.

    Checked before the database is asked: a refusal costs no transaction."""
    raw_lines = values.get("lines")
    refusals: list[Refusal] = []
    if not isinstance(raw_lines, Sequence) or not 1 <= len(raw_lines) <= MAX_LINES:
        refusals.append(Refusal("INVALID", f"an order has 1 to {MAX_LINES} lines", "lines"))
        raw_lines = []
    lines = [_line(i, raw, refusals) for i, raw in enumerate(raw_lines)]
    currency = values.get("currency")
    if currency is not None and not CURRENCY.fullmatch(str(currency)):
        refusals.append(Refusal("INVALID", f"{currency!r} is not an ISO 4217 code (EUR, USD, CNY)", "currency"))
    currencies = {line.currency for line in lines if line.currency} | ({str(currency)} if currency else set())
    if len(currencies) > 1:
        at = next(i for i, line in enumerate(lines) if line.currency and line.currency != min(currencies))
        said = f"an order has one currency, not {', '.join(sorted(currencies))}"
        refusals.append(Refusal("INVALID", said, f"lines.{at}.currency"))
    if refusals:
        raise WriteRefused(source, refusals)
    return lines, next(iter(currencies), None)


def duplicate_key(error: sa.IntegrityError) -> bool:
    cause = error.orig
    code = cause.args[0] if cause is not None and cause.args else None
    return (
        getattr(cause, "sqlstate", None) == DUPLICATE_SQLSTATE
        or code == DUPLICATE_MYSQL
        or "UNIQUE constraint failed" in str(cause)
    )


def commit(connection: Connection) -> None:
    """The one statement whose failure leaves the outcome unknown (tests replace it to lose an answer)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("COMMIT")
    else:
        connection.commit()


def _begin(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # The engine is in autocommit mode: an explicit BEGIN IMMEDIATE takes the write lock at once.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.execution_options(isolation_level="READ COMMITTED")  # reset when back in the pool
        connection.begin()


def _rollback(connection: Connection) -> None:
    try:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("ROLLBACK")
        else:
            connection.rollback()
    except sa.SQLAlchemyError:
        pass  # a connection that broke has rolled back on the server; the pool renews it


class OrderPlacer:
    """Places orders in the tables the adapter reflected; runs on the adapter's SQL threads."""

    def __init__(self, source: str, mapping: SqlMapping, tables: Mapping[str, Table]) -> None:
        order, line, party = mapping.order, mapping.order_line, mapping.party
        if order is None or order.writes is None or line is None or party is None:
            raise ValueError("orders are writable only when party, order (with writes) and order_line are mapped")
        self.source, self.mapping = source, mapping
        self.order, self.line, self.party, self.writes = order, line, party, order.writes
        self.tables = tables

    def place(self, connection: Connection, op: WriteOp, read: Callable[[Connection, str], Record]) -> Record:
        lines, currency = order_lines(self.source, op.values)
        for attempt in range(ATTEMPTS):
            _begin(connection)
            try:
                number = self._insert(connection, op, lines, currency)
                record = read(connection, number)
            except sa.IntegrityError as error:
                _rollback(connection)
                if duplicate_key(error) and attempt < ATTEMPTS - 1:
                    time.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # let the winner commit
                    continue
                raise NotApplied(error) from error
            except sa.SQLAlchemyError as error:
                _rollback(connection)
                raise NotApplied(error) from error
            except BaseException:
                _rollback(connection)
                raise
            commit(connection)
            return record
        raise AssertionError("unreachable: the last attempt raises")

    def _insert(self, connection: Connection, op: WriteOp, lines: list[Line], currency: str | None) -> str:
        placed = self._placed(connection, op.idempotency_key)
        if placed is not None:
            return placed
        debtor = op.links.get("party", "")
        found = self._debtor(connection, debtor)
        if found is None:
            raise WriteRefused(self.source, [Refusal("NOT_FOUND", f"no debtor {debtor} in {self.source}", "party")])
        currency = currency or found
        if not currency:
            raise WriteRefused(self.source, [Refusal("INVALID", "name the order's currency", "currency")])
        materials = self._materials(connection, sorted({line.sku for line in lines}))
        unknown = [Refusal("NOT_FOUND", f"{self.source} has never sold a material {line.sku}", f"lines.{i}.sku")
                   for i, line in enumerate(lines) if line.sku not in materials]  # fmt: skip
        if unknown:
            raise WriteRefused(self.source, unknown)
        number = self._next_number(connection)
        header = self._header(op, debtor, number, lines, currency)
        rows = [self._line_row(number, i, line, materials[line.sku], currency) for i, line in enumerate(lines)]
        sqlite = connection.dialect.name == "sqlite"
        connection.execute(self.tables["order"].insert(), _bindable(header, sqlite))
        connection.execute(self.tables["order_line"].insert(), [_bindable(row, sqlite) for row in rows])
        return number

    def _placed(self, connection: Connection, key: str | None) -> str | None:
        """The number of the order an earlier attempt with ``key`` placed, if one did.

        A retry after a lost answer asks :meth:`SqlAdapter.find_written` first, but the first attempt may still
        be running then (its thread outlives a timeout): asked again inside the transaction, under SQLite's
        write lock or after the first attempt's commit, the key cannot be placed twice."""
        column = self.writes.idempotency_key
        if column is None or not key:
            return None
        table, number = self.tables["order"], self.order.number.column
        found = connection.execute(select(table.c[number]).where(table.c[column] == key).limit(1)).scalar()
        return None if found is None else str(found).strip()

    def _debtor(self, connection: Connection, debtor: str) -> str | None:
        """The debtor's currency ("" when it has none), or None when the ERP has no such debtor."""
        spec, table = self.party, self.tables["party"]
        column = self.writes.party_currency
        wanted = [table.c[spec.id[0]], *([table.c[column]] if column else [])]
        where = [table.c[name].is_(None) if value is None else table.c[name] == value
                 for name, value in spec.where.items()]  # fmt: skip
        key: object = int(debtor) if isinstance(table.c[spec.id[0]].type, Integer) and debtor.isdigit() else debtor
        row = connection.execute(select(*wanted).where(table.c[spec.id[0]] == key, *where)).first()
        if row is None:
            return None
        return str(row[1] or "").strip() if column else ""

    def _materials(self, connection: Connection, skus: list[str]) -> dict[str, tuple[str, str]]:
        """Description and unit of each material, from a line that sold it; one statement for all."""
        fields, table = self.line.fields, self.tables["order_line"]

        def latest(column: str, sku: str) -> Any:
            # Any line of the material will do: LIMIT 1 on an index of the material column is one row read.
            return select(table.c[column]).where(table.c[fields.sku] == sku).limit(1)

        columns = [latest(name, sku).scalar_subquery() for sku in skus for name in (fields.description, fields.unit)]
        row = connection.execute(select(*columns)).one()
        found = {sku: (row[2 * i], row[2 * i + 1]) for i, sku in enumerate(skus)}
        return {sku: (str(text).strip(), str(unit).strip()) for sku, (text, unit) in found.items() if text is not None}

    def _next_number(self, connection: Connection) -> str:
        spec, table = self.order, self.tables["order"]
        column = table.c[spec.number.column]
        if isinstance(column.type, Integer) or spec.number.zero_padded:
            top = connection.execute(select(func.max(column))).scalar()
        else:  # unpadded text: the longest, then the greatest, is the largest number
            largest = select(column).order_by(func.length(column).desc(), column.desc()).limit(1)
            top = connection.execute(largest).scalar()
        text = str(top or "0").strip()
        if not text.isdigit():
            raise NotApplied(ValueError(f"the largest order number {text!r} is not a number: cannot count on"))
        return spec.number.stored(str(int(text) + 1))

    def _stored(self, table: Table, column: str, value: str) -> object:
        return int(value) if isinstance(table.c[column].type, Integer) else value

    def _header(self, op: WriteOp, debtor: str, number: str, lines: list[Line], currency: str) -> dict[str, object]:
        spec, fields, table = self.order, self.order.fields, self.tables["order"]
        now = datetime.now(UTC).astimezone(ZoneInfo(self.mapping.timezone))
        row: dict[str, object] = {name: value for name, value in spec.where.items() if value is not None}
        row |= dict(self.writes.defaults)
        row |= {spec.number.column: self._stored(table, spec.number.column, number),
                spec.party: self._stored(table, spec.party, debtor),
                fields.total: sum((line.amount for line in lines), Decimal(0)), fields.currency: currency,
                spec.status.column: _open_code(spec)}  # fmt: skip
        row |= _moment(fields.placed_at, now, self.mapping)
        if fields.customer_reference and op.values.get("customer_reference"):
            row[fields.customer_reference] = str(op.values["customer_reference"])
        delivery = op.values.get("requested_delivery")
        if fields.requested_delivery and isinstance(delivery, date):
            row[fields.requested_delivery] = delivery.strftime(self.mapping.date_format)
        if self.writes.idempotency_key and op.idempotency_key:
            row[self.writes.idempotency_key] = op.idempotency_key
        return row

    def _line_row(
        self, number: str, index: int, line: Line, material: tuple[str, str], currency: str
    ) -> dict[str, object]:
        spec, fields, table = self.line, self.line.fields, self.tables["order_line"]
        position = (index + 1) * 10  # SAP's steps of ten leave room for lines inserted later
        return {
            spec.order: self._stored(table, spec.order, number),
            fields.position: position if isinstance(table.c[fields.position].type, Integer)
            else f"{position:0{self.writes.position_digits}d}",
            fields.sku: line.sku, fields.description: material[0], fields.unit: material[1],
            fields.quantity: line.quantity, fields.unit_price: line.unit_price, fields.amount: line.amount,
            fields.currency: currency,
        }  # fmt: skip


def _bindable(row: dict[str, object], sqlite: bool) -> dict[str, object]:
    """The adapter's reflected columns are untyped (see ``sql._bound_as``), so values go to the driver as they
    are; sqlite3 takes no Decimal: as text, a NUMERIC column stores the number (exact to its digits)."""
    if not sqlite:
        return row
    return {name: str(value) if isinstance(value, Decimal) else value for name, value in row.items()}


def _open_code(spec: OrderMapping) -> str:
    return next(code for code, status in spec.status.values.items() if status is OrderStatus.OPEN)


def _moment(columns: tuple[str, ...], at: datetime, mapping: SqlMapping) -> dict[str, object]:
    """``at`` as the mapping keeps moments: a date column and a time column, or a date alone."""
    if len(columns) == 2:
        return {columns[0]: at.strftime(mapping.date_format), columns[1]: at.strftime(mapping.time_format)}
    return {columns[0]: at.strftime(mapping.date_format)}


def writable_orders(mapping: SqlMapping) -> bool:
    return mapping.order is not None and mapping.order.writes is not None and None not in (
        mapping.order_line, mapping.party)  # fmt: skip
