"""Normalisation: the same value written differently by different systems becomes one comparable form.

Every function takes what a system recorded (or ``None``) and returns the normalised value, or ``None``
when nothing usable is left. They never raise on odd input: a value they cannot read is missing, which
the matcher treats as no evidence either way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import phonenumbers

# Legal forms, as the words they normalise to (after case folding and dropping dots). Removed from a
# company's name so "Northwind Logistics Ltd." and "NORTHWIND LOGISTICS LIMITED" compare equal; kept
# apart as the legal form, because "X Ltd" and "X GmbH" are often different companies.
LEGAL_FORMS: dict[str, str] = {
    "ltd": "ltd", "limited": "ltd", "inc": "inc", "incorporated": "inc", "llc": "llc", "gmbh": "gmbh",
    "corp": "corp", "corporation": "corp", "plc": "plc", "pte": "pte", "co": "co", "company": "co",
    "ag": "ag", "sa": "sa", "sas": "sas", "sarl": "sarl", "bv": "bv", "nv": "nv", "kk": "kk", "kg": "kg",
    "llp": "llp", "lp": "lp", "oy": "oy", "ab": "ab", "spa": "spa", "srl": "srl", "pty": "pty",
}  # fmt: skip
# Chinese legal forms, longest first so that 股份有限公司 is not read as 有限公司 plus 股份.
CJK_LEGAL_FORMS = ("股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "株式会社", "集团", "公司")
# Chinese cities that open or bracket a company's registered name: 上海华信科技 = 华信科技（上海）.
CJK_CITY_PREFIXES = (
    "上海", "北京", "深圳", "广州", "杭州", "成都", "天津", "重庆", "南京", "武汉", "苏州", "西安", "香港",
)  # fmt: skip
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com", "outlook.com", "live.com",
        "msn.com", "aol.com", "icloud.com", "me.com", "mail.com", "gmx.de", "gmx.net", "web.de", "proton.me",
        "protonmail.com", "yandex.ru", "qq.com", "163.com", "126.com", "sina.com", "sohu.com", "foxmail.com",
        "aliyun.com", "139.com", "yeah.net",
    }
)  # fmt: skip
# Street words and their abbreviations, folded to one form.
STREET_WORDS: dict[str, str] = {
    "road": "rd", "rd": "rd", "street": "st", "st": "st", "str": "st", "strasse": "st", "straße": "st",
    "avenue": "ave", "ave": "ave", "av": "ave", "boulevard": "blvd", "blvd": "blvd", "drive": "dr", "dr": "dr",
    "lane": "ln", "ln": "ln", "place": "pl", "pl": "pl", "square": "sq", "sq": "sq", "court": "ct",
    "ct": "ct", "highway": "hwy", "hwy": "hwy", "parkway": "pkwy", "pkwy": "pkwy", "way": "way",
    "north": "n", "n": "n", "south": "s", "s": "s", "east": "e", "e": "e", "west": "w", "w": "w",
    "suite": "ste", "ste": "ste", "floor": "fl", "fl": "fl", "building": "bldg", "bldg": "bldg",
    "rue": "rue", "terrace": "ter", "ter": "ter", "crescent": "cres", "cres": "cres", "close": "cl",
}  # fmt: skip
CJK_ADDRESS_MARKS = str.maketrans({"号": " ", "路": "路 ", "街": "街 ", "道": "道 ", "区": "区 ", "市": "市 "})

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PUNCTUATION_TO_SPACE = re.compile(r"[^\w\s]|_", re.UNICODE)
_BRACKETED = re.compile(r"[(\[（【]([^)\]）】]*)[)\]）】]")
_DIGITS = re.compile(r"\d+")


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def fold(text: str | None) -> str | None:
    """Full-width to half-width (NFKC), case folded, punctuation to spaces, single spaces; None if empty.

    Dots are dropped rather than spaced so that abbreviations stay one word ("Co." is "co", "U.S." "us").
    """
    if text is None:
        return None
    folded = unicodedata.normalize("NFKC", text).casefold().replace(".", "").replace("'", "")
    folded = " ".join(_PUNCTUATION_TO_SPACE.sub(" ", folded).split())
    return folded or None


def text(value: str | None) -> str | None:
    """Plain text compared as written, but for width, case, punctuation and spacing."""
    return fold(value)


@lru_cache(maxsize=65536)
def company_name(value: str | None) -> tuple[str, str] | None:
    """(name core, legal form) of a company name: legal forms, bracketed cities and spacing removed.

    ``"Northwind Logistics Ltd."`` -> ``("northwind logistics", "ltd")``;
    ``"华信科技（上海）有限公司"`` and ``"上海 华信科技有限公司"`` -> ``("上海华信科技", "有限公司")``.
    """
    if value is None:
        return None
    raw = unicodedata.normalize("NFKC", value).strip()
    if not raw:
        return None
    if has_cjk(raw):
        return _cjk_company(raw)
    folded = fold(raw)
    if folded is None:
        return None
    words = folded.split()
    form: list[str] = []
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        form.insert(0, LEGAL_FORMS[words.pop()])
    return " ".join(words), " ".join(form)


def _cjk_company(raw: str) -> tuple[str, str] | None:
    compact = "".join(raw.split())
    city = ""
    for match in _BRACKETED.finditer(compact):
        if match.group(1) in CJK_CITY_PREFIXES:
            city = match.group(1)
    compact = _BRACKETED.sub("", compact)
    form = ""
    for suffix in CJK_LEGAL_FORMS:
        if compact.endswith(suffix) and len(compact) > len(suffix):
            compact, form = compact[: -len(suffix)], suffix
            break
    if not city:
        for prefix in CJK_CITY_PREFIXES:
            if compact.startswith(prefix) and len(compact) > len(prefix):
                city, compact = prefix, compact[len(prefix) :]
                break
    core = (fold(city + compact) or "").replace(" ", "")
    return (core, form) if core else None


@lru_cache(maxsize=65536)
def person_name(value: str | None) -> str | None:
    """A person's name as an order-free key: tokens sorted ("Li Wei" = "Wei Li"); CJK by character."""
    folded = fold(value)
    if folded is None:
        return None
    if has_cjk(folded):
        return "".join(sorted(folded.replace(" ", "")))
    return " ".join(sorted(folded.split()))


def email(value: str | None) -> str | None:
    """An e-mail address lower-cased and trimmed; None unless it has a local part and a dotted domain."""
    if value is None:
        return None
    address = unicodedata.normalize("NFKC", value).strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or " " in address:
        return None
    return f"{local}@{domain}"


def domain(value: str | None) -> str | None:
    """The registered host of a web address or e-mail address, without ``www.``; None for free mail."""
    if value is None:
        return None
    host = unicodedata.normalize("NFKC", value).strip().lower()
    if "@" in host:
        host = host.rpartition("@")[2]
    host = host.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split(":", 1)[0].strip(". ")
    host = host.removeprefix("www.")
    if "." not in host or " " in host or host in FREE_MAIL_DOMAINS:
        return None
    return host


@lru_cache(maxsize=65536)
def phone(value: str | None, region: str | None = None) -> str | None:
    """A phone number in E.164 (``+862112345678``), read in ``region`` (ISO country) when it has no ``+``.

    A reading that ``phonenumbers`` finds valid wins (it knows each country's trunk prefixes and
    lengths). A number outside every numbering plan it knows is still kept, by its digits: with the
    trunk ``0`` dropped and the region's country code put in front, unless it is written with it
    already ("86.21.1234.5678"). None when there are too few digits to be a number.
    """
    if value is None:
        return None
    raw = unicodedata.normalize("NFKC", value).strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) < 6:
        return None
    readings = [(raw, region.upper() if region else None)]
    if not raw.startswith(("+", "0")):
        readings.append(("+" + raw, None))
    for candidate, reading_region in readings:
        try:
            parsed = phonenumbers.parse(candidate, reading_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if raw.startswith("+"):
        return "+" + digits
    if raw.startswith("00"):
        return "+" + digits[2:]
    calling_code = str(phonenumbers.country_code_for_region(region.upper())) if region else ""
    if not calling_code or calling_code == "0":
        return None
    if digits.startswith("0"):
        return "+" + calling_code + digits[1:]
    if digits.startswith(calling_code) and len(digits) - len(calling_code) >= 7:
        return "+" + digits
    return "+" + calling_code + digits


def tax_id(value: str | None) -> str | None:
    """A tax or registration number: letters and digits only, upper case."""
    if value is None:
        return None
    kept = "".join(ch for ch in unicodedata.normalize("NFKC", value).upper() if ch.isalnum())
    return kept or None


def postcode(value: str | None) -> str | None:
    if value is None:
        return None
    kept = "".join(ch for ch in unicodedata.normalize("NFKC", value).upper() if ch.isalnum())
    return kept or None


@lru_cache(maxsize=65536)
def street(value: str | None) -> str | None:
    """A street line with abbreviations folded (Road = Rd) and words ordered as written."""
    if value is None:
        return None
    raw = unicodedata.normalize("NFKC", value)
    if has_cjk(raw):
        raw = raw.translate(CJK_ADDRESS_MARKS)
    folded = fold(raw)
    if folded is None:
        return None
    return " ".join(STREET_WORDS.get(word, word) for word in folded.split())


def house_number(value: str | None) -> str | None:
    """The first number in a street line: the part of an address most often kept whole."""
    if value is None:
        return None
    found = _DIGITS.search(unicodedata.normalize("NFKC", value))
    return found.group(0) if found else None


def date(value: str | None) -> str | None:
    """A date as ``YYYYMMDD`` from the usual ways of writing one; None when unreadable."""
    if value is None:
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) == 8:
        # YYYYMMDD or DDMMYYYY: a year is the part that starts with 19 or 20.
        if digits[:2] in ("19", "20"):
            return digits
        if digits[4:6] in ("19", "20"):
            return digits[4:] + digits[2:4] + digits[:2]
    return None


def first_values(values: Iterable[str | None], limit: int) -> frozenset[str]:
    """The distinct non-empty values, at most ``limit`` of them (most records have one or two)."""
    kept: list[str] = []
    for value in values:
        if value and value not in kept:
            kept.append(value)
            if len(kept) == limit:
                break
    return frozenset(kept)
