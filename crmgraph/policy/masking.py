"""Masked values: enough to recognise a customer's contact, not enough to reach them.

    email    jane.doe@example.com    -> j•••@example.com
    phone    +49 30 1234 5678        -> •••• 5678
    tax id   DE123456789             -> ••••
    other    anything                -> ••••

A masked value always holds the mask character ``•`` (U+2022), which no e-mail address, phone number or
tax id holds; and the answer's ``extensions.masked`` lists the path of every masked value, so a frontend
can tell one from a real value without parsing it.
"""

from __future__ import annotations

import re

MASK = "\u2022"
HIDDEN = MASK * 4
_DIGITS = re.compile(r"\d")


def mask_email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not at or not local:
        return HIDDEN
    return f"{local[0]}{MASK * 3}@{domain}"


def mask_phone(value: str) -> str:
    digits = "".join(_DIGITS.findall(value))
    return f"{HIDDEN} {digits[-4:]}" if len(digits) > 6 else HIDDEN


def mask(kind: str, value: str | None) -> str | None:
    """``value`` masked the way its ``kind`` ("email", "phone", anything else: hidden) is."""
    if value is None:
        return None
    if kind == "email":
        return mask_email(value)
    if kind == "phone":
        return mask_phone(value)
    return HIDDEN


def is_masked(value: object) -> bool:
    return isinstance(value, str) and MASK in value
