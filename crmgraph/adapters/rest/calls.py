"""Making one described call: placeholders filled in, a page asked for, the answer's records selected."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from crmgraph.adapters.rest import paging
from crmgraph.adapters.rest.http import RestHttp
from crmgraph.adapters.rest.select import rows
from crmgraph.adapters.rest.spec import Call

_PLACEHOLDER = re.compile(r"\{(id|ids|key|keys|since|query)\}")


def filled(template: str, values: Mapping[str, str], *, in_path: bool) -> str:
    """``template`` with each ``{name}`` replaced by its value (URL-quoted in a path)."""

    def value(match: re.Match[str]) -> str:
        found = values.get(match.group(1))
        if found is None:
            return match.group(0)
        return quote(found, safe=",") if in_path else found

    return _PLACEHOLDER.sub(value, template)


@dataclass(frozen=True)
class Answer:
    rows: list[Any]
    next_position: str | None
    missing: bool = False  # a 404 for the first page: the parent or record does not exist


async def one_page(
    http: RestHttp,
    call: Call,
    values: Mapping[str, str],
    position: str | None,
    size: int,
    *,
    allow_missing: bool = False,
) -> Answer:
    """One page of ``call``'s listing from ``position`` (None: the first)."""
    size = paging.size_for(call.paging, size)
    page = paging.ask(call.paging, position, size, http.source)
    params = {name: filled(v, values, in_path=False) if isinstance(v, str) else v for name, v in call.params.items()}
    path = page.url or filled(call.path, values, in_path=True)
    body, headers = await http.call(
        call.method,
        path,
        params=None if page.url else params | page.params,
        headers=call.headers or None,
        allow_missing=allow_missing and position is None,
    )
    if body is None and allow_missing and position is None:
        return Answer([], None, missing=True)
    found = rows(http.source, call.select, body)
    return Answer(found, paging.following(call.paging, position, size, body, headers, len(found)))


async def every_page(
    http: RestHttp, call: Call, values: Mapping[str, str], limit: int, *, allow_missing: bool = False
) -> list[Any]:
    """Every record of ``call``'s listing, up to ``limit`` (cut there); [] when its first page is a 404."""
    found: list[Any] = []
    position: str | None = None
    while True:
        # The same size on every page: a page number or offset counts in pages of that size.
        answer = await one_page(http, call, values, position, call.paging.max_size, allow_missing=allow_missing)
        found += answer.rows
        if answer.next_position is None or len(found) >= limit:
            return found[:limit]
        position = answer.next_position
