"""The contacts' activity timeline, as Mautic's ``/api/contacts/activity`` and ``/api/contacts/{id}/activity``.

Parameters as documented: ``filters[dateFrom]``, ``filters[dateTo]`` (``Y-m-d H:i:s`` or ISO 8601; the bare
``dateFrom``/``dateTo`` are taken too), ``filters[includeEvents][]``, ``filters[excludeEvents][]``, ``order[0]``
(``timestamp`` or ``id``), ``order[1]`` (``asc`` | ``desc``; newest first by default), ``page`` (from 1) and
``limit`` (25 by default, at most 200). The answer holds ``events``, ``filters``, ``order``, ``types``,
``total``, ``page``, ``limit`` and ``maxPages``. Event types: ``email.sent``, ``email.read``, ``page.hit`` (a
click in an e-mail is a page hit whose ``details.hit.source`` is ``email``), ``form.submitted``,
``campaign.event`` and ``point.gained`` (``details.log.delta`` points). Every event's ``details`` carries the
``campaignId`` it belongs to: the demo's convenience (Mautic reaches it through the e-mail or the form).
"""

from __future__ import annotations

import math
import sqlite3

from starlette.requests import Request
from starlette.responses import Response

from crmgraph.demo.instruments import json_response
from crmgraph.demo.marketing_errors import bad_request, not_found
from crmgraph.demo.marketing_query import MAX_SQLITE_INTEGER, instant
from crmgraph.demo.marketing_records import EVENT_TYPES, event_record

DEFAULT_LIMIT = 25
MAX_LIMIT = 200


def _number(request: Request, name: str, default: int, low: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be a whole number, not {raw!r}.") from None
    if value < low:
        raise bad_request(f"{name} must be at least {low}.")
    return value


class Timeline:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def everyone(self, request: Request) -> Response:
        return json_response(self._page(request, None))

    async def contact(self, request: Request) -> Response:
        contact_id = request.path_params["id"]
        found = (
            contact_id <= MAX_SQLITE_INTEGER
            and self.conn.execute("SELECT 1 FROM contacts WHERE id = ?", (contact_id,)).fetchone()
        )
        if not found:
            raise not_found()
        return json_response(self._page(request, contact_id))

    def _page(self, request: Request, contact_id: int | None) -> dict[str, object]:
        params = request.query_params
        clauses: list[str] = []
        args: list[object] = []
        if contact_id is not None:
            clauses.append("contact_id = ?")
            args.append(contact_id)
        date_from = params.get("filters[dateFrom]") or params.get("dateFrom")
        date_to = params.get("filters[dateTo]") or params.get("dateTo")
        if date_from:
            clauses.append("timestamp >= ?")
            args.append(instant(date_from))
        if date_to:
            clauses.append("timestamp <= ?")
            args.append(instant(date_to))
        include = params.getlist("filters[includeEvents][]")
        exclude = params.getlist("filters[excludeEvents][]")
        if include:
            clauses.append(f"event IN ({', '.join('?' * len(include))})")
            args += include
        if exclude:
            clauses.append(f"event NOT IN ({', '.join('?' * len(exclude))})")
            args += exclude
        column = params.get("order[0]") or "timestamp"
        direction = (params.get("order[1]") or "desc").lower()
        if column not in ("timestamp", "id") or direction not in ("asc", "desc"):
            raise bad_request("order must be [timestamp|id, asc|desc].")
        page = _number(request, "page", 1, 1)
        limit = min(_number(request, "limit", DEFAULT_LIMIT, 1), MAX_LIMIT)
        where = " AND ".join(clauses) or "1"
        (total,) = self.conn.execute(f"SELECT count(*) FROM events WHERE {where}", args).fetchone()
        rows = self.conn.execute(
            f"SELECT * FROM events WHERE {where} ORDER BY {column} {direction}, id {direction} LIMIT ? OFFSET ?",
            [*args, limit, (page - 1) * limit],
        ).fetchall()
        return {
            "events": [event_record(row) for row in rows],
            "filters": {
                "search": "",
                "includeEvents": include,
                "excludeEvents": exclude,
                "dateFrom": date_from,
                "dateTo": date_to,
            },
            "order": [column, direction.upper()],
            "types": EVENT_TYPES,
            "total": total,
            "page": page,
            "limit": limit,
            "maxPages": max(1, math.ceil(total / limit)),
        }
