"""The ``sql`` adapter: a legacy SQL database reached through SQLAlchemy, mapped declaratively.

Access paths, each one statement per batch of up to 500 keys (an ``IN`` list; composite ids compare
as a row value). Tables and columns as the default mapping names them::

    party       by id                  SELECT KNA1 WHERE KUNNR IN (...)
    person      by id, party           SELECT KNVK WHERE PARNR | KUNNR IN (...)
    order       by id, party, number   SELECT VBAK WHERE VBELN | KUNNR | VBELN IN (...)
    order_line  by id, order           SELECT VBAP WHERE (VBELN, POSNR) IN (...) | VBELN IN (...)
    invoice     by id, party, order    SELECT VBRK WHERE VBELN | KUNRG | ZZAUBEL IN (...)
    payment     by id, invoice         SELECT BSAD WHERE BELNR | VBELN IN (...)

Two joined paths read the children of every parent of one customer in one statement, stopping past
``JOINED_ROW_LIMIT`` rows (a list one longer says it was cut)::

    order_line  by order.party         SELECT VBAP JOIN VBAK WHERE VBAK.KUNNR IN (...)
    payment     by invoice.party       SELECT BSAD JOIN VBRK WHERE VBRK.KUNRG IN (...)

Only paths the mapping can answer are served (``serves()``): an entity it does not map, or an
``invoice by order`` without an ``order`` column, is not offered. ``party`` and ``person`` are scannable
(when mapped), by keyset paging on their id columns, and offer a change feed when the mapping names their
change column (``fields.updated_at``; see :mod:`crmgraph.adapters.sql.changes`). Related lists come in a
reader's order: orders and invoices newest first, lines by position, payments as they were made, persons
by id.

Settings::

    url                  a SQLAlchemy URL (required): postgresql+psycopg://..., mysql+pymysql://..., sqlite:///...
    mapping              the table and column mapping (see :mod:`crmgraph.adapters.sql.mapping`); absent: the demo ERP
    pool_size            connections; statements in flight are at most this and max_concurrency
                         (default: max_concurrency, the SDK's setting, 8 unless configured)
    connect_timeout_s    give up connecting after this long (PostgreSQL, MySQL, MariaDB; default 5)
    statement_timeout_s  the database cancels a longer statement (PostgreSQL, MySQL, MariaDB; default none)

Statements run through :class:`~crmgraph.adapters.sql.source.SqlSource` (a sync engine on worker
threads of this source's own). :meth:`SqlAdapter.open` checks every table and column the mapping names
against the database and refuses a mapping that does not fit; when the database is down then, the check
waits for the first statement, and a misfit found then fails each key with ``UPSTREAM_REJECTED``.

``order`` and ``invoice`` are aggregatable: :meth:`~crmgraph.adapters.sdk.base.Adapter.aggregate_daily` totals
them by party, day and currency in one ``GROUP BY`` (per 500 parties when some are named), cancelled
documents left out: see :mod:`crmgraph.adapters.sql.totals`.

Orders are writable (``("order", "create")``) when the mapping's ``order`` has a ``writes`` section and
``party`` and ``order_line`` are mapped: see :mod:`crmgraph.adapters.sql.writes`.
"""

from __future__ import annotations

import asyncio
import base64
import difflib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Integer,
    MetaData,
    Table,
    bindparam,
    inspect,
    select,
    tuple_,
)
from sqlalchemy import exc as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql import Select
from sqlalchemy.types import NullType, TypeEngine

from crmgraph.adapters.sdk.base import AccessPath, Adapter, FetchResult, RelatedResult
from crmgraph.adapters.sdk.calls import upstream_call
from crmgraph.adapters.sdk.resilience import round_trip_permit
from crmgraph.adapters.sdk.writes import WriteOp
from crmgraph.adapters.sql.changes import change_columns, feed_cursor, feed_query, since_condition, text_columns_sort
from crmgraph.adapters.sql.mapped_rows import MappedRows
from crmgraph.adapters.sql.mapping import EntityMapping, parse_mapping
from crmgraph.adapters.sql.newest import MOMENTS, NEWEST, day_column, newest_rows
from crmgraph.adapters.sql.rows import Row, read_record
from crmgraph.adapters.sql.source import SqlSource
from crmgraph.adapters.sql.totals import daily_totals_query, read_totals, totalled
from crmgraph.adapters.sql.writes import NotApplied, OrderPlacer, writable_orders
from crmgraph.errors import (
    AdapterContractError,
    ClientError,
    ConfigError,
    SourceError,
    UpstreamBadResponse,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from crmgraph.records import Page, PartyDayTotal, Record

logger = logging.getLogger(__name__)
T = TypeVar("T")
Grouped = tuple[dict[str, list[Record]], dict[str, SourceError]]  # records by key, and keys that failed

MAX_BATCH = 500  # far below every database's bind-parameter ceiling (SQLite's is 32766), even for pairs
DEFAULT_CONNECT_TIMEOUT_S = 5.0
SETTINGS = {
    "url": "a SQLAlchemy database URL is required",
    "pool_size": "connections in the pool, at least 1",
    "connect_timeout_s": "seconds, more than 0",
    "statement_timeout_s": "seconds, more than 0, or absent for no limit",
}
# "order.party": the lines of every order of each party, in one statement (a join): a query that lists a
# customer's orders with their lines reads both in one round of upstream calls instead of two.
WAYS = {"party": ("id",), "person": ("id", "party"), "order": ("id", "party", "number"),
        "order_line": ("id", "order", "order.party"), "invoice": ("id", "party", "order"),
        "payment": ("id", "invoice", "invoice.party")}  # fmt: skip
VIA = "crmgraph_via"  # the label of the parent's key column in a joined read (never a legacy column name)
# A joined read answers one key (one customer) and stops past this many rows: a big account's order book
# is read a page at a time by the connections instead (a caller falls back when the list is cut).
JOINED_ROW_LIMIT = 200
NEWEST_FIRST = MOMENTS  # read newest first (by this field), ties by id
_UNBUILT: Any = object()  # a statement not built yet (None: none can be)
OLDEST_FIRST = {"order_line": "position", "payment": "paid_at"}


def _setting(source: str, settings: Mapping[str, Any], key: str, kind: type[T], default: Any = None) -> T | None:
    value: Any = settings.get(key, default)
    if value is None:
        return None
    if kind is float and type(value) is int:
        value = float(value)
    # Every setting is a non-empty URL or a positive number.
    positive = bool(value) if isinstance(value, str) else isinstance(value, int | float) and value > 0
    if not positive or not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"sources.{source}.{key}", f"{value!r} will not do: {SETTINGS[key]}")
    return value


def _required(source: str, settings: Mapping[str, Any], key: str, kind: type[T], default: Any = None) -> T:
    value = _setting(source, settings, key, kind, default)
    if value is None:
        raise ConfigError(f"sources.{source}.{key}", f"missing: {SETTINGS[key]}")
    return value


def _hint(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1) or [k for k in known if k.lower() == name.lower()]
    return f" (did you mean {close[0]}?)" if close else ""


def _mapped_well(result: tuple[str | None, Record | SourceError]) -> bool:
    return result[0] is not None and not isinstance(result[1], SourceError)


def _plain(value: object) -> str:
    return "" if value is None else str(value).rstrip()


def _bound_as(reflected: TypeEngine[Any]) -> TypeEngine[Any]:
    """Integer columns stay integers, so keys bind as numbers (integer keys are common in legacy schemas).

    Every other column is untyped: its values arrive as the driver gives them and :mod:`sql_rows` reads
    them. SQLAlchemy's own conversions would turn one row's junk (SQLite stores text in a NUMERIC
    column) into an exception for the whole batch instead of an error for that row's key.
    """
    return Integer() if isinstance(reflected, Integer) else NullType()


KEYS = "keys"  # the bound parameter of a batch: the list of wanted key values


def _bindable(column: Column[Any], text: str) -> object | None:
    """``text`` as the column's type; None if it cannot be one (then no row can match it)."""
    if isinstance(column.type, Integer):
        try:
            return int(text)
        except ValueError:
            return None
    return text


def _matching(table: Table, columns: Sequence[str], values: list[object]) -> ColumnElement[bool]:
    if len(columns) == 1:
        return table.c[columns[0]].in_(values)
    return tuple_(*(table.c[name] for name in columns)).in_(values)


def _cursor(values: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def _after(cursor: str | None, width: int) -> list[str] | None:
    if cursor is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        values = None
    if not (isinstance(values, list) and len(values) == width and all(isinstance(v, str) for v in values)):
        raise ClientError(f"{cursor!r} is not a cursor this source gave out")
    return values


def _kept(spec: EntityMapping, table: Table) -> list[ColumnElement[bool]]:
    """The mapping's ``where``: the rows that exist for crmgraph."""
    return [table.c[name].is_(None) if value is None else table.c[name] == value for name, value in spec.where.items()]


def _bound_keys(
    spec: EntityMapping, table: Table, by: str, column: str, keys: Sequence[str]
) -> tuple[dict[str, str], list[object]]:
    """Each key as ``column`` stores it, and the values to bind (a key the column cannot hold is left out)."""
    stored = {key: spec.stored_key(by, key) for key in keys}
    bound = (_bindable(table.c[column], value) for value in dict.fromkeys(stored.values()))
    return stored, [value for value in bound if value is not None]


def _per_key(entity: str, stored: dict[str, str], grouped: Grouped) -> list[RelatedResult]:
    groups, failed = grouped
    return [
        failed[value] if value in failed else _in_reading_order(entity, groups.get(value, []))
        for value in stored.values()
    ]


def _in_reading_order(entity: str, records: list[Record]) -> list[Record]:
    if entity in NEWEST_FIRST:
        field = NEWEST_FIRST[entity]
        return sorted(records, key=lambda r: (getattr(r, field), r.source_id), reverse=True)
    field = OLDEST_FIRST.get(entity, "source_id")
    return sorted(records, key=lambda r: (getattr(r, field), r.source_id))


class SqlAdapter(Adapter):
    kind = "sql"
    paths = tuple(
        AccessPath(entity, by, max_batch=1, row_limit=JOINED_ROW_LIMIT)
        if "." in by
        else AccessPath(entity, by, max_batch=MAX_BATCH, newest_first=entity in MOMENTS and by != "id")
        for entity, ways in WAYS.items()
        for by in ways
    )
    scannable = frozenset({"party", "person"})

    def __init__(self, source: str, settings: Mapping[str, Any]) -> None:
        super().__init__(source, settings)
        self.url = _required(source, settings, "url", str)
        self.pool_size = _required(source, settings, "pool_size", int, self.max_concurrency)
        self.connect_timeout_s = _required(source, settings, "connect_timeout_s", float, DEFAULT_CONNECT_TIMEOUT_S)
        self.statement_timeout_s = _setting(source, settings, "statement_timeout_s", float)
        self.mapping = parse_mapping(settings.get("mapping"), f"sources.{source}.mapping")
        self.specs = self.mapping.entities()
        self._paths = {
            (entity, by): path
            for (entity, by), path in self._paths.items()
            if entity in self.specs and (by == "id" or by in self.specs[entity].relations() or self._joins(entity, by))
        }
        self.scannable = frozenset(entity for entity in type(self).scannable if entity in self.specs)
        # Orders are not listed whole (no scan), but those booked or changed since a moment are: a feed.
        self.change_feeds = frozenset(e for e in (*self.scannable, "order")
                                      if e in self.specs and change_columns(self.specs[e]) is not None)  # fmt: skip
        self.writable = frozenset({("order", "create")}) if writable_orders(self.mapping) else frozenset()
        self.holds = MappingProxyType(self.mapping.held_fields())
        # Orders and invoices are totalled by party and day in the database (crmgraph/adapters/sql/totals.py).
        self.aggregatable = frozenset(entity for entity, spec in self.specs.items() if totalled(spec))
        self._column_types: dict[str, dict[str, TypeEngine[Any]]] = {}  # each entity's, as reflected
        # The reflected types of each entity's change columns: a moment is bound as they hold it.
        self._change_types: dict[str, dict[str, TypeEngine[Any]]] = {}
        if self.pool_size < self.max_concurrency:  # a statement in flight holds a pooled connection
            self.max_concurrency = self.pool_size
            self._limit = asyncio.Semaphore(self.pool_size)
        self._db: SqlSource | None = None
        self._tables: dict[str, Table] | None = None
        self._schema_lock = asyncio.Lock()
        # Built once per (table, key column): SQLAlchemy then reuses the compiled form, and a batch costs
        # no expression building, only its list of keys (an "expanding" parameter).
        self._by_keys: dict[tuple[Table, str], Select[Any]] = {}
        self._joined: dict[tuple[str, str], Select[Any]] = {}
        # (entity, by) -> the statement of each key's newest rows, or None where the day does not sort as time
        self._newest_of: dict[tuple[str, str], Select[Any] | None] = {}
        self._mapped = MappedRows()  # rows read again are not mapped again (crmgraph/adapters/sql/mapped_rows.py)

    def _joins(self, entity: str, by: str) -> bool:
        """Whether ``by`` is ``"<parent>.<key>"`` for a parent this entity relates to, with a one-column id,
        in another table, reachable by ``key``: then one join reads the children of the key's parents."""
        parent, _, via = by.partition(".")
        parent_spec = self.specs.get(parent)
        return (
            bool(via)
            and parent_spec is not None
            and parent in self.specs[entity].relations()
            and via in parent_spec.relations()
            and len(parent_spec.id) == 1
            and parent_spec.table != self.specs[entity].table
        )

    # --- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> None:
        self._db = SqlSource(
            self.source,
            self.url,
            pool_size=self.pool_size,
            connect_timeout_s=self.connect_timeout_s,
            statement_timeout_s=self.statement_timeout_s,
            url_path=f"sources.{self.source}.url",
        )
        try:
            await self._schema()
        except SourceError as error:
            logger.warning("%s: mapping not checked yet, the database is not answering: %s", self.source, error)
        except BaseException:  # a mapping that does not fit: whoever opened us will not close us
            await self.close()
            raise

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None
        self._tables = None

    @property
    def db(self) -> SqlSource:
        if self._db is None:
            raise AdapterContractError(f"{self.source} ({self.kind}) was used before open()")
        return self._db

    # --- the mapping, checked against the database ---------------------------------------------------

    async def _schema(self) -> dict[str, Table]:
        if self._tables is not None:
            return self._tables
        async with self._schema_lock:  # concurrent first statements inspect the database once
            if self._tables is None:
                with upstream_call(self.source, "INSPECT " + ", ".join(spec.table for spec in self.specs.values())):
                    self._tables = await self.db.run(self._reflect)
            return self._tables

    def _reflect(self, connection: Connection) -> dict[str, Table]:
        """The mapped tables, as statements use them, once every table and column named is found."""
        schema = self.mapping.db_schema
        problems: list[tuple[str, str]] = []
        tables: dict[str, Table] = {}
        metadata = MetaData(schema=schema)
        inspector = inspect(connection)
        present = {*inspector.get_table_names(schema=schema), *inspector.get_view_names(schema=schema)}
        for entity, spec in self.specs.items():
            where = f"sources.{self.source}.mapping.{entity}"
            if spec.table not in present:
                problems.append(
                    (f"{where}.table", f"table {spec.table} not in the database{_hint(spec.table, present)}")
                )
                continue
            columns = {found["name"]: found["type"] for found in inspector.get_columns(spec.table, schema=schema)}
            self._column_types[entity] = columns
            changed_by = change_columns(spec)
            if changed_by is not None and all(name in columns for name in changed_by):
                self._change_types[entity] = {name: columns[name] for name in changed_by}
                if entity in self.change_feeds and not text_columns_sort(changed_by, columns, self.mapping):
                    logger.warning(
                        "%s: %s's change column is text whose format does not sort as time does; its changes are "
                        "read by a full scan (write dates as %%Y%%m%%d and times as %%H%%M%%S to read only them)",
                        self.source, entity,
                    )  # fmt: skip
                    self.change_feeds = self.change_feeds - {entity}
            problems += [
                (f"{where}.{location}", f"column {name} not in table {spec.table}{_hint(name, columns)}")
                for location, name in spec.columns().items()
                if name not in columns
            ]
            table = metadata.tables.get(f"{schema}.{spec.table}" if schema else spec.table)
            if table is None:  # two entities may live in one table
                table = Table(spec.table, metadata, *(Column(n, _bound_as(t)) for n, t in columns.items()))
            tables[entity] = table
        if problems:
            (path, problem), *others = problems
            raise ConfigError(path, problem + "".join(f"; also {path}: {problem}" for path, problem in others))
        return tables

    async def _table(self, entity: str) -> tuple[EntityMapping, Table]:
        spec = self.specs.get(entity)
        if spec is None:
            raise ClientError(f"{self.source} maps no {entity}")
        try:
            tables = await self._schema()
        except ConfigError as error:  # found only now, because the database was down at open()
            raise UpstreamRejected(self.source, f"the mapping does not fit the database: {error}") from error
        return spec, tables[entity]

    # --- statements ----------------------------------------------------------------------------------

    def _query(self, spec: EntityMapping, table: Table) -> Select[Any]:
        wanted = dict.fromkeys(spec.columns().values())
        return select(*(table.c[name] for name in wanted)).where(*_kept(spec, table))

    def _by_key(self, spec: EntityMapping, table: Table, column: str) -> Select[Any]:
        """The entity's rows whose ``column`` is one of the ``KEYS`` parameter."""
        statement = self._by_keys.get((table, column))
        if statement is None:
            statement = self._query(spec, table).where(table.c[column].in_(bindparam(KEYS, expanding=True)))
            self._by_keys[(table, column)] = statement
        return statement

    def _read(self, spec: EntityMapping, raw: RowMapping) -> tuple[str | None, Record | SourceError]:
        """The row's source id (None if even that is unreadable) and its record, or the reason it has none."""
        return self._mapped.mapped(spec, raw, lambda: self._map(spec, raw), _mapped_well)

    def _map(self, spec: EntityMapping, raw: RowMapping) -> tuple[str | None, Record | SourceError]:
        try:
            row = Row(self.source, spec, raw, self.mapping)
        except UpstreamBadResponse as error:
            return None, error
        try:
            return row.id, read_record(row, spec)
        except UpstreamBadResponse as error:
            return row.id, error

    # --- the protected methods -----------------------------------------------------------------------

    async def _fetch(self, entity: str, ids: Sequence[str]) -> Sequence[FetchResult]:
        spec, table = await self._table(entity)
        wanted: list[object] = []
        for source_id in dict.fromkeys(ids):
            parts = spec.split_id(source_id)
            values = [_bindable(table.c[name], part) for name, part in zip(spec.id, parts or (), strict=False)]
            if parts is not None and None not in values:
                wanted.append(values[0] if len(values) == 1 else tuple(values))
        if not wanted:
            return [None] * len(ids)  # no id could be one of this table's: nothing to ask

        def by_id(rows: Iterable[RowMapping]) -> dict[str, FetchResult]:
            found: dict[str, FetchResult] = {}
            for raw in rows:
                read_id, result = self._read(spec, raw)
                if read_id is not None:
                    found[read_id] = result
            return found

        if len(spec.id) == 1:
            statement, parameters = self._by_key(spec, table, spec.id[0]), {KEYS: wanted}
        else:
            statement, parameters = self._query(spec, table).where(_matching(table, spec.id, wanted)), None
        found = await self.db.read(spec.table, statement, parameters, by_id)
        return [found.get(source_id) for source_id in ids]

    async def _fetch_related(self, entity: str, by: str, keys: Sequence[str]) -> Sequence[RelatedResult]:
        if "." in by:
            return await self._fetch_joined(entity, by, keys)
        spec, table = await self._table(entity)
        column = spec.relations()[by]
        return await self._lists_by_key(entity, by, keys, self._by_key(spec, table, column))

    async def _fetch_related_newest(
        self, entity: str, by: str, keys: Sequence[str], newest: int
    ) -> Sequence[RelatedResult]:
        """Each key's ``newest`` latest records and those of the same day (see :mod:`~crmgraph.adapters.sql.newest`);
        every record where the moment's day does not sort in SQL as time does."""
        spec, table = await self._table(entity)
        statement = self._newest_of.get((entity, by), _UNBUILT)
        if statement is _UNBUILT:
            day = day_column(spec, entity, self._column_types.get(entity, {}), self.mapping)
            parent = spec.relations()[by]
            statement = (
                None if day is None else newest_rows(self._query(spec, table), table, parent, day, spec.id, KEYS)
            )
            self._newest_of[(entity, by)] = statement
        if statement is None:
            return await self._fetch_related(entity, by, keys)
        return await self._lists_by_key(entity, by, keys, statement, {NEWEST: newest})

    async def _lists_by_key(
        self,
        entity: str,
        by: str,
        keys: Sequence[str],
        statement: Select[Any],
        parameters: dict[str, Any] | None = None,
    ) -> list[RelatedResult]:
        """Each key's records, read by ``statement`` (with its ``KEYS`` parameter and ``parameters``)."""
        spec, table = await self._table(entity)
        column = spec.relations()[by]
        stored, wanted = _bound_keys(spec, table, by, column, keys)
        if not wanted:
            return [[] for _ in keys]  # no key could be in this column: nothing to ask
        bound = {KEYS: wanted, **(parameters or {})}
        grouped = await self.db.read(spec.table, statement, bound, self._grouping(spec, column))
        return _per_key(entity, stored, grouped)

    def _grouping(self, spec: EntityMapping, key_column: str) -> Callable[[Iterable[RowMapping]], Grouped]:
        """Rows read into records and grouped by the value of ``key_column`` (the key each was asked for)."""

        def grouped(rows: Iterable[RowMapping]) -> Grouped:
            groups: defaultdict[str, list[Record]] = defaultdict(list)
            failed: dict[str, SourceError] = {}
            for raw in rows:
                owner = _plain(raw[key_column])
                _, result = self._read(spec, raw)
                if isinstance(result, SourceError):
                    failed[owner] = result  # one unreadable record fails its key's list, not the batch
                else:
                    groups[owner].append(result)
            return groups, failed

        return grouped

    async def _fetch_joined(self, entity: str, by: str, keys: Sequence[str]) -> Sequence[RelatedResult]:
        """The ``entity`` records of every parent related to each key (``by`` is ``"<parent>.<key>"``)."""
        parent, _, via = by.partition(".")
        spec, table = await self._table(entity)
        parent_spec, parent_table = await self._table(parent)
        via_column = parent_spec.relations()[via]
        stored, wanted = _bound_keys(parent_spec, parent_table, via, via_column, keys)
        if not wanted:
            return [[] for _ in keys]
        statement = self._joined.get((entity, by))
        if statement is None:
            joined = table.join(parent_table, table.c[spec.relations()[parent]] == parent_table.c[parent_spec.id[0]])
            statement = (
                self._query(spec, table)
                .add_columns(parent_table.c[via_column].label(VIA))
                .select_from(joined)
                .where(
                    *_kept(parent_spec, parent_table), parent_table.c[via_column].in_(bindparam(KEYS, expanding=True))
                )
                .order_by(*(table.c[name] for name in spec.id))  # the same rows cut off on every database
                .limit(JOINED_ROW_LIMIT + 1)
            )
            self._joined[(entity, by)] = statement

        grouped = await self.db.read(spec.table, statement, {KEYS: wanted}, self._grouping(spec, VIA))
        return _per_key(entity, stored, grouped)

    async def _scan(self, entity: str, cursor: str | None, size: int) -> Page:
        if size < 1:
            raise ClientError(f"a page holds at least one record, not {size}")
        spec, table = await self._table(entity)
        key = [table.c[name] for name in spec.id]
        query = self._query(spec, table).order_by(*key).limit(size + 1)
        after = _after(cursor, len(key))
        if after is not None:
            bound = [_bindable(column, value) for column, value in zip(key, after, strict=True)]
            query = query.where(key[0] > bound[0] if len(key) == 1 else tuple_(*key) > tuple_(*bound))
        rows = await self.db.rows(spec.table, query)
        page = rows[:size]
        records: list[Record] = []
        for raw in page:
            source_id, result = self._read(spec, raw)
            if isinstance(result, SourceError):  # a page has no slot for an error; linking skips the row
                logger.warning("%s: scan %s skips %s: %s", self.source, entity, source_id, result)
            else:
                records.append(result)
        more = len(rows) > size
        return Page(records, _cursor([_plain(page[-1][name]) for name in spec.id]) if more else None)

    async def _changes(self, entity: str, since: datetime, cursor: str | None, size: int) -> Page:
        if size < 1:
            raise ClientError(f"a page holds at least one record, not {size}")
        spec, table = await self._table(entity)
        changed_by = change_columns(spec)
        if changed_by is None:
            raise AdapterContractError(f"{self.source} maps no change column for {entity}")
        types = self._change_types.get(entity, {})
        order = [*changed_by, *(name for name in spec.id if name not in changed_by)]
        changed = self._query(spec, table).where(since_condition(table, changed_by, types, self.mapping, since))
        rows = await self.db.rows(spec.table, feed_query(self.source, changed, table, order, cursor, size))
        page = rows[:size]
        records: list[Record] = []
        for raw in page:
            source_id, result = self._read(spec, raw)
            if isinstance(result, SourceError):  # as in a scan: a page has no slot for one row's error
                logger.warning("%s: changes %s skips %s: %s", self.source, entity, source_id, result)
            else:
                records.append(result)
        return Page(records, feed_cursor(page[-1], order) if len(rows) > size else None)

    async def _aggregate_daily(self, entity: str, parties: Sequence[str] | None) -> list[PartyDayTotal]:
        spec, table = await self._table(entity)
        dialect = self.db.engine.dialect.name
        kept, types = _kept(spec, table), self._column_types.get(entity, {})
        if parties is None:
            batches: list[list[object] | None] = [None]
        else:
            column = spec.relations()["party"]
            _, wanted = _bound_keys(spec, table, "party", column, parties)
            if not wanted:
                return []
            batches = [wanted[i : i + MAX_BATCH] for i in range(0, len(wanted), MAX_BATCH)]
        totals: list[PartyDayTotal] = []
        for batch in batches:  # one statement per 500 parties, one after the other: a report's refresh, no rush
            statement = daily_totals_query(spec, table, kept, self.mapping, dialect, types, batch)
            totals += await self.db.read(
                spec.table, statement, None, lambda rows: read_totals(self.source, rows, self.mapping, dialect)
            )
        return sorted(totals, key=lambda t: (t.party_id, t.day, t.total.currency))

    # --- writes (crmgraph/adapters/sql/writes.py) ---------------------------------------------------

    async def _write(self, op: WriteOp) -> Record:
        tables = {entity: (await self._table(entity))[1] for entity in ("party", "order", "order_line")}
        placer = OrderPlacer(self.source, self.mapping, tables)
        spec, table = self.specs["order"], tables["order"]

        def read(connection: Connection, number: str) -> Record:
            key = _bindable(table.c[spec.id[0]], number)
            raw = connection.execute(self._by_key(spec, table, spec.id[0]), {KEYS: [key]}).mappings().one()
            _, record = self._read(spec, raw)
            if isinstance(record, SourceError):
                raise record
            return record

        await round_trip_permit(self.source)
        try:
            with upstream_call(self.source, f"INSERT {spec.table}"):
                return await self.db.run(lambda connection: placer.place(connection, op, read))
        except NotApplied as failed:  # rolled back: nothing was written, the key may run again
            cause = failed.cause
            error = self.db.fault(cause) if isinstance(cause, sa.SQLAlchemyError) else None
            if isinstance(error, UpstreamUnavailable | UpstreamTimeout):
                raise UpstreamUnreachable(self.source, f"the order was not written: {error.message}") from cause
            said = error.message if error is not None else str(cause)
            raise UpstreamRejected(self.source, f"the order was not written: {said}") from cause

    async def find_written(self, entity: str, idempotency_key: str) -> Record | None:
        order = self.mapping.order
        if entity != "order" or order is None or order.writes is None or order.writes.idempotency_key is None:
            return None
        spec, table = await self._table("order")
        statement = self._query(spec, table).where(table.c[order.writes.idempotency_key] == idempotency_key)
        rows = await self.db.rows(spec.table, statement.order_by(table.c[spec.id[0]].desc()).limit(1))
        if not rows:
            return None
        _, record = self._read(spec, rows[0])
        if isinstance(record, SourceError):
            raise record
        return record
