"""Relay connections over lists resolved from the sources.

Items are sorted by a key that is unique and stable (for example newest first, then source and id); a
cursor is that key, encoded. ``after`` resumes strictly after the key, so a page boundary stays correct
when several sources are merged, and when records are added between two requests.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import orjson
import strawberry

from crmgraph.errors import ClientError

T = TypeVar("T")
SortKey = tuple[str | int | float, ...]


@strawberry.type(description="Where a page sits in the whole list (Relay).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="One item of a page and the cursor to resume after it.")
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type(description="A page of a list, Relay style: `first` items `after` a cursor.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int = strawberry.field(description="How many items the whole list has, across all pages.")

    @strawberry.field(description="The items of this page, without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def encode_cursor(key: SortKey) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str) -> SortKey:
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        raise ClientError(f"after: {cursor!r} is not a cursor this API issued") from None
    if not isinstance(key, list):
        raise ClientError(f"after: {cursor!r} is not a cursor this API issued")
    return tuple(key)


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
    keyed = sorted(((sort_key(item), item) for item in items), key=lambda pair: pair[0])
    start = 0
    if after is not None:
        position = decode_cursor(after)
        start = next((i for i, (key, _) in enumerate(keyed) if key > position), len(keyed))
    window = keyed[start : start + first]
    edges = [Edge(node=wrap(item) if wrap else item, cursor=encode_cursor(key)) for key, item in window]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=start + first < len(keyed),
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=len(keyed),
    )
