"""Global ids: opaque to clients, stable, and decodable to (type, key) by the server.

``Customer`` ids wrap crmgraph's own golden id; every other node wraps its source and source id
(``Order:erp:0001000003``), which is as stable as the system of record's id.

Whatever a client sends as an id is decoded here, and anything this API cannot have issued is a
:class:`ClientError` naming the argument: undecodable text, another type's id, a number that is not a
plain decimal (``²``, ``-1``) or lies past the stores' integer range (SQLite and PostgreSQL ``bigint``
stop at 2**63 - 1), an id longer than any this API issues.
"""

from __future__ import annotations

import base64
import binascii
import re

from crmgraph.errors import ClientError

MAX_ID_LENGTH = 512  # far above any id issued (a 128-character source id encodes to under 200)
MAX_NUMBER = 2**63 - 1  # the largest integer SQLite and PostgreSQL (bigint) hold
_NUMBER = re.compile(r"[0-9]{1,19}")  # ASCII digits only: str.isdigit() accepts "²", which int() refuses


def encode_id(type_name: str, *parts: str) -> str:
    raw = ":".join((type_name, *parts))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def shown(value: str, limit: int = 40) -> str:
    """``value`` quoted for a message, cut short: an error message never echoes a megabyte back."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value)} characters)"


def not_issued(argument: str, global_id: str) -> ClientError:
    return ClientError(f"{argument}: {shown(global_id)} is not an id this API issued")


def decode_id(global_id: str, expected_type: str | None = None, *, argument: str = "id") -> tuple[str, list[str]]:
    """(type name, key parts) of a global id; a :class:`ClientError` naming ``argument`` otherwise."""
    if len(global_id) > MAX_ID_LENGTH:
        raise not_issued(argument, global_id)
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, *parts = base64.urlsafe_b64decode(padded.encode()).decode().split(":")
    except (binascii.Error, UnicodeError, ValueError):
        raise not_issued(argument, global_id) from None
    if not parts or not type_name:
        raise not_issued(argument, global_id)
    if expected_type is not None and type_name != expected_type:
        raise ClientError(f"{argument}: {shown(global_id)} is the id of a {type_name}, not of a {expected_type}")
    return type_name, parts


def number_of(global_id: str, parts: list[str], *, argument: str = "id") -> int:
    """The number a ``Customer`` or ``ReviewCandidate`` id wraps, within the stores' integer range."""
    if len(parts) != 1 or not _NUMBER.fullmatch(parts[0]) or int(parts[0]) > MAX_NUMBER:
        raise not_issued(argument, global_id)
    return int(parts[0])


def decode_number(global_id: str, expected_type: str, *, argument: str = "id") -> int:
    """The number wrapped by an id of ``expected_type``; a :class:`ClientError` naming ``argument`` otherwise."""
    _, parts = decode_id(global_id, expected_type, argument=argument)
    return number_of(global_id, parts, argument=argument)
