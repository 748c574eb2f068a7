"""Values of an API's JSON read as canonical values (and written back), one function per field type.

A reader raises :class:`Unreadable` with what it expected; the mapper adds the source, entity, record and
field. Lenient where APIs commonly are (numbers and counts sent as text, ``"1"``/``"0"`` booleans), strict
where a silent guess would be wrong (a naive time without a configured zone).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

_TRUE, _FALSE = ("true", "1", "yes", "y", "on"), ("false", "0", "no", "n", "off")


class Unreadable(ValueError):
    """A value that does not read as the field's type."""


def text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    raise Unreadable(f"{value!r} is not text")


def whole(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise Unreadable(f"{value!r} is not a whole number")


def decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Unreadable(f"{value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise Unreadable(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise Unreadable(f"{value!r} is not a finite number")
    return number


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise Unreadable(f"{value!r} is not true or false")


def moment(value: Any, fmt: str | None, zone: str | None) -> datetime:
    """An aware instant: ISO 8601 (default), seconds or milliseconds since the epoch, or a strftime pattern."""
    fmt = fmt or "iso8601"
    if fmt in ("epoch_s", "epoch_ms"):
        seconds = decimal(value) / (1000 if fmt == "epoch_ms" else 1)
        return datetime.fromtimestamp(float(seconds), UTC)
    if not isinstance(value, str):
        raise Unreadable(f"{value!r} is not a time written as text")
    try:
        parsed = datetime.fromisoformat(value) if fmt == "iso8601" else datetime.strptime(value, fmt)
    except ValueError:
        raise Unreadable(f"{value!r} does not read as {fmt}") from None
    if parsed.tzinfo is None:
        if zone is None:
            raise Unreadable(f"{value!r} has no time zone and the field names no timezone")
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    return parsed


def day(value: Any, fmt: str | None, zone: str | None) -> date:
    if fmt in (None, "iso8601") and isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise Unreadable(f"{value!r} is not an ISO 8601 date") from None
    instant = moment(value, fmt, zone or "UTC")
    return instant.date()


def member(value: Any, enum: type[StrEnum]) -> StrEnum:
    """An enum member by value, or by value in capitals (``won`` is ``WON``)."""
    if isinstance(value, enum):
        return value
    word = text(value)
    for candidate in (word, word.upper()):
        try:
            return enum(candidate)
        except ValueError:
            continue
    raise Unreadable(f"{value!r} is not one of {', '.join(enum)}")


def strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise Unreadable(f"{value!r} is not a list")
    return tuple(text(item) for item in value if item is not None)


def pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
        raise Unreadable(f"{value!r} is not a list of [name, value] pairs")
    return tuple((text(a), text(b)) for a, b in value if a is not None and b is not None)


# --- writing: canonical values as the API's JSON ------------------------------------------------------------


def written_moment(value: datetime | date, fmt: str | None, zone: str | None) -> Any:
    if not isinstance(value, datetime):
        return value.isoformat() if fmt in (None, "iso8601") else value.strftime(fmt or "%Y-%m-%d")
    where: tzinfo = ZoneInfo(zone) if zone else UTC
    if fmt in ("epoch_s", "epoch_ms"):
        return int(value.timestamp() * (1000 if fmt == "epoch_ms" else 1))
    local = value.astimezone(where) if value.tzinfo else value
    return local.isoformat() if fmt in (None, "iso8601") else local.strftime(fmt or "")


WRITERS: dict[str, Callable[[Any], Any]] = {
    "decimal": lambda value: float(value),
    "list": lambda value: list(value),
    "pairs": lambda value: [list(pair) for pair in value],
    "enum": lambda value: str(value.value if isinstance(value, StrEnum) else value),
}
