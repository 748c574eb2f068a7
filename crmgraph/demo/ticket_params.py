"""The query parameters of the simulated ticket system, checked as Zendesk checks them.

A bad value is a 400 whose description names the parameter and the value, so the caller knows what to fix.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.datastructures import QueryParams

from crmgraph.demo.ticket_errors import invalid_value

MAX_SHOW_MANY = 100
MAX_SQLITE_INTEGER = 2**63 - 1


def record_id(raw: str, what: str) -> int:
    # Digits only: Zendesk ids are positive, and int() would also take "+1", " 1" or "1_000".
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_SQLITE_INTEGER:
        raise invalid_value(f"{what}: {raw!r} is not a valid id")
    return int(raw)


def parse_ids(params: QueryParams) -> list[int]:
    raw = params.get("ids")
    if raw is None or not raw.strip():
        raise invalid_value("ids is required: a comma-separated list of ids, e.g. ids=1,2,3")
    pieces = [piece.strip() for piece in raw.split(",") if piece.strip()]
    if len(pieces) > MAX_SHOW_MANY:
        raise invalid_value(f"ids accepts at most {MAX_SHOW_MANY} ids per request, got {len(pieces)}")
    return list(dict.fromkeys(record_id(piece, "ids") for piece in pieces))


def start_time(raw: str | None) -> str:
    """``start_time`` (unix seconds) as the stored timestamp form, so that strings compare as times."""
    if raw is None:
        raise invalid_value("start_time is required: unix seconds, e.g. start_time=1700000000")
    if not (raw.isascii() and raw.isdigit()):
        raise invalid_value(f"start_time must be unix seconds (a whole number), got {raw!r}")
    try:
        moment = datetime.fromtimestamp(int(raw), UTC)
    except (ValueError, OverflowError, OSError):
        raise invalid_value(f"start_time is out of range: {raw!r}") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _query_clause(query: str) -> tuple[str, list[object]]:
    field, colon, value = query.partition(":")
    field = field.strip().lower() if colon else ""
    if field not in ("email", "name"):
        field, value = "", query
    value = value.strip().strip('"')
    if not value:
        raise invalid_value(f"query must not be empty, got {query!r}")
    if field == "email":
        return "email = ? COLLATE NOCASE", [value]
    if field == "name":
        return "name LIKE ? ESCAPE '\\'", [_like(value)]
    return "(name LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\')", [_like(value), _like(value)]


def user_search(params: QueryParams) -> tuple[str, list[object]]:
    """The filter of ``/users/search``: ``query`` (``email:``, ``name:`` or free text) and ``external_id``.

    Zendesk matches an email whatever its case; ``name:`` and free text match part of the name (and, for
    free text, of the email).
    """
    query, external_id = params.get("query"), params.get("external_id")
    if query is None and external_id is None:
        raise invalid_value("query or external_id is required, e.g. query=email:jane@example.com")
    clauses: list[str] = []
    values: list[object] = []
    if query is not None:
        clause, args = _query_clause(query)
        clauses.append(clause)
        values.extend(args)
    if external_id is not None:
        clauses.append("external_id = ?")
        values.append(external_id)
    return " AND ".join(clauses), values
