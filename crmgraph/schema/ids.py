"""Global ids: opaque to clients, stable, and decodable to (type, key) by the server.

``Customer`` ids wrap crmgraph's own golden id; every other node wraps its source and source id
(``Order:erp:0001000003``), which is as stable as the system of record's id.
"""

from __future__ import annotations

import base64
import binascii

from crmgraph.errors import ClientError


def encode_id(type_name: str, *parts: str) -> str:
    raw = ":".join((type_name, *parts))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_id(global_id: str, expected_type: str | None = None) -> tuple[str, list[str]]:
    """(type name, key parts) of a global id; a :class:`ClientError` saying what is wrong otherwise."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, *parts = base64.urlsafe_b64decode(padded.encode()).decode().split(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ClientError(f"{global_id!r} is not an id this API issued") from None
    if not parts or not type_name:
        raise ClientError(f"{global_id!r} is not an id this API issued")
    if expected_type is not None and type_name != expected_type:
        raise ClientError(f"{global_id!r} is the id of a {type_name}, not of a {expected_type}")
    return type_name, parts
