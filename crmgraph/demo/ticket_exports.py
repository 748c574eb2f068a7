"""Zendesk's incremental exports over the ticket store: every record changed since a moment, a page at a time.

Two export methods, as Zendesk documents them (up to 1,000 records a page, ``per_page`` to ask for fewer):

- cursor-based, for tickets and users::

      GET /api/v2/incremental/{tickets|users}/cursor?start_time={unix}    then ?cursor={after_cursor}
      {"<records>": [...], "after_cursor", "after_url", "before_cursor": null, "before_url": null,
       "end_of_stream": bool}

  in the order of ``(updated_at, id)``; an exhausted stream still hands back a cursor, so the next poll
  resumes from where this one stopped;

- time-based, for organizations (Zendesk offers no cursor for them)::

      GET /api/v2/incremental/organizations?start_time={unix}
      {"organizations": [...], "count", "end_time", "next_page", "end_of_stream": bool}

  ``end_time`` is the update time of the page's last record, and ``next_page`` starts again at that
  second, so the records of that second come twice and a client drops what it has by id (Zendesk's
  documented caveat). So that a second never splits across pages, a page ends with every record updated
  in its last second, even past ``per_page``; a page that is one second only hands on the second after it
  (otherwise it would be asked for again and again).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from crmgraph.demo.instruments import json_response
from crmgraph.demo.ticket_metrics import metric_sets
from crmgraph.demo.ticket_paging import BY_UPDATED, Key, encode_cursor, parse_cursor, parse_size
from crmgraph.demo.ticket_params import start_time
from crmgraph.demo.ticket_records import Renderer

MAX_EXPORT_PAGE = 1000
Endpoint = Callable[[Request], Awaitable[Response]]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _unix(stamp: str) -> int:
    """A stored timestamp (``2024-03-05T10:15:00Z``) as unix seconds."""
    return int(datetime.fromisoformat(stamp).timestamp())


def _rows(
    conn: sqlite3.Connection, table: str, where: str, params: tuple[object, ...], limit: int
) -> list[sqlite3.Row]:
    """The first ``limit`` rows matching ``where`` in the order of ``(updated_at, id)``.

    The order is found on the two key columns alone and the rows then read by id: sorting whole rows
    costs more, and the store keeps no index on ``updated_at`` for these tables.
    """
    ids = [row[0] for row in conn.execute(
        f"SELECT id FROM {table} WHERE {where} ORDER BY updated_at, id LIMIT ?", (*params, limit)
    )]  # fmt: skip
    found = {
        row["id"]: row for row in conn.execute(f"SELECT * FROM {table} WHERE id IN ({', '.join('?' * len(ids))})", ids)
    }
    return [found[i] for i in ids]


def wants_metric_sets(request: Request) -> bool:
    """Whether ``?include=`` (a comma-separated list) asks for the side-loaded ``metric_sets``."""
    return "metric_sets" in {
        name.strip() for value in request.query_params.getlist("include") for name in value.split(",")
    }


def cursor_export(
    conn: sqlite3.Connection, table: str, render: Renderer, *, side_loads_metrics: bool = False
) -> Endpoint:
    """``/api/v2/incremental/{table}/cursor``: ``table``'s records by ``(updated_at, id)`` from a cursor; with
    ``side_loads_metrics`` (tickets), ``?include=metric_sets`` adds the page's ticket metric sets."""

    async def endpoint(request: Request) -> Response:
        params = request.query_params
        per_page_raw = params.get("per_page")
        per_page = parse_size("per_page", per_page_raw, MAX_EXPORT_PAGE, MAX_EXPORT_PAGE)
        cursor = params.get("cursor")
        if cursor is not None:
            position = parse_cursor("cursor", cursor, BY_UPDATED)
        else:
            # id 0 sorts before every record updated at start_time, so ">" keeps them: updated_at >= start.
            position = (start_time(params.get("start_time")), 0)
        rows = _rows(conn, table, "(updated_at, id) > (?, ?)", position, per_page + 1)
        more, rows = len(rows) > per_page, rows[:per_page]
        base = _base(request)
        # An empty page still hands back a cursor: the next poll resumes from the same place.
        last: Key = (rows[-1]["updated_at"], rows[-1]["id"]) if rows else position
        after_cursor = encode_cursor(last)
        query = {"cursor": after_cursor} | ({"per_page": per_page_raw} if per_page_raw is not None else {})
        body: dict[str, object] = {
            table: [render(row, base) for row in rows],
            "after_cursor": after_cursor,
            "after_url": f"{base}/api/v2/incremental/{table}/cursor.json?{urlencode(query)}",
            "before_cursor": None,
            "before_url": None,
            "end_of_stream": not more,
        }
        if side_loads_metrics and wants_metric_sets(request):
            body["metric_sets"] = metric_sets(conn, rows, base)
        return json_response(body)

    return endpoint


def time_export(conn: sqlite3.Connection, table: str, render: Renderer) -> Endpoint:
    """``/api/v2/incremental/{table}``: ``table``'s records updated at or after ``start_time``, whole seconds."""

    async def endpoint(request: Request) -> Response:
        params = request.query_params
        per_page_raw = params.get("per_page")
        per_page = parse_size("per_page", per_page_raw, MAX_EXPORT_PAGE, MAX_EXPORT_PAGE)
        start = start_time(params.get("start_time"))
        rows = _rows(conn, table, "updated_at >= ?", (start,), per_page)
        if rows:
            last = rows[-1]
            # The rest of the last second: a second is never split across pages.
            rows += conn.execute(
                f"SELECT * FROM {table} WHERE updated_at = ? AND id > ? ORDER BY id", (last["updated_at"], last["id"])
            ).fetchall()
            end = last["updated_at"]
            later = conn.execute(f"SELECT 1 FROM {table} WHERE updated_at > ? LIMIT 1", (end,)).fetchone()
            end_time = _unix(end)
            following = end_time + 1 if rows[0]["updated_at"] == end else end_time
        else:
            later, end_time = None, _unix(start)
            following = end_time
        base = _base(request)
        query = {"start_time": str(following)} | ({"per_page": per_page_raw} if per_page_raw is not None else {})
        return json_response(
            {
                table: [render(row, base) for row in rows],
                "count": len(rows),
                "end_time": end_time,
                "next_page": f"{base}/api/v2/incremental/{table}.json?{urlencode(query)}",
                "end_of_stream": later is None,
            }
        )

    return endpoint
