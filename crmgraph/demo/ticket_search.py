"""``GET /api/v2/search/export``: Zendesk's Export Search Results, for the query form the facade sends.

Zendesk's search takes a query string of ``keyword:value`` terms; a keyword named more than once matches
any of its values. The demo understands the subset that lists tickets by organization::

    query=type:ticket organization:7 organization:9   &filter[type]=ticket   page[size]=1..1000   page[after]=

and answers as Zendesk does: ``results`` (each ticket with ``result_type: "ticket"``), ``meta`` with
``has_more`` and ``after_cursor``, ``links.next``. Any other term is a 400 that says what the demo serves,
rather than an answer that ignores part of the query. Unlike Zendesk's index (which can lag a few minutes
behind a change), the demo searches its store as it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from crmgraph.demo.instruments import json_response
from crmgraph.demo.ticket_errors import invalid_value
from crmgraph.demo.ticket_paging import AFTER, BY_ID, SIZE, Listing, PageRequest, fetch_page, page_body, parse_cursor
from crmgraph.demo.ticket_paging import parse_size as page_size
from crmgraph.demo.ticket_params import record_id
from crmgraph.demo.ticket_records import ticket_record

MAX_EXPORT_PAGE = 1000  # Zendesk's ceiling for page[size] of a search export (it recommends 100)
MAX_TERMS = 200  # organizations OR-ed in one query: enough for the facade's 100, short of a runaway URL


def organizations_searched(query: str | None) -> list[int]:
    """The organization ids of ``type:ticket organization:<id> ...``; a 400 for anything else."""
    if not query or not query.strip():
        raise invalid_value("query is required, e.g. query=type:ticket organization:123")
    terms = query.split()
    if "type:ticket" not in terms:
        raise invalid_value(f"the demo searches tickets only: the query needs type:ticket, got {query!r}")
    organizations: list[int] = []
    for term in terms:
        if term == "type:ticket":
            continue
        keyword, colon, value = term.partition(":")
        if keyword != "organization" or not colon:
            raise invalid_value(f"the demo searches tickets by organization:<id> only, got the term {term!r}")
        organizations.append(record_id(value, "organization"))
    if not organizations:
        raise invalid_value("the demo needs at least one organization:<id> term")
    if len(organizations) > MAX_TERMS:
        raise invalid_value(f"at most {MAX_TERMS} organization terms in one query, got {len(organizations)}")
    return list(dict.fromkeys(organizations))


def search_export(conn: sqlite3.Connection) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        params = request.query_params
        if params.get("filter[type]") != "ticket":
            raise invalid_value("filter[type] is required by search/export; the demo serves filter[type]=ticket")
        organizations = organizations_searched(params.get("query"))
        size = page_size(SIZE, params.get(SIZE), 100, MAX_EXPORT_PAGE)
        after = params.get(AFTER)
        listing = Listing(
            "tickets", BY_ID, f"organization_id IN ({', '.join('?' * len(organizations))})", tuple(organizations)
        )
        page = fetch_page(conn, listing, PageRequest(size, parse_cursor(AFTER, after, BY_ID) if after else None))
        base = str(request.base_url).rstrip("/")
        results = [ticket_record(row, base) | {"result_type": "ticket"} for row in page.rows]
        body = page_body(request.url, "results", results, page)
        body["facets"] = None
        return json_response(body)

    return endpoint
