"""Relay connections over lists resolved from the sources.

Items are sorted by a key that is unique and stable (for example newest first, then source and id); a
cursor is that key, encoded. ``after`` resumes strictly after the key, so a page boundary stays correct
when several sources are merged, and when records are added between two requests.

A cursor comes back from the client, so it is checked before it is used: undecodable text, JSON that is
not a flat list, and a key whose shape is not this list's (another connection's cursor, a string where a
number goes, an integer past the stores' range) are :class:`ClientError` naming ``after``. A forged key of
the right shape is just a position in the list, as good as any other.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Generic, TypeVar

import orjson
import strawberry

from crmgraph.adapters.sdk.resilience import remaining
from crmgraph.errors import ClientError, DeadlineExceeded
from crmgraph.schema.ids import MAX_NUMBER, shown
from crmgraph.schema.plain_fields import reads

T = TypeVar("T")
SortKey = tuple[str | int | float, ...]
_by_key = itemgetter(0)
MAX_CURSOR_LENGTH = 1024  # far above any cursor issued (a few source ids, base64)

# What one element of a sort key may be.
WHOLE = "a whole number"  # an int in the stores' range (a golden id)
NUMBER = "a number"
TEXT = "a string"


# A page's cursors are worked out only when a query asks for them: a list page asking for ``nodes`` alone
# would otherwise encode one per item and two per page (hundreds per page of customers), all thrown away.
# Each is a property that the executor reads as it reads a plain field (crmgraph.schema.plain_fields.reads).


@strawberry.type(description="Where a page sits in the whole list (Relay).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_key: strawberry.Private[SortKey | None]  # the first item's sort key, None for an empty page
    end_key: strawberry.Private[SortKey | None]

    @property
    def start_cursor_text(self) -> str | None:
        return None if self.start_key is None else encode_cursor(self.start_key)

    @property
    def end_cursor_text(self) -> str | None:
        return None if self.end_key is None else encode_cursor(self.end_key)

    @strawberry.field
    @reads("start_cursor_text")
    def start_cursor(self) -> str | None:
        return self.start_cursor_text

    @strawberry.field
    @reads("end_cursor_text")
    def end_cursor(self) -> str | None:
        return self.end_cursor_text


@strawberry.type(description="One item of a page and the cursor to resume after it.")
class Edge(Generic[T]):
    node: T
    key: strawberry.Private[SortKey]  # the item's sort key, what its cursor encodes

    @property
    def cursor_text(self) -> str:
        return encode_cursor(self.key)

    @strawberry.field
    @reads("cursor_text")
    def cursor(self) -> str:
        return self.cursor_text


@strawberry.type(description="A page of a list, Relay style: `first` items `after` a cursor.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int = strawberry.field(description="How many items the whole list has, across all pages.")
    # Filled from the edges when the page is made: a plain value is read by strawberry's default resolver,
    # where a method field costs its resolver wrapper (arguments, info) on each of a list page's 150 pages.
    nodes: list[T] = strawberry.field(description="The items of this page, without cursors.", default_factory=list)

    def __post_init__(self) -> None:
        self.nodes = [edge.node for edge in self.edges]


def connection(edges: list[Edge[T]], *, has_next: bool, has_previous: bool, total: int) -> Connection[T]:
    """A page of ``edges``, its page info filled as every list of the graph fills it."""
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_key=edges[0].key if edges else None,
            end_key=edges[-1].key if edges else None,
        ),
        total_count=total,
    )


def encode_cursor(key: SortKey) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str) -> SortKey:
    """The key a cursor encodes: a flat list of numbers and strings, or a :class:`ClientError`."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise ClientError(f"after: {shown(cursor)} is not a cursor this API issued")
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        raise ClientError(f"after: {shown(cursor)} is not a cursor this API issued") from None
    if not isinstance(key, list) or not key or any(_kind(part) is None for part in key):
        raise ClientError(f"after: {shown(cursor)} is not a cursor this API issued")
    return tuple(key)


def _kind(value: object) -> str | None:
    if isinstance(value, bool):  # JSON true is not a number, though Python's bool is an int
        return None
    if isinstance(value, int):
        return WHOLE if -MAX_NUMBER <= value <= MAX_NUMBER else NUMBER
    if isinstance(value, float):
        return NUMBER
    return TEXT if isinstance(value, str) else None


def _fits(value: object, kind: str) -> bool:
    found = _kind(value)
    return found == kind or (kind == NUMBER and found == WHOLE)


def decode_position(cursor: str, *kinds: str) -> SortKey:
    """The key of a cursor of a list sorted by keys of ``kinds``; a :class:`ClientError` for any other."""
    key = decode_cursor(cursor)
    if len(key) != len(kinds) or not all(_fits(part, kind) for part, kind in zip(key, kinds, strict=True)):
        expected = ", ".join(kinds)
        raise ClientError(f"after: {shown(cursor)} is not a cursor of this list (its key is {expected})")
    return key


def _kinds_of(key: SortKey) -> tuple[str, ...]:
    return tuple(NUMBER if isinstance(part, int | float) else TEXT for part in key)


def check_deadline() -> None:
    """Refuse to build one more page once the request's deadline has passed.

    Upstream calls stop at the deadline by themselves; work done here, on the event loop, would not: a page
    is where a query's CPU work multiplies (each of its items is resolved in turn), so each checks the clock
    once, which bounds what a request spends past its deadline to one page's worth.
    """
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlineExceeded()


def check_first(first: int, cap: int) -> None:
    if first < 0 or first > cap:
        raise ClientError(f"first: must be between 0 and {cap}, got {first}")


def paginate(
    items: Sequence[T],
    sort_key: Callable[[T], SortKey],
    *,
    first: int,
    after: str | None,
    cap: int,
    wrap: Callable[[T], object] | None = None,
) -> Connection[object]:
    """One page of ``items`` ordered by ``sort_key`` (ascending; negate what should come newest first)."""
    check_first(first, cap)
    check_deadline()
    keyed = sorted(zip(map(sort_key, items), items, strict=True), key=_by_key)  # no Python frame per item
    start = 0
    if after is not None:
        # Compared with every key below: a key of another shape would raise a TypeError there.
        position = decode_position(after, *_kinds_of(keyed[0][0])) if keyed else decode_cursor(after)
        start = next((i for i, (key, _) in enumerate(keyed) if key > position), len(keyed))
    window = keyed[start : start + first]
    edges = [Edge(node=wrap(item) if wrap else item, key=key) for key, item in window]
    return connection(edges, has_next=start + first < len(keyed), has_previous=start > 0, total=len(keyed))
