"""The four paging styles of a listing, as positions: where the next page starts, opaque to callers.

=========  ========================================================  ==========================================
style      a page is asked for with                                  the last page is the one
=========  ========================================================  ==========================================
offset     ``offset_param`` (records skipped), ``size_param``         that reaches ``total``, is short or empty
page       ``page_param`` (from ``first_page``), ``size_param``       that reaches ``total``, is short or empty
cursor     ``cursor_param`` (what ``next`` selected on the page       whose ``next`` is empty, or whose
           before), ``size_param``                                    ``has_more`` is false
link       the URL of the answer's ``Link: <...>; rel="next"``       without a ``rel="next"`` link
           (RFC 8288), on the configured host only
none       one call                                                  the first
=========  ========================================================  ==========================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from crmgraph.adapters.rest import coerce
from crmgraph.adapters.rest.select import search
from crmgraph.adapters.rest.spec import Paging
from crmgraph.errors import ClientError


@dataclass(frozen=True)
class PageAsk:
    """What to send for one page: extra parameters, or (link paging) a whole URL instead of the call's path."""

    params: dict[str, Any]
    url: str | None = None


def size_for(paging: Paging, wanted: int) -> int:
    return max(1, min(wanted, paging.max_size))


def ask(paging: Paging, position: str | None, size: int, source: str) -> PageAsk:
    sized = {paging.size_param: size} if paging.size_param else {}
    if paging.style in ("offset", "page"):
        start = paging.first_page if paging.style == "page" else 0
        at = _number(position, source) if position is not None else start
        return PageAsk(sized | {paging.offset_param if paging.style == "offset" else paging.page_param: at})
    if paging.style == "cursor":
        return PageAsk(sized | ({paging.cursor_param: position} if position is not None else {}))
    if paging.style == "link" and position is not None:
        return PageAsk({}, url=position)
    return PageAsk(sized)


def following(
    paging: Paging, position: str | None, size: int, body: Any, headers: Mapping[str, str], count: int
) -> str | None:
    """The position of the page after this one, or None when this one was the last."""
    if paging.style == "none":
        return None
    if paging.style == "link":
        link = httpx.Response(200, headers=headers).links.get("next", {}).get("url")
        return str(link) if link and link != position else None
    if paging.style == "cursor":
        more = search(paging.has_more, body) if paging.has_more else True
        cursor = search(paging.next or "`null`", body)
        if not more or cursor in (None, "") or str(cursor) == position:
            return None
        return str(cursor)
    if count == 0 or (paging.size_param is not None and count < size):
        return None
    at = int(position) if position is not None else (paging.first_page if paging.style == "page" else 0)
    seen = at + count if paging.style == "offset" else (at - paging.first_page + 1) * size
    total = search(paging.total, body) if paging.total else None
    if total is not None:
        try:
            if seen >= coerce.whole(total):
                return None
        except coerce.Unreadable:
            pass  # a total that does not read: page until a short page instead
    return str(at + count if paging.style == "offset" else at + 1)


def _number(position: str, source: str) -> int:
    if not position.isdigit():
        raise ClientError(f"{position!r} is not a cursor {source} gave out")
    return int(position)
