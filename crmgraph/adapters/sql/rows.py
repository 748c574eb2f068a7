"""Rows of a legacy SQL database read into canonical records, as a :class:`SqlMapping` says.

Drivers disagree on what a value looks like: SQLite returns ``NUMERIC`` as a float, PostgreSQL pads
``CHAR`` with blanks, MySQL returns ``TIME`` as a timedelta. Every read here accepts each form and yields
the same record from every database. A value that cannot be read raises
:class:`~crmgraph.errors.UpstreamBadResponse` naming the table, the row and the column, so the adapter
fails that key alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from crmgraph.adapters.sdk.names import person_name
from crmgraph.adapters.sql.mapping import (
    ID_SEPARATOR,
    EntityMapping,
    InvoiceMapping,
    OrderLineMapping,
    OrderMapping,
    PartyMapping,
    PaymentMapping,
    PersonMapping,
    SqlMapping,
)
from crmgraph.errors import UpstreamBadResponse
from crmgraph.records import (
    InvoiceRecord,
    Money,
    OrderLineRecord,
    OrderRecord,
    OrderStatus,
    PartyRecord,
    PaymentRecord,
    PersonRecord,
    Record,
)

CENT = Decimal("0.01")


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return Decimal(repr(value))  # repr: the shortest text that round-trips, not the binary expansion
    if isinstance(value, Decimal | int | str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


# strptime is slow, and a legacy table repeats the same few thousand dates: remember what was parsed.
@functools.lru_cache(maxsize=8192)
def _parse_day(text: str, layout: str) -> date:
    return datetime.strptime(text, layout).date()


@functools.lru_cache(maxsize=8192)
def _parse_clock(text: str, layout: str) -> time:
    return datetime.strptime(text, layout).time()


@functools.lru_cache(maxsize=8192)
def _text_moment(day: str, clock: str | None, day_layout: str, clock_layout: str, zone: str) -> datetime:
    """A moment written as date text and time text (both stripped, the date not a null date), in ``zone``
    unless the layout carries an offset. An order has two (placed, updated) and a page reads hundreds."""
    moment = datetime.combine(_parse_day(day, day_layout), _parse_clock(clock, clock_layout) if clock else time())
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


def bare_domain(address: str) -> str:
    """``https://www.Acme.de/contact`` -> ``acme.de``: the form the other systems and identity matching use."""
    host = address.strip().lower().split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return host.removeprefix("www.")


class Row:
    """Typed reads of one row; every failed read names the row and the column."""

    __slots__ = ("formats", "id", "raw", "source", "table")

    def __init__(self, source: str, spec: EntityMapping, raw: Mapping[Any, Any], formats: SqlMapping) -> None:
        self.source = source
        self.raw = raw
        self.formats = formats
        self.table = spec.table
        self.id = ""  # named in a failure to read the id itself
        columns = spec.id
        self.id = self.key(columns[0]) if len(columns) == 1 else ID_SEPARATOR.join(self.key(c) for c in columns)

    @property
    def what(self) -> str:
        """The row as a failure names it: its table and, once read, its id."""
        return f"{self.table} {self.id}" if self.id else self.table

    def fail(self, problem: str) -> NoReturn:
        raise UpstreamBadResponse(self.source, f"unreadable row {self.what}: {problem}")

    def text(self, column: str) -> str:
        value = self.raw[column]
        if isinstance(value, str):
            return value.rstrip()  # CHAR columns come back blank-padded from some databases
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return str(value)
        self.fail(f"{column} is {value!r}, not text")

    def optional(self, column: str | None) -> str | None:
        """Text, or None for a missing column, NULL or blanks (legacy systems write "" for "not known")."""
        if column is None:
            return None
        value = self.raw[column]
        if value is None:
            return None
        if type(value) is str:  # the common case, read once (a page reads thousands of these)
            return value.rstrip() or None
        return self.text(column) or None

    def key(self, column: str) -> str:
        value = self.optional(column)
        if value is None:
            self.fail(f"{column} is empty")
        return value

    def amount(self, column: str) -> Decimal:
        value = _decimal(self.raw[column])
        if value is None or not value.is_finite():
            self.fail(f"{column} is {self.raw[column]!r}, not an amount")
        return value.quantize(CENT, rounding=ROUND_HALF_EVEN)

    def money(self, column: str, currency: str) -> Money:
        return Money(self.amount(column), self.key(currency))

    def quantity(self, column: str) -> Decimal:
        value = _decimal(self.raw[column])
        if value is None or not value.is_finite():
            self.fail(f"{column} is {self.raw[column]!r}, not a quantity")
        # 12.000 (PostgreSQL) and 12.0 (SQLite's float) are the same quantity: write both as 12.
        return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()

    def integer(self, column: str) -> int:
        text = self.key(column)
        if not text.isdigit():
            self.fail(f"{column} is {text!r}, not a whole number")
        return int(text)

    def day(self, column: str) -> date | None:
        value = self.raw[column]
        if value is None or isinstance(value, datetime | date):
            return value.date() if isinstance(value, datetime) else value
        text = self.text(column).strip()
        if not text or text in self.formats.null_dates:
            return None
        try:
            return _parse_day(text, self.formats.date_format)
        except ValueError:
            self.fail(f"{column} is {text!r}, not a date like {self.formats.date_format}")

    def clock(self, column: str) -> time:
        value = self.raw[column]
        if isinstance(value, time):
            return value
        if isinstance(value, timedelta):  # MySQL's TIME is a duration to its drivers
            return (datetime.min + value).time()
        text = self.optional(column)
        if text is None:
            return time()
        try:
            return _parse_clock(text.strip(), self.formats.time_format)
        except ValueError:
            self.fail(f"{column} is {text!r}, not a time like {self.formats.time_format}")

    def moment(self, columns: tuple[str, ...] | None) -> datetime | None:
        if columns is None:
            return None
        value = self.raw[columns[0]]
        clock = self.raw[columns[1]] if len(columns) > 1 else None
        if isinstance(value, str) and (clock is None or isinstance(clock, str)):
            # Text, as legacy tables hold it: read as day() and clock() would, each pair parsed once.
            day_text = value.strip()
            if not day_text or day_text in self.formats.null_dates:
                return None
            formats = self.formats
            try:
                return _text_moment(day_text, clock.strip() if clock else None, formats.date_format,
                                    formats.time_format, formats.timezone)  # fmt: skip
            except ValueError:
                pass  # the general path below names the column that cannot be read
        if isinstance(value, datetime):
            moment = value
        else:
            day = self.day(columns[0])
            if day is None:
                return None
            moment = datetime.combine(day, self.clock(columns[1]) if len(columns) > 1 else time())
        return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(self.formats.timezone))

    def required_moment(self, columns: tuple[str, ...]) -> datetime:
        moment = self.moment(columns)
        if moment is None:
            self.fail(f"{columns[0]} is empty")
        return moment


def _party(row: Row, spec: PartyMapping) -> PartyRecord:
    fields = spec.fields
    domain = row.optional(fields.domain)
    xrefs = ((source, row.optional(column)) for source, column in spec.xrefs.items())
    return PartyRecord(
        row.source,
        row.id,
        name=row.text(fields.name),
        tax_id=row.optional(fields.tax_id),
        domain=(bare_domain(domain) or None) if domain else None,
        email=row.optional(fields.email),
        phone=row.optional(fields.phone),
        country=row.optional(fields.country),
        city=row.optional(fields.city),
        address=row.optional(fields.address),
        postal_code=row.optional(fields.postal_code),
        industry=row.optional(fields.industry),
        lifecycle_stage=row.optional(fields.lifecycle_stage),
        owner_id=row.optional(fields.owner_id),
        created_at=row.moment(fields.created_at),
        updated_at=row.moment(fields.updated_at),
        xrefs=tuple((source, value) for source, value in xrefs if value is not None),
    )


def _person(row: Row, spec: PersonMapping) -> PersonRecord:
    fields = spec.fields
    first, last = row.optional(fields.first_name), row.optional(fields.last_name)
    name = person_name(first, last)
    if name is None:
        row.fail(f"{fields.last_name} is empty and so is the first name: the person has no name")
    return PersonRecord(
        row.source,
        row.id,
        name=name,
        first_name=first,
        last_name=last,
        email=row.optional(fields.email),
        phone=row.optional(fields.phone),
        job_title=row.optional(fields.job_title),
        party_id=row.key(spec.party),
        created_at=row.moment(fields.created_at),
        updated_at=row.moment(fields.updated_at),
    )


def _status(row: Row, spec: OrderMapping) -> OrderStatus:
    codes = spec.status
    for column, value in codes.cancelled_when.items():
        if row.optional(column) == value:
            return OrderStatus.CANCELLED
    code = row.optional(codes.column) or ""
    if code not in codes.values:
        row.fail(f"{codes.column} is {code!r}, not one of {', '.join(codes.values)}")
    return codes.values[code]


def _order(row: Row, spec: OrderMapping) -> OrderRecord:
    fields = spec.fields
    return OrderRecord(
        row.source,
        row.id,
        number=spec.number.shown(row.key(spec.number.column)),
        party_id=row.key(spec.party),
        placed_at=row.required_moment(fields.placed_at),
        status=_status(row, spec),
        total=row.money(fields.total, fields.currency),
        customer_reference=row.optional(fields.customer_reference),
        requested_delivery=row.day(fields.requested_delivery) if fields.requested_delivery else None,
        updated_at=row.moment(fields.updated_at),
    )


def _order_line(row: Row, spec: OrderLineMapping) -> OrderLineRecord:
    fields = spec.fields
    return OrderLineRecord(
        row.source,
        row.id,
        order_id=row.key(spec.order),
        position=row.integer(fields.position),
        sku=row.text(fields.sku),
        description=row.text(fields.description),
        quantity=row.quantity(fields.quantity),
        unit=row.text(fields.unit),
        unit_price=row.money(fields.unit_price, fields.currency),
        amount=row.money(fields.amount, fields.currency),
    )


def _invoice(row: Row, spec: InvoiceMapping) -> InvoiceRecord:
    fields = spec.fields
    net = row.money(fields.net, fields.currency)
    tax = row.money(fields.tax, fields.currency)
    return InvoiceRecord(
        row.source,
        row.id,
        number=spec.number.shown(row.key(spec.number.column)),
        party_id=row.key(spec.party),
        order_id=row.optional(spec.order),
        issued_at=row.required_moment(fields.issued_at),
        net=net,
        tax=tax,
        gross=Money(net.amount + tax.amount, net.currency),
        payment_terms=row.optional(fields.payment_terms),
    )


def _payment(row: Row, spec: PaymentMapping) -> PaymentRecord:
    fields = spec.fields
    return PaymentRecord(
        row.source,
        row.id,
        invoice_id=row.key(spec.invoice),
        paid_at=row.required_moment(fields.paid_at),
        amount=row.money(fields.amount, fields.currency),
    )


_BUILDERS: dict[type[EntityMapping], Callable[[Row, Any], Record]] = {
    PartyMapping: _party,
    PersonMapping: _person,
    OrderMapping: _order,
    OrderLineMapping: _order_line,
    InvoiceMapping: _invoice,
    PaymentMapping: _payment,
}


def read_record(row: Row, spec: EntityMapping) -> Record:
    """The canonical record of ``row``; :class:`UpstreamBadResponse` when a value cannot be read."""
    return _BUILDERS[type(spec)](row, spec)
