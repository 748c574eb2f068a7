"""Normalisation: the same value written differently by different systems becomes one comparable form.

Every function takes what a system recorded (or ``None``) and returns the normalised value, or ``None``
when nothing usable is left. They never raise on odd input: a value they cannot read is missing, which
the matcher treats as no evidence either way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from pypinyin import lazy_pinyin
from rapidfuzz.distance import Levenshtein

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
CJK_LEGAL_CHARACTERS = frozenset("".join(CJK_LEGAL_FORMS))
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
ROLE_MAILBOXES = frozenset(
    {"info", "sales", "support", "admin", "office", "contact", "hello", "service", "billing", "accounts", "noreply"}
)
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
_INTERNATIONAL = re.compile(r"\+[1-9][\d .\-()/]{6,}")


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
    dotted = raw.endswith(".")  # an abbreviation's dot: the last word is a legal form, perhaps clipped
    while len(words) > 1 and (found := _legal_form(words[-1], dotted and not form)) is not None:
        form.insert(0, found)
        words.pop()
    return " ".join(words), " ".join(form)


def _legal_form(word: str, dotted: bool = False) -> str | None:
    """The legal form a word is, allowing one slip in a long one ("Coporation", "Limted") and one letter
    dropped from a dotted abbreviation ("In." for "Inc.", "Lt." for "Ltd.")."""
    if word in LEGAL_FORMS:
        return LEGAL_FORMS[word]
    if len(word) >= 6:
        for written, form in LEGAL_FORMS.items():
            if len(written) >= 6 and Levenshtein.distance(word, written, score_cutoff=1) <= 1:
                return form
    if dotted and len(word) >= 2:
        for written, form in LEGAL_FORMS.items():
            if len(written) == len(word) + 1 and Levenshtein.distance(word, written, score_cutoff=1) <= 1:
                return form
    return None


def _cjk_company(raw: str) -> tuple[str, str] | None:
    compact = "".join(raw.split())
    city = ""
    for match in _BRACKETED.finditer(compact):
        city = _bracketed_city(match.group(1)) or city
    compact = _BRACKETED.sub("", compact)
    # The legal form is the trailing run of its characters, in whatever order a slip left them
    # (有限公司, 有限司公, 限有): the run is taken off, and named by the characters it holds.
    cut = len(compact)
    while cut > 1 and compact[cut - 1] in CJK_LEGAL_CHARACTERS:
        cut -= 1
    run = compact[cut:]
    form = ""
    if len(run) >= 2 and cut > 0:
        compact = compact[:cut]
        form = next((name for name in CJK_LEGAL_FORMS if set(name) <= set(run)), "有限公司" if "限" in run else "公司")
    if not city:
        for prefix in CJK_CITY_PREFIXES:
            if compact.startswith(prefix) and len(compact) > len(prefix):
                city, compact = prefix, compact[len(prefix) :]
                break
    core = (fold(city + compact) or "").replace(" ", "")
    return (core, form) if core else None


def _bracketed_city(text: str) -> str | None:
    """The city a bracket names: a known one, or the one known city whose characters a clipped bracket
    ("（都）" for 成都) still holds."""
    if text in CJK_CITY_PREFIXES:
        return text
    holding = [city for city in CJK_CITY_PREFIXES if text and set(text) <= set(city)]
    return holding[0] if len(holding) == 1 else None


# Two-character Chinese family names; every other family name is the name's first character.
CJK_COMPOUND_SURNAMES = frozenset(
    {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "轩辕"}
)


@lru_cache(maxsize=65536)
def romanize(text: str) -> str:
    """Hanzi as pinyin syllables run together per word (上海 -> shanghai); other text as it is."""
    if not has_cjk(text):
        return text
    return " ".join("".join(lazy_pinyin(word)) for word in text.split())


@lru_cache(maxsize=65536)
def person_name_parts(
    full: str | None, first: str | None, last: str | None
) -> tuple[str, str | None, str | None] | None:
    """(order-free name key, given name, family name), all romanised, from what a system keeps.

    A Chinese name written in hanzi (王秀英, family name first) and in pinyin ("Xiuying Wang", "wang xiuying")
    gives one key: the romanised given and family names, sorted. A full name alone is split as its
    script writes names: the first character (or a two-character family name) for hanzi, the last word
    otherwise.
    """
    given, family = fold(first), fold(last)
    whole = fold(full)
    if given is None and family is None and whole is not None:
        if has_cjk(whole) and " " not in whole:
            size = 2 if whole[:2] in CJK_COMPOUND_SURNAMES else 1
            family, given = whole[:size], whole[size:] or None
        elif " " in whole:
            words = whole.split()
            given, family = " ".join(words[:-1]), words[-1]
        else:
            family = whole
    parts = [romanize(part) for part in (given, family) if part]
    if not parts:
        return None
    given_key = romanize(given).replace(" ", "") if given else None
    family_key = romanize(family).replace(" ", "") if family else None
    words = " ".join(parts).split()
    syllables = [pinyin_syllables(word) for word in words]
    if all(found is not None for found in syllables):
        # A romanised Chinese name, however it was spaced (zhaona, zhao na, na zhao, Zhu Yuhan): by syllable.
        words = [syllable for found in syllables if found for syllable in found]
    return " ".join(sorted(words)), given_key, family_key


@lru_cache(maxsize=1)
def _pinyin_syllables() -> frozenset[str]:
    """Every syllable pinyin writes (about 420), read from pypinyin's own dictionary once."""
    return frozenset(lazy_pinyin("".join(chr(code) for code in range(0x4E00, 0x9FA6))))


@lru_cache(maxsize=65536)
def pinyin_syllables(word: str) -> tuple[str, ...] | None:
    """``word`` split into pinyin syllables (zhaona -> zhao na), fewest syllables first; None if it is not
    pinyin (smith) or a single syllable longer split makes no difference to (wang)."""
    known = _pinyin_syllables()
    best: list[tuple[str, ...] | None] = [()] + [None] * len(word)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            head = best[start]
            if head is not None and word[start:end] in known:
                candidate = (*head, word[start:end])
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    found = best[len(word)]
    return found if found else None


def person_name(value: str | None) -> str | None:
    """A person's full name as an order-free, romanised key ("Li Wei" = "Wei Li" = 李伟)."""
    parts = person_name_parts(value, None, None)
    return parts[0] if parts else None


def email(value: str | None) -> str | None:
    """An e-mail address lower-cased and trimmed; None unless it has a local part and a dotted domain."""
    if value is None:
        return None
    address = unicodedata.normalize("NFKC", value).strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or " " in address:
        return None
    return f"{local}@{domain}"


def email_user(address: str | None) -> str | None:
    """The person part of an e-mail address, letters only: melissa.wilson@work and melissawilson96@home
    both give ``melissawilson``. None when too short to tell people apart, or a role (info@, sales@)."""
    if address is None:
        return None
    letters = "".join(ch for ch in address.partition("@")[0] if ch.isalpha())
    return letters if len(letters) >= 4 and letters not in ROLE_MAILBOXES else None


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
    if raw.startswith("+") and _INTERNATIONAL.fullmatch(raw):
        # Written with its country code: E.164 is its digits, whatever the separators. (phonenumbers would
        # say the same for a valid number, at a hundred times the cost, and this is most numbers.)
        return "+" + digits
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


# Postcodes as people write them inside a free-text address: British, Japanese, five or six digits.
_POSTCODES = (
    re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"),
    re.compile(r"(?<!\d)\d{3}-\d{4}(?!\d)"),
    re.compile(r"(?<![\d-])\d{5,6}(?:-\d{4})?(?![\d-])"),
)
_POSTCODE_MARKS = ("邮编", "郵便番号", "postcode", "zip")
_HOUSE_NUMBER = re.compile(r"(?<![\d-])\d{1,4}[a-z]?(?![\d])")


@dataclass(frozen=True)
class Address:
    street: str | None
    house_number: str | None
    postcode: str | None
    city: str | None


@lru_cache(maxsize=65536)
def address(line: str | None, postal_code: str | None = None, city: str | None = None) -> Address:
    """A street line, or a whole free-text address ("greater manchester m4 7rh unit 25 173 greenwich
    grove", "310732 杭州上城区 世纪东路 79"), taken apart: the postcode found in it when none is given, the
    given city taken out of it, the first short number as the house number, the rest as the street.

    A city the text holds but nobody named stays in the street here; :func:`city_out_of_street` takes it
    out once every record's city is known.
    """
    found_postcode = postcode(postal_code)
    if line is None:
        return Address(None, None, found_postcode, city_name(city))
    raw = unicodedata.normalize("NFKC", line)
    upper = raw.upper()
    for pattern in _POSTCODES:
        match = pattern.search(upper)
        if match:
            if found_postcode is None:
                found_postcode = postcode(match.group(0))
            raw = raw[: match.start()] + " " + raw[match.end() :]
            break
    for mark in _POSTCODE_MARKS:
        raw = re.sub(re.escape(mark), " ", raw, flags=re.IGNORECASE)
    if city:
        raw = raw.replace(unicodedata.normalize("NFKC", city), " ")
    folded = street(raw)
    number = None
    if folded is not None:
        match = _HOUSE_NUMBER.search(folded)
        number = match.group(0) if match else None
    return Address(folded, number, found_postcode, city_name(city))


@lru_cache(maxsize=65536)
def city_name(value: str | None) -> str | None:
    """A city's name romanised and folded: 广州, 广州市, Guangzhou and GUANGZHOU are one city; so are
    Berlin and Berlin-Mitte (a district after the hyphen), Manchester and Greater Manchester."""
    if value is None:
        return None
    written = unicodedata.normalize("NFKC", value).strip()
    if has_cjk(written):
        written = written.removesuffix("市") or written
        folded = fold(written)
        return romanize(folded).replace(" ", "") if folded else None
    head = written.split("-", 1)[0].strip()
    written = head if len(head) >= 3 else written
    folded = fold(written)
    if folded is not None and folded.startswith("greater ") and len(folded) > len("greater "):
        folded = folded[len("greater ") :]
    return folded


def city_out_of_street(street_line: str, cities: Sequence[tuple[str, str]]) -> tuple[str, str | None]:
    """(street without the city, the city's romanised name) for the first known city the street names.

    ``cities``: (as written, romanised name), longest first. A city written in hanzi may open a token
    without a space ("杭州上城区"), one in Latin letters is matched as whole words.
    """
    for written, name in cities:
        if has_cjk(written):
            position = street_line.find(written)
            if position >= 0:
                rest = (street_line[:position] + " " + street_line[position + len(written) :]).split()
                return " ".join(rest), name
        else:
            padded = f" {street_line} "
            if f" {written} " in padded:
                return " ".join(padded.replace(f" {written} ", " ", 1).split()), name
    return street_line, None


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
