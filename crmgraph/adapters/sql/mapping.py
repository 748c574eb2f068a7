"""The declarative mapping of a legacy SQL schema onto canonical records.

A mapping says, per canonical entity, which table holds it, which columns form its id, which column
holds each canonical field, which columns refer to other entities, and how coded values read (order
status codes). The ``sql`` adapter builds every statement from it and checks every named table and
column against the database when it opens. ``examples/erp-mapping.yaml`` is :data:`DEFAULT_MAPPING`
written out: the demo ERP's SAP tables (KNA1, KNVK, VBAK, VBAP, VBRK, BSAD).

Conventions a mapping relies on:

- a column name, or a list of them where several columns form one value: a composite ``id``
  (``[VBELN, POSNR]``, whose source id joins the values with ``/``: ``0001000003/000010``) or a moment
  kept as a date column and a time column (``placed_at: [ERDAT, ERZET]``);
- dates and times held as text are read with ``date_format`` / ``time_format`` in ``timezone``; real
  ``DATE`` / ``TIMESTAMP`` columns are read as they are;
- ``updated_at`` of ``party``, ``person`` and ``order`` is the change column: when the system stamps a row on every
  change (and on creation), the adapter reads the rows changed since a moment from it (its change feed);
  kept as text, it must sort as it reads (``%Y%m%d``, ``%H%M%S``), and an index on it keeps the read cheap;
- ``where`` keeps only rows whose columns hold the given values (``LOEVM: ""``: not marked for deletion);
  rows it excludes do not exist for crmgraph, not even by id;
- ``number`` is the document number people quote; ``zero_padded: 10`` says it is stored padded to ten
  digits (SAP), shown without the zeros (``1000003``) and found by either form;
- a system that lacks an entity leaves its section out, and the adapter does not offer it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from crmgraph.errors import ConfigError
from crmgraph.records import OrderStatus

ENTITIES = ("party", "person", "order", "order_line", "invoice", "payment")
ID_SEPARATOR = "/"


def _one_or_more(value: object) -> object:
    return (value,) if isinstance(value, str) else value


def _some(columns: tuple[str, ...]) -> tuple[str, ...]:
    if not columns:
        raise ValueError("name a column, or a list of columns")
    return columns


def _date_and_time(columns: tuple[str, ...]) -> tuple[str, ...]:
    if not 1 <= len(columns) <= 2:
        raise ValueError(f"name a date column, or [date column, time column]; not {len(columns)} columns")
    return columns


Column = Annotated[str, Field(min_length=1)]
# One column, or several that together make one value; written as a name or a list of names.
Columns = Annotated[tuple[Column, ...], BeforeValidator(_one_or_more), AfterValidator(_some)]
Moment = Annotated[tuple[Column, ...], BeforeValidator(_one_or_more), AfterValidator(_date_and_time)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _named(location: str, columns: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    if len(columns) == 1:
        yield location, columns[0]
    else:
        yield from ((f"{location}[{i}]", column) for i, column in enumerate(columns))


class NumberColumn(_Strict):
    """A document number; ``number: VBELN`` is short for ``number: {column: VBELN}``."""

    column: Column
    zero_padded: int | None = Field(default=None, ge=2, le=40)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return {"column": value} if isinstance(value, str) else value

    def shown(self, stored: str) -> str:
        if self.zero_padded and stored.isdigit():
            return stored.lstrip("0") or "0"
        return stored

    def stored(self, number: str) -> str:
        if self.zero_padded and number.isdigit() and len(number) <= self.zero_padded:
            return number.zfill(self.zero_padded)
        return number


class StatusCodes(_Strict):
    """A coded status column; any ``cancelled_when`` column holding its value makes the order CANCELLED."""

    column: Column
    values: dict[str, OrderStatus] = Field(min_length=1)
    cancelled_when: dict[Column, str] = Field(default_factory=dict)


class _Entity(_Strict):
    table: Column
    id: Columns
    where: dict[Column, str | int | None] = Field(default_factory=dict)
    fields: _Strict
    # Attributes (besides id and fields) that name a column; "party" is also the path ``by="party"``.
    references: ClassVar[tuple[str, ...]] = ()

    def columns(self) -> dict[str, str]:
        """Every column the mapping names, by where it names it: ``{"fields.total": "NETWR", ...}``."""
        named = dict(_named("id", self.id))
        named |= {f"where.{column}": column for column in self.where}
        for name, value in self.fields:
            if value is not None:
                named |= _named(f"fields.{name}", value if isinstance(value, tuple) else (value,))
        for name in self.references:
            value = getattr(self, name)
            if isinstance(value, str):
                named[name] = value
        return named

    def relations(self) -> dict[str, str]:
        """The related keys this entity can be reached by (``by``) and the column each is compared with."""
        return {name: getattr(self, name) for name in self.references if getattr(self, name) is not None}

    def stored_key(self, by: str, key: str) -> str:
        """The value a key of path ``by`` is stored as (a number as people write it -> as the table holds it)."""
        return key

    def split_id(self, source_id: str) -> tuple[str, ...] | None:
        """The id columns' values of a source id, or None when it cannot be one of this entity's ids."""
        parts = tuple(source_id.split(ID_SEPARATOR)) if len(self.id) > 1 else (source_id,)
        return parts if len(parts) == len(self.id) and all(parts) else None


class PartyFields(_Strict):
    name: Column
    tax_id: Column | None = None
    domain: Column | None = None  # a bare domain or a web address ("www.acme.de", "https://acme.de/")
    email: Column | None = None
    phone: Column | None = None
    country: Column | None = None
    city: Column | None = None
    address: Column | None = None  # the street line, or the whole address where it is one text
    postal_code: Column | None = None
    industry: Column | None = None
    lifecycle_stage: Column | None = None
    owner_id: Column | None = None
    created_at: Moment | None = None
    updated_at: Moment | None = None


class PartyMapping(_Entity):
    fields: PartyFields
    # Other source name -> the column holding this record's id there: declared identity links.
    xrefs: dict[str, Column] = Field(default_factory=dict)

    def columns(self) -> dict[str, str]:
        return super().columns() | {f"xrefs.{name}": column for name, column in self.xrefs.items()}


class PersonFields(_Strict):
    last_name: Column  # the surname; the record's name is composed of it and first_name
    first_name: Column | None = None
    email: Column | None = None
    phone: Column | None = None
    job_title: Column | None = None
    created_at: Moment | None = None
    updated_at: Moment | None = None


class PersonMapping(_Entity):
    """A contact person at a customer; ``party`` is the column holding the customer's id."""

    party: Column
    fields: PersonFields
    references: ClassVar[tuple[str, ...]] = ("party",)


class OrderFields(_Strict):
    placed_at: Moment
    total: Column
    currency: Column
    customer_reference: Column | None = None
    requested_delivery: Column | None = None
    updated_at: Moment | None = None  # the change column, as a party's: orders booked or changed since a moment


class OrderWrites(_Strict):
    """How the facade places an order (:mod:`crmgraph.adapters.sql.writes`); a mapping without it is read-only.

    The header gets the mapped fields, the ``where`` values (so the row exists for crmgraph), the status
    code that reads ``OPEN`` and these ``defaults`` for required columns the mapping does not name
    (``AUART: TA``, SAP's standard order); the lines get positions 10, 20, ... written ``position_digits`` wide
    when the column is text.
    """

    idempotency_key: Column | None = None  # where the write's key is kept, so a lost answer can be found again
    party_currency: Column | None = None  # the party table's column of the customer's currency (the default)
    defaults: dict[Column, str | int] = Field(default_factory=dict)
    position_digits: int = Field(default=6, ge=1, le=10)


class OrderMapping(_Entity):
    number: NumberColumn
    party: Column
    fields: OrderFields
    status: StatusCodes
    writes: OrderWrites | None = None
    references: ClassVar[tuple[str, ...]] = ("party",)

    @model_validator(mode="after")
    def _writes_need_the_number_as_id(self) -> OrderMapping:
        if self.writes is not None and self.id != (self.number.column,):
            raise ValueError("writes: the order's id must be its number column, which a write allocates")
        if self.writes is not None and OrderStatus.OPEN not in self.status.values.values():
            raise ValueError("writes: status.values must name the code of an OPEN order, which a new order gets")
        return self

    def columns(self) -> dict[str, str]:
        named = super().columns() | {"number.column": self.number.column, "status.column": self.status.column}
        named |= {f"status.cancelled_when.{column}": column for column in self.status.cancelled_when}
        if self.writes is not None:
            named |= {f"writes.defaults.{column}": column for column in self.writes.defaults}
            if self.writes.idempotency_key is not None:
                named["writes.idempotency_key"] = self.writes.idempotency_key
        return named

    def relations(self) -> dict[str, str]:
        return super().relations() | {"number": self.number.column}

    def stored_key(self, by: str, key: str) -> str:
        return self.number.stored(key) if by == "number" else key


class OrderLineFields(_Strict):
    position: Column
    sku: Column
    description: Column
    quantity: Column
    unit: Column
    unit_price: Column
    amount: Column
    currency: Column


class OrderLineMapping(_Entity):
    order: Column
    fields: OrderLineFields
    references: ClassVar[tuple[str, ...]] = ("order",)


class InvoiceFields(_Strict):
    issued_at: Moment
    net: Column
    tax: Column
    currency: Column
    payment_terms: Column | None = None


class InvoiceMapping(_Entity):
    number: NumberColumn
    party: Column
    order: Column | None = None
    fields: InvoiceFields
    references: ClassVar[tuple[str, ...]] = ("party", "order")

    def columns(self) -> dict[str, str]:
        return super().columns() | {"number.column": self.number.column}


class PaymentFields(_Strict):
    paid_at: Moment
    amount: Column
    currency: Column


class PaymentMapping(_Entity):
    invoice: Column
    fields: PaymentFields
    references: ClassVar[tuple[str, ...]] = ("invoice",)


EntityMapping = PartyMapping | PersonMapping | OrderMapping | OrderLineMapping | InvoiceMapping | PaymentMapping


class SqlMapping(_Strict):
    """The whole mapping of one source: value formats, then one section per entity it holds."""

    db_schema: str | None = Field(default=None, alias="schema")  # the database schema holding the tables
    date_format: str = "%Y%m%d"
    time_format: str = "%H%M%S"
    timezone: str = "UTC"  # the zone the system writes local dates and times in
    null_dates: tuple[str, ...] = ("00000000",)  # text that means "no date" (SAP's initial date); "" always does
    party: PartyMapping | None = None
    person: PersonMapping | None = None
    order: OrderMapping | None = None
    order_line: OrderLineMapping | None = None
    invoice: InvoiceMapping | None = None
    payment: PaymentMapping | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as 'Europe/Berlin')") from None
        return value

    @model_validator(mode="after")
    def _maps_something(self) -> SqlMapping:
        if not self.entities():
            raise ValueError(f"maps no entity; give at least one of {', '.join(ENTITIES)}")
        return self

    def entities(self) -> dict[str, EntityMapping]:
        found = {name: getattr(self, name) for name in ENTITIES}
        return {name: spec for name, spec in found.items() if spec is not None}

    def held_fields(self) -> dict[str, frozenset[str]]:
        """The record fields the party mapping fills (the adapter's ``holds``): those it names a column for."""
        if self.party is None:
            return {}
        named = {name for name, column in self.party.fields if column is not None}
        return {"party": frozenset(named | ({"xrefs"} if self.party.xrefs else set()))}


def _location(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def parse_mapping(raw: Any, path: str) -> SqlMapping:
    """The mapping in ``raw`` (a dict from YAML), or a :class:`ConfigError` naming each offending key."""
    if raw is None:
        return DEFAULT_MAPPING
    try:
        return SqlMapping.model_validate(raw)
    except ValidationError as exc:
        problems = [
            (f"{path}{_location(error['loc'])}", error["msg"].removeprefix("Value error, ")) for error in exc.errors()
        ]
        first_path, first_message = problems[0]
        also = "".join(f"; also {where}: {message}" for where, message in problems[1:])
        raise ConfigError(first_path, f"{first_message}{also}") from None


DEFAULT_MAPPING_DATA: dict[str, Any] = {
    "date_format": "%Y%m%d",
    "time_format": "%H%M%S",
    "timezone": "UTC",
    "party": {
        "table": "KNA1",
        "id": "KUNNR",
        "where": {"LOEVM": ""},
        "fields": {
            "name": "NAME1", "tax_id": "STCD1", "email": "SMTP_ADDR", "phone": "TELF1", "country": "LAND1",
            "city": "ORT01", "address": "STRAS", "postal_code": "PSTLZ", "industry": "BRSCH", "domain": "KNURL",
            "created_at": "ERDAT", "updated_at": ["ZZAEDAT", "ZZAEZET"],
        },
        "xrefs": {"crm": "ZZCRMID"},
    },
    "person": {
        "table": "KNVK",
        "id": "PARNR",
        "party": "KUNNR",
        "fields": {
            "first_name": "NAMEV", "last_name": "NAME1", "email": "SMTP_ADDR", "phone": "TELF1", "job_title": "PAFKT",
            "created_at": "ERDAT", "updated_at": ["ZZAEDAT", "ZZAEZET"],
        },
    },
    "order": {
        "table": "VBAK",
        "id": "VBELN",
        "number": {"column": "VBELN", "zero_padded": 10},
        "party": "KUNNR",
        "fields": {
            "placed_at": ["ERDAT", "ERZET"], "total": "NETWR", "currency": "WAERK",
            "customer_reference": "BSTNK", "requested_delivery": "VDATU", "updated_at": ["ZZAEDAT", "ZZAEZET"],
        },
        "status": {
            "column": "GBSTK",
            "values": {"A": "OPEN", "B": "IN_PROGRESS", "C": "COMPLETED"},
            "cancelled_when": {"ABSTK": "C"},
        },
        "writes": {"idempotency_key": "ZZIDEMK", "party_currency": "WAERS", "defaults": {"AUART": "TA"}},
    },
    "order_line": {
        "table": "VBAP",
        "id": ["VBELN", "POSNR"],
        "order": "VBELN",
        "fields": {
            "position": "POSNR", "sku": "MATNR", "description": "ARKTX", "quantity": "KWMENG", "unit": "VRKME",
            "unit_price": "NETPR", "amount": "NETWR", "currency": "WAERK",
        },
    },
    "invoice": {
        "table": "VBRK",
        "id": "VBELN",
        "number": {"column": "VBELN", "zero_padded": 10},
        "party": "KUNRG",
        "order": "ZZAUBEL",
        "where": {"FKSTO": ""},  # FKSTO X: the billing document was cancelled
        "fields": {"issued_at": "FKDAT", "net": "NETWR", "tax": "MWSBK", "currency": "WAERK", "payment_terms": "ZTERM"},
    },
    "payment": {
        "table": "BSAD",
        "id": "BELNR",
        "invoice": "VBELN",
        "fields": {"paid_at": "BUDAT", "amount": "WRBTR", "currency": "WAERS"},
    },
}  # fmt: skip
DEFAULT_MAPPING = SqlMapping.model_validate(DEFAULT_MAPPING_DATA)
