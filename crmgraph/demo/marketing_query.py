"""The list parameters of Mautic's API, turned into SQL over the marketing store.

- ``start`` (0-based row) and ``limit`` (30 by default, at most :data:`MAX_LIMIT`, as the demo caps it);
- ``orderBy`` (a column in snake_case or camelCase) and ``orderByDir`` (``asc`` | ``desc``), the id breaking
  ties so that paging is stable;
- ``search``: search commands ``ids:1,2,3``, ``email:x``, ``company:"Name"`` (quoted for spaces), ``name:x``,
  ``segment:alias`` (contacts: the members of the segment with that alias),
  and plain words (each must match a name, e-mail or company); ``%`` is a wildcard in a command's value;
- ``where[i][col]``, ``where[i][expr]``, ``where[i][val]``: Doctrine expressions ``eq neq gt gte lt lte in
  notIn like notLike isNull isNotNull``; date columns take ``Y-m-d H:i:s`` or ISO 8601 (UTC when no offset);
- ``publishedOnly``: only published records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.datastructures import QueryParams

from crmgraph.demo.marketing_errors import bad_request

DEFAULT_LIMIT = 30
MAX_LIMIT = 200
MAX_SQLITE_INTEGER = 2**63 - 1
_WHERE = re.compile(r"^where\[(\d+)\]\[(col|expr|val)\]$")
_TOKEN = re.compile(r'(\w+):"([^"]*)"|(\w+):(\S+)|"([^"]*)"|(\S+)')
_OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE",
              "notLike": "NOT LIKE"}  # fmt: skip


@dataclass(frozen=True)
class ListSpec:
    """How one collection is listed: its table, the columns clients may name, what plain words match."""

    table: str
    columns: Mapping[str, str]  # API name (camelCase and snake_case) -> SQL column
    dates: frozenset[str]  # SQL columns holding instants
    text: tuple[str, ...]  # SQL columns a plain search word is looked for in
    commands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # search command -> SQL columns
    # Search commands that test a membership: command -> an SQL condition with one ``?`` for the value.
    memberships: Mapping[str, str] = field(default_factory=dict)
    published: str | None = None  # the SQL column of "published", if any


@dataclass(frozen=True)
class Query:
    where: str
    args: list[object]
    order: str
    start: int
    limit: int


def _integer(params: QueryParams, name: str, default: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be a whole number, not {raw!r}.") from None
    if value < 0:
        raise bad_request(f"{name} must not be negative.")
    return value


def instant(raw: str) -> str:
    """A client's date (``Y-m-d H:i:s``, ``Y-m-d`` or ISO 8601) in the store's form."""
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"{raw!r} is not a date: use Y-m-d H:i:s or ISO 8601.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _ids(raw: str) -> list[int]:
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise bad_request(f"ids must be numbers separated by commas, not {raw!r}.") from None
    return [i for i in ids if 0 < i <= MAX_SQLITE_INTEGER]


def _match(column: str, value: str) -> tuple[str, list[object]]:
    if "%" in value:
        return f"{column} LIKE ?", [value]
    return f"{column} = ? COLLATE NOCASE", [value]


def _search(raw: str, spec: ListSpec) -> tuple[list[str], list[object]]:
    clauses: list[str] = []
    args: list[object] = []
    for quoted_cmd, quoted_val, cmd, val, phrase, word in _TOKEN.findall(raw):
        command, value = (quoted_cmd, quoted_val) if quoted_cmd else (cmd, val)
        if command == "ids":
            ids = _ids(value)
            clauses.append(f"id IN ({', '.join('?' * len(ids))})" if ids else "0")
            args += ids
        elif command in spec.memberships:
            clauses.append(spec.memberships[command])
            args.append(value)
        elif command in spec.commands:
            parts = [_match(column, value) for column in spec.commands[command]]
            clauses.append("(" + " OR ".join(sql for sql, _ in parts) + ")")
            args += [arg for _, part_args in parts for arg in part_args]
        else:
            text = phrase or word or f"{command}:{value}"
            clauses.append("(" + " OR ".join(f"{column} LIKE ?" for column in spec.text) + ")")
            args += [f"%{text}%"] * len(spec.text)
    return clauses, args


def _where(params: QueryParams, spec: ListSpec) -> tuple[list[str], list[object]]:
    conditions: dict[str, dict[str, str]] = {}
    for key, value in params.multi_items():
        found = _WHERE.match(key)
        if found:
            conditions.setdefault(found[1], {})[found[2]] = value
    clauses: list[str] = []
    args: list[object] = []
    for index in sorted(conditions, key=int):
        condition = conditions[index]
        col, expr = condition.get("col", ""), condition.get("expr", "eq")
        column = spec.columns.get(col)
        if column is None:
            raise bad_request(f"where[{index}][col]: {col!r} is not a column of {spec.table}.")
        value = condition.get("val", "")
        if expr in ("isNull", "isNotNull"):
            clauses.append(f"{column} IS {'NOT ' if expr == 'isNotNull' else ''}NULL")
        elif expr in ("in", "notIn"):
            values: list[object] = list(_ids(value)) if column == "id" else [v.strip() for v in value.split(",")]
            clauses.append(f"{column} {'NOT ' if expr == 'notIn' else ''}IN ({', '.join('?' * len(values))})")
            args += values
        elif expr in _OPERATORS:
            clauses.append(f"{column} {_OPERATORS[expr]} ?")
            args.append(instant(value) if column in spec.dates else int(value) if column == "id" else value)
        else:
            raise bad_request(f"where[{index}][expr]: {expr!r} is not an expression this API knows.")
    return clauses, args


def parse_query(params: QueryParams, spec: ListSpec) -> Query:
    clauses, args = _search(params.get("search", ""), spec)
    where_clauses, where_args = _where(params, spec)
    clauses += where_clauses
    args += where_args
    if spec.published and params.get("publishedOnly", "").lower() in ("1", "true"):
        clauses.append(f"{spec.published} = 1")
    order_by = params.get("orderBy") or "id"
    column = spec.columns.get(order_by)
    if column is None:
        raise bad_request(f"orderBy: {order_by!r} is not a column of {spec.table}.")
    direction = params.get("orderByDir", "asc").lower()
    if direction not in ("asc", "desc"):
        raise bad_request(f"orderByDir must be asc or desc, not {direction!r}.")
    order = f"{column} {direction.upper()}" + ("" if column == "id" else f", id {direction.upper()}")
    limit = min(_integer(params, "limit", DEFAULT_LIMIT), MAX_LIMIT) or DEFAULT_LIMIT
    return Query(" AND ".join(clauses) or "1", args, order, _integer(params, "start", 0), limit)
