"""How each system records an address: its habits (the ERP abbreviates and writes Chinese addresses in
pinyin, the CRM leaves the postcode out) and the slips people make (typos, case, a wrong postcode digit).

Noise is measured against the party's own address (:mod:`address`): a record whose noise names no
address kind holds exactly the canonical street line, city and postcode.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from crmgraph.demo.seed.address import Address
from crmgraph.demo.seed.noise import Noise, is_cjk, typo

_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


@dataclass(frozen=True)
class AddressHabit:
    """The share of a system's records written each way (``missing_*`` and slips scale for duplicates)."""

    cn_latin: float  # a Chinese address in pinyin and English words
    jp_kanji: float  # a Tokyo address in kanji
    fold: float  # a German or French address without ß and accents
    abbreviate: float
    case_spacing: float
    typo: float
    city_alias: float
    postcode_slip: float
    missing_address: float
    missing_street: float
    missing_number: float
    missing_postcode: float
    missing_city: float

    def other_script(self, layout: str) -> float:
        return {"cn": self.cn_latin, "jp": self.jp_kanji, "de": self.fold, "fr": self.fold}.get(layout, 0.0)


# Sales reps type what the customer's letterhead says, and skip what they do not need.
CRM_HABIT = AddressHabit(
    cn_latin=0.12, jp_kanji=0.08, fold=0.08, abbreviate=0.25, case_spacing=0.05, typo=0.03, city_alias=0.08,
    postcode_slip=0.02, missing_address=0.06, missing_street=0.05, missing_number=0.04, missing_postcode=0.2,
    missing_city=0.03,
)  # fmt: skip
# Finance keeps what invoices need, in the Latin script of the vendor's ERP, often in capitals.
ERP_HABIT = AddressHabit(
    cn_latin=0.5, jp_kanji=0.03, fold=0.35, abbreviate=0.55, case_spacing=0.22, typo=0.04, city_alias=0.06,
    postcode_slip=0.03, missing_address=0.0, missing_street=0.01, missing_number=0.03, missing_postcode=0.04,
    missing_city=0.01,
)  # fmt: skip
# Support agents paste whatever the customer wrote, when they bother.
TICKET_HABIT = AddressHabit(
    cn_latin=0.25, jp_kanji=0.3, fold=0.15, abbreviate=0.35, case_spacing=0.1, typo=0.05, city_alias=0.12,
    postcode_slip=0.02, missing_address=0.3, missing_street=0.15, missing_number=0.06, missing_postcode=0.35,
    missing_city=0.08,
)  # fmt: skip


@dataclass(frozen=True)
class RecordedAddress:
    street: str  # "" when not recorded
    city: str
    postcode: str
    noise: list[Noise]


def _case_spacing(rng: random.Random, text: str) -> str:
    """The same text cased, spaced or punctuated differently (never the same text)."""
    if is_cjk(text):
        if any(ch.isdigit() for ch in text) and rng.random() < 0.6:
            return text.translate(_FULL_WIDTH)  # "１２３号": typed with a full-width input method
        for mark in ("区", "市", "路", "道", "街"):
            at = text.find(mark)
            if 0 <= at < len(text) - 1:
                return f"{text[: at + 1]} {text[at + 1 :]}"
        return " ".join(text)
    for _ in range(3):
        roll = rng.random()
        if roll < 0.45:
            changed = text.upper()
        elif roll < 0.6:
            changed = text.lower()
        elif roll < 0.7:
            changed = text.title()
        elif roll < 0.85:
            changed = text.replace(" ", "  ", 1)
        else:
            changed = text.replace(", ", " ", 1) if ", " in text else text.replace(" ", ", ", 1)
        if changed != text:
            return changed
    return text.upper() if text.upper() != text else text.lower()


def _postcode_case_spacing(postcode: str) -> str:
    """A postcode without its space or hyphen ("EC2A4BX", "1000005"), or in small letters."""
    squeezed = postcode.replace(" ", "").replace("-", "")
    return squeezed if squeezed != postcode else postcode.lower()


def postcode_slip(rng: random.Random, code: str) -> str:
    """One digit mistyped, or two neighbouring digits swapped (never the same code)."""
    digits = [i for i, ch in enumerate(code) if ch.isdigit()]
    if not digits:
        return code + "0"
    i = rng.choice(digits)
    if i + 1 in digits and code[i] != code[i + 1] and rng.random() < 0.3:
        return code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    return code[:i] + rng.choice([d for d in "0123456789" if d != code[i]]) + code[i + 1 :]


def record_address(rng: random.Random, address: Address, habit: AddressHabit, scale: float = 1.0) -> RecordedAddress:
    """What one system holds of ``address``; ``scale`` > 1 makes gaps and slips likelier (a hasty duplicate)."""
    draw = rng.random
    if draw() < habit.missing_address * scale:
        return RecordedAddress("", "", "", [Noise.MISSING_ADDRESS])
    other = draw() < habit.other_script(address.layout)
    abbreviate = draw() < habit.abbreviate
    number = draw() >= habit.missing_number * scale
    aliases = address.city_aliases
    alias = rng.randrange(len(aliases)) if aliases and draw() < habit.city_alias * scale else None
    has_street = draw() >= habit.missing_street * scale
    has_city = draw() >= habit.missing_city * scale
    has_postcode = draw() >= habit.missing_postcode * scale
    if not (has_street or has_city or has_postcode):
        return RecordedAddress("", "", "", [Noise.MISSING_ADDRESS])

    noise: list[Noise] = []
    street = city = postcode = ""
    if has_street:
        street = address.street_line(other_script=other, abbreviate=abbreviate, number=number)
        if other and street != address.street_line(abbreviate=abbreviate, number=number):
            noise.append(Noise.ADDRESS_SCRIPT)
        if abbreviate and street != address.street_line(other_script=other, number=number):
            noise.append(Noise.ADDRESS_ABBREVIATION)
        if not number:
            noise.append(Noise.MISSING_STREET_NUMBER)
    else:
        noise.append(Noise.MISSING_STREET)
    if has_city:
        city = address.city_as(other_script=other, alias=alias)
        if other and Noise.ADDRESS_SCRIPT not in noise and city != address.city_as(alias=alias):
            noise.append(Noise.ADDRESS_SCRIPT)
        if alias is not None and city != address.city_as(other_script=other):
            noise.append(Noise.CITY_ALIAS)
    else:
        noise.append(Noise.MISSING_CITY)
    if has_postcode:
        postcode = address.postcode
    else:
        noise.append(Noise.MISSING_POSTCODE)

    if draw() < habit.case_spacing * scale:
        before = (street, city, postcode)
        if street and (not city or draw() < 0.75):
            street = _case_spacing(rng, street)
        if city and (street == before[0] or draw() < 0.4):
            city = _case_spacing(rng, city)
        if postcode and address.layout in ("en", "jp") and draw() < 0.3:
            postcode = _postcode_case_spacing(postcode)
        if (street, city, postcode) != before:
            noise.append(Noise.ADDRESS_CASE_SPACING)
    if (street or city) and draw() < habit.typo * scale:
        if street and (not city or draw() < 0.75):
            street = typo(rng, street)
        else:
            city = typo(rng, city)
        noise.append(Noise.ADDRESS_TYPO)
    if postcode and draw() < habit.postcode_slip * scale:
        postcode = postcode_slip(rng, postcode)
        noise.append(Noise.POSTCODE_SLIP)
    return RecordedAddress(street, city, postcode, noise)


def as_free_text(rng: random.Random, address: Address, recorded: RecordedAddress) -> str | None:
    """The address as someone types it into one text field, in whatever order and with whatever separators."""
    street, city, postcode = recorded.street, recorded.city, recorded.postcode
    if not (street or city or postcode):
        return None
    if is_cjk(street) or is_cjk(city):  # hanzi and kanji addresses run on, largest place first
        place = f"{city}{street}"
        if not postcode:
            return place
        if address.layout == "jp":
            return f"〒{postcode} {place}"
        return rng.choice((f"{place} {postcode}", f"{place}（邮编：{postcode}）", f"{postcode} {place}"))
    parts = (postcode, city) if address.layout in ("de", "fr") else (city, postcode)
    locality = " ".join(part for part in parts if part)
    lines = [line for line in (street, locality) if line]
    if rng.random() < 0.15:
        lines.reverse()
    return (", " if rng.random() < 0.75 else "\n").join(lines)
