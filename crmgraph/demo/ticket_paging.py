"""Zendesk's cursor pagination (``page[size]``, ``page[after]``, ``page[before]``) over SQLite tables.

A list is ordered by a unique sort key (``id``, or ``(created_at, id)``...). A cursor is the sort key of
the row at a page's edge, signed, so that a client which edits a cursor gets a 400 rather than a page
that silently starts somewhere else. Paging is keyset paging: a page costs the same at any depth and a
row inserted mid-walk shifts nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import orjson
from starlette.datastructures import URL, QueryParams

from crmgraph.demo.ticket_errors import invalid_pagination

Key = tuple[int | str, ...]
# The sort key of a list: column names with the Python type of their values.
KeySpec = tuple[tuple[str, type[int] | type[str]], ...]

BY_ID: KeySpec = (("id", int),)
BY_CREATED: KeySpec = (("created_at", str), ("id", int))
BY_UPDATED: KeySpec = (("updated_at", str), ("id", int))

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 100
SIZE, AFTER, BEFORE = "page[size]", "page[after]", "page[before]"

# Not a secret: the signature only tells an edited cursor from one this server wrote.
_CURSOR_KEY = b"crmgraph-demo-ticket-cursor"
_SIGNATURE_BYTES = 8


def encode_cursor(key: Key) -> str:
    payload = orjson.dumps(list(key))
    signature = hashlib.blake2b(payload, key=_CURSOR_KEY, digest_size=_SIGNATURE_BYTES).digest()
    return base64.urlsafe_b64encode(signature + payload).rstrip(b"=").decode()


def decode_cursor(cursor: str, spec: KeySpec) -> Key | None:
    """The sort key a cursor holds, or None when it was not written by this server for this order."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        return None
    signature, payload = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
    expected = hashlib.blake2b(payload, key=_CURSOR_KEY, digest_size=_SIGNATURE_BYTES).digest()
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        values = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(values, list) or len(values) != len(spec):
        return None
    for value, (_, kind) in zip(values, spec, strict=True):
        # bool is an int to isinstance; a key never holds one.
        if type(value) is not kind:
            return None
    return tuple(values)


def parse_cursor(name: str, cursor: str, spec: KeySpec) -> Key:
    key = decode_cursor(cursor, spec)
    if key is None:
        raise invalid_pagination(f"{name} is not a cursor this list returned: {cursor!r}")
    return key


@dataclass(frozen=True)
class PageRequest:
    size: int
    after: Key | None = None
    before: Key | None = None


def parse_size(name: str, raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise invalid_pagination(f"{name} must be an integer, got {raw!r}") from None
    if not 1 <= size <= maximum:
        raise invalid_pagination(f"{name} must be between 1 and {maximum}, got {size}")
    return size


def parse_page_request(params: QueryParams, spec: KeySpec) -> PageRequest:
    size = parse_size(SIZE, params.get(SIZE), DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    after, before = params.get(AFTER), params.get(BEFORE)
    if after is not None and before is not None:
        raise invalid_pagination(f"give {AFTER} or {BEFORE}, not both")
    return PageRequest(
        size,
        parse_cursor(AFTER, after, spec) if after is not None else None,
        parse_cursor(BEFORE, before, spec) if before is not None else None,
    )


@dataclass(frozen=True)
class Listing:
    """The rows of one table that match a filter, in the order of a unique sort key.

    ``table`` and ``where`` are SQL written in this package, never taken from a request; values come
    in through ``params``.
    """

    table: str
    spec: KeySpec
    where: str = "1"
    params: Sequence[object] = ()


@dataclass(frozen=True)
class Page:
    rows: list[sqlite3.Row]
    spec: KeySpec
    has_next: bool  # rows exist after the last one
    has_prev: bool  # rows exist before the first one
    backwards: bool  # asked with page[before]

    @property
    def has_more(self) -> bool:
        """More rows in the direction the client is walking."""
        return self.has_prev if self.backwards else self.has_next

    def key(self, row: sqlite3.Row) -> Key:
        return tuple(row[column] for column, _ in self.spec)


def _select(listing: Listing, bound: str | None, key: Key | None, descending: bool, limit: int) -> str:
    columns = ", ".join(column for column, _ in listing.spec)
    direction = " DESC" if descending else ""
    order = ", ".join(f"{column}{direction}" for column, _ in listing.spec)
    condition = f"({listing.where})"
    if bound is not None and key is not None:
        condition += f" AND ({columns}) {bound} ({', '.join('?' * len(key))})"
    return f"SELECT * FROM {listing.table} WHERE {condition} ORDER BY {order} LIMIT {limit}"


def _exists(conn: sqlite3.Connection, listing: Listing, bound: str, key: Key) -> bool:
    sql = _select(listing, bound, key, descending=False, limit=1)
    return conn.execute(sql, [*listing.params, *key]).fetchone() is not None


def fetch_page(conn: sqlite3.Connection, listing: Listing, request: PageRequest) -> Page:
    """One page, plus whether rows exist on either side of it (each answered exactly)."""
    backwards = request.before is not None
    cursor = request.before if backwards else request.after
    bound = ("<" if backwards else ">") if cursor is not None else None
    sql = _select(listing, bound, cursor, descending=backwards, limit=request.size + 1)
    rows = conn.execute(sql, [*listing.params, *(cursor or ())]).fetchall()
    beyond = len(rows) > request.size
    rows = rows[: request.size]
    if backwards:
        rows.reverse()
    # The side the client came from holds rows if anything lies at or past its cursor.
    behind = cursor is not None and _exists(conn, listing, ">=" if backwards else "<=", cursor)
    if backwards:
        return Page(rows, listing.spec, has_next=behind, has_prev=beyond, backwards=True)
    return Page(rows, listing.spec, has_next=beyond, has_prev=behind, backwards=False)


def with_query(url: URL, drop: Sequence[str], add: Mapping[str, str]) -> str:
    """``url`` with the parameters in ``drop`` removed and those in ``add`` set, as an absolute URL."""
    kept = [(name, value) for name, value in QueryParams(url.query).multi_items() if name not in drop]
    return str(url.replace(query=urlencode([*kept, *add.items()])))


def page_body(url: URL, name: str, records: list[dict[str, object]], page: Page) -> dict[str, object]:
    """The body of a cursor-paged answer: ``{name: [...], "meta": {...}, "links": {...}}``."""
    after = encode_cursor(page.key(page.rows[-1])) if page.rows else None
    before = encode_cursor(page.key(page.rows[0])) if page.rows else None
    next_link = prev_link = None
    if after is not None and page.has_next:
        next_link = with_query(url, (AFTER, BEFORE), {AFTER: after})
    if before is not None and page.has_prev:
        prev_link = with_query(url, (AFTER, BEFORE), {BEFORE: before})
    return {
        name: records,
        "meta": {"has_more": page.has_more, "after_cursor": after, "before_cursor": before},
        "links": {"next": next_link, "prev": prev_link},
    }
