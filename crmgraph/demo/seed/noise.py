"""The data-quality noise real systems have: typos, case and spacing, phone formats, missing fields.

Every function takes the clean value and a random stream and returns what one system recorded; the
projection modules record which kind of noise they applied so the ground truth can say so.
"""

from __future__ import annotations

import random
from enum import StrEnum

from crmgraph.demo.seed.party import Phone


class Noise(StrEnum):
    TYPO = "typo"
    CASE_SPACING = "case_spacing"
    PHONE_FORMAT = "phone_format"
    MISSING_EMAIL = "missing_email"
    MISSING_PHONE = "missing_phone"
    MISSING_TAX_ID = "missing_tax_id"
    MISSING_DOMAIN = "missing_domain"
    EMAIL_CASE = "email_case"
    DUPLICATE = "duplicate"


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def typo(rng: random.Random, text: str) -> str:
    """One keyboard slip: two neighbours swapped, a character dropped or doubled."""
    positions = [i for i, ch in enumerate(text[:-1]) if not ch.isspace() and not text[i + 1].isspace()]
    if not positions:
        return text + text[-1:]
    i = rng.choice(positions)
    match rng.randrange(3):
        case 0:
            return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        case 1:
            return text[:i] + text[i + 1 :]
        case _:
            return text[: i + 1] + text[i] + text[i + 1 :]


def case_spacing(rng: random.Random, text: str) -> str:
    """The same name written differently: case, spacing, punctuation, a reordered Chinese legal name."""
    if _is_cjk(text):
        # "上海华信科技有限公司" is also written "华信科技（上海）有限公司", or with spaces.
        for city in ("上海", "北京", "深圳", "广州", "杭州", "成都"):
            if text.startswith(city) and text.endswith("有限公司") and rng.random() < 0.6:
                return f"{text[len(city) : -4]}（{city}）有限公司"
        return " ".join(text) if rng.random() < 0.2 else f" {text} "
    match rng.randrange(4):
        case 0:
            return text.upper()
        case 1:
            return text.lower()
        case 2:
            return text.replace(" ", "  ", 1) + " "
        case _:
            return text.replace(" Ltd", " Limited").replace(" Inc", " Inc.").replace(" Co", " Co.")


def email_case(rng: random.Random, email: str) -> str:
    """The same address in odd case (systems trim blanks on input, but few fold case)."""
    local, _, domain = email.partition("@")
    return f"{local.capitalize()}@{domain.upper()}" if rng.random() < 0.5 else email.upper()


# The ways a number is written; each system has a habit, and people break it now and then.
PHONE_STYLES = ("e164", "international", "national", "dotted")


def format_phone(phone: Phone, style: str) -> str:
    local = phone.local
    half = len(local) // 2
    match style:
        case "e164":
            return phone.e164
        case "international":
            return f"+{phone.country_code} {phone.area} {local[:half]} {local[half:]}"
        case "national":
            if phone.country_code == "1":
                return f"({phone.area}) {local[:3]}-{local[3:]}"
            return f"0{phone.area}-{local}"
        case _:
            return f"{phone.country_code}.{phone.area}.{local[:half]}.{local[half:]}"


def phone_as_recorded(rng: random.Random, phone: Phone, habit: str, deviate: float) -> tuple[str, bool]:
    """(what the system holds, whether it breaks the system's own habit).

    Systems already differ from one another by habit (the CRM writes ``+86 21 ...``, the ERP ``021-...``);
    the noise is a record written against its own system's habit.
    """
    style = rng.choice([s for s in PHONE_STYLES if s != habit]) if rng.random() < deviate else habit
    return format_phone(phone, style), style != habit
