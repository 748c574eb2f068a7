"""The ``sql`` adapter's change feed: the rows whose change column is at or after a moment.

The change column is the mapping's ``updated_at`` of ``party``, ``person`` or ``order``: one column (a timestamp, or a
date) or a date and a time column, as the demo ERP's ``[ZZAEDAT, ZZAEZET]``. A page is one statement, in
the order of the change and then the id, continued after the last row of the page before (keyset paging,
so a row changed meanwhile moves to the end of the order and is read there)::

    SELECT KNA1 WHERE ZZAEDAT >= :day AND (ZZAEDAT > :day OR ZZAEZET >= :time)
                  [AND (ZZAEDAT, ZZAEZET, KUNNR) > (:last_day, :last_time, :last_id)]
    ORDER BY ZZAEDAT, ZZAEZET, KUNNR LIMIT :size + 1

The moment is written as the columns hold it: in the mapping's time zone, as text in its ``date_format`` and
``time_format`` (which must then sort as they read: year, month, day; hours, minutes, seconds), or as a
date or timestamp for columns of those types. A column that holds only the day makes the feed read the
whole day of ``since`` again: more than asked, never less.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, and_, or_, tuple_
from sqlalchemy.sql import Select
from sqlalchemy.types import Date, DateTime, TypeEngine

from crmgraph.adapters.sql.mapping import EntityMapping, OrderMapping, PartyMapping, PersonMapping, SqlMapping
from crmgraph.errors import ClientError

_DIRECTIVE = re.compile("%.")


def change_columns(spec: EntityMapping) -> tuple[str, ...] | None:
    """The change column(s) of an entity: its ``updated_at``, where the mapping names one."""
    if isinstance(spec, PartyMapping | PersonMapping | OrderMapping):
        return spec.fields.updated_at
    return None


def sorts_as_text(layout: str, order: str) -> bool:
    """Whether text written with ``layout`` sorts as the moments do: its directives are ``order``'s, in order
    (a time may stop early: ``%H%M``)."""
    directives = [d[1] for d in _DIRECTIVE.findall(layout)]
    return bool(directives) and directives == list(order[: len(directives)]) and len(directives) >= len(order) - 1


def text_columns_sort(columns: Sequence[str], types: Mapping[str, TypeEngine[Any]], formats: SqlMapping) -> bool:
    """Whether every text column among ``columns`` is written in a format that sorts (``Ymd`` then ``HMS``)."""
    orders = zip(columns, (formats.date_format, formats.time_format), ("Ymd", "HMS"), strict=False)
    return all(_native(types.get(c)) or sorts_as_text(layout, order) for c, layout, order in orders)


def _native(kind: TypeEngine[Any] | None) -> bool:
    return isinstance(kind, Date | DateTime)


def _as_stored(moment: datetime, kind: TypeEngine[Any] | None, layout: str, zone: ZoneInfo) -> object:
    local = moment.astimezone(zone)
    if isinstance(kind, DateTime):
        return local if kind.timezone else local.replace(tzinfo=None)
    if isinstance(kind, Date):
        return local.date()
    return local.strftime(layout)


def since_condition(
    table: Table, columns: Sequence[str], types: Mapping[str, TypeEngine[Any]], formats: SqlMapping, since: datetime
) -> ColumnElement[bool]:
    """The rows whose change is at or after ``since``, written so that an index on the columns serves it."""
    zone = ZoneInfo(formats.timezone)
    day = table.c[columns[0]]
    if len(columns) == 1 or isinstance(types.get(columns[0]), DateTime):
        return day >= _as_stored(since, types.get(columns[0]), formats.date_format, zone)
    day_value = _as_stored(since, types.get(columns[0]), formats.date_format, zone)
    time_value = _as_stored(since, types.get(columns[1]), formats.time_format, zone)
    return and_(day >= day_value, or_(day > day_value, table.c[columns[1]] >= time_value))


def _encode_value(value: object) -> list[str]:
    if isinstance(value, datetime):
        return ["datetime", value.isoformat()]
    if isinstance(value, date):
        return ["date", value.isoformat()]
    if isinstance(value, int) and not isinstance(value, bool):
        return ["int", str(value)]
    return ["text", "" if value is None else str(value).rstrip()]


def _decode_value(kind: str, text: str) -> object:
    if kind == "datetime":
        return datetime.fromisoformat(text)
    if kind == "date":
        return date.fromisoformat(text)
    return int(text) if kind == "int" else text


def feed_cursor(row: Mapping[Any, Any], order: Sequence[str]) -> str:
    """Where the next page starts: the order columns' values of the last row read."""
    values = [_encode_value(row[name]) for name in order]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def _after_values(source: str, cursor: str, width: int) -> list[object]:
    try:
        pairs = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        valid = isinstance(pairs, list) and len(pairs) == width
        values = [_decode_value(kind, text) for kind, text in pairs] if valid else None
    except (ValueError, TypeError):  # not base64, not JSON, not pairs, or a value that does not parse
        values = None
    if values is None:
        raise ClientError(f"{cursor!r} is not a change-feed cursor {source} gave out")
    return values


def feed_query(
    source: str, query: Select[Any], table: Table, order: Sequence[str], cursor: str | None, size: int
) -> Select[Any]:
    """``query`` (already limited to the changed rows) in change order, one page from ``cursor`` on."""
    key = [table.c[name] for name in order]
    page = query.order_by(*key).limit(size + 1)
    if cursor is not None:
        after = _after_values(source, cursor, len(key))
        page = page.where(tuple_(*key) > tuple_(*after))
    return page
