"""The data-quality noise real systems have: typos, case and spacing, phone formats, missing fields.

Every function takes the clean value and a random stream and returns what one system recorded; the
projection modules record which kind of noise they applied so the ground truth can say so.
"""

from __future__ import annotations

import random
from enum import StrEnum

from crmgraph.demo.seed import vocabulary as vocab
from crmgraph.demo.seed.party import Person, Phone


class Noise(StrEnum):
    TYPO = "typo"
    CASE_SPACING = "case_spacing"
    PHONE_FORMAT = "phone_format"
    MISSING_EMAIL = "missing_email"
    MISSING_PHONE = "missing_phone"
    MISSING_TAX_ID = "missing_tax_id"
    MISSING_DOMAIN = "missing_domain"
    EMAIL_CASE = "email_case"
    OTHER_EMAIL = "other_email"  # a person's second address (a free-mail one) instead of the work one
    NAME_SCRIPT = "name_script"  # a person's name in pinyin where the others write hanzi
    NAME_ORDER = "name_order"  # given name and surname in each other's field
    NAME_SPLIT = "name_split"  # the whole name in the surname field
    NICKNAME = "nickname"  # Bill for William, as people write themselves into web forms
    DUPLICATE = "duplicate"
    # Addresses, measured against how the party writes its own address (see address.py).
    ADDRESS_ABBREVIATION = "address_abbreviation"  # Road as Rd, Straße as Str., District as Dist.
    ADDRESS_SCRIPT = "address_script"  # hanzi as pinyin, romaji as kanji, Straße as Strasse
    ADDRESS_TYPO = "address_typo"
    ADDRESS_CASE_SPACING = "address_case_spacing"
    CITY_ALIAS = "city_alias"  # 上海市 for 上海, NYC for New York, München for Munich
    POSTCODE_SLIP = "postcode_slip"  # one digit wrong or two swapped
    MISSING_ADDRESS = "missing_address"  # no street, city or postcode at all
    MISSING_STREET = "missing_street"
    MISSING_STREET_NUMBER = "missing_street_number"
    MISSING_POSTCODE = "missing_postcode"
    MISSING_CITY = "missing_city"


def is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def typo(rng: random.Random, text: str) -> str:
    """One keyboard slip: two neighbours swapped, a character dropped or doubled (never the same text)."""
    for _ in range(3):
        slipped = _slip(rng, text)
        if slipped != text:
            return slipped
    return text + text[-1:]


def _slip(rng: random.Random, text: str) -> str:
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
    if is_cjk(text):
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
            for form, variant in vocab.LEGAL_FORM_VARIANTS:
                if text.endswith(f" {form}"):
                    return text[: -len(form)] + variant
            return text.upper()


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


def private_email(rng: random.Random, person: Person) -> str:
    """A person's own address at a free-mail provider: what they write from when not at their desk."""
    first, last = (name.lower().replace(" ", "").replace("'", "") for name in (person.first_latin, person.last_latin))
    local = rng.choice(
        (
            f"{first}.{last}",
            f"{last}{first}",
            f"{first}{last}{rng.randrange(10, 99)}",
            f"{first[:1]}{last}{rng.randrange(1, 999)}",
        )
    )
    providers = vocab.CN_FREE_MAIL_DOMAINS if person.chinese else vocab.FREE_MAIL_DOMAINS
    return f"{local}@{rng.choice(providers)}"


def name_case(rng: random.Random, name: str) -> str:
    """A Latin name in capitals or small letters (forms typed in a hurry, legacy screens)."""
    return name.upper() if rng.random() < 0.7 else name.lower()
