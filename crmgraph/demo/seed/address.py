"""A party's street address as the party itself writes it, and the other ways the same address is written.

An address keeps its parts (number, street name and kind, district, unit, city, postcode) so that one
system can write it abbreviated, another in another script, a third without its number. The *canonical*
form is how the party writes it on its own letterhead: Chinese addresses in hanzi
(``浦东新区张江路123号``), Tokyo ones in romaji (``2-7-1 Marunouchi, Chiyoda-ku``), everything else in
the country's usual order with words in full (``450 North Lake Shore Drive, Suite 1200``,
``Leipziger Straße 12``, ``12 rue de la Paix``).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from crmgraph.demo.seed import vocabulary as vocab

_GERMAN_FOLDS = str.maketrans({"ß": "ss", "ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def fold(text: str) -> str:
    """Latin text as a system without accents writes it: ``Straße`` -> ``Strasse``, ``Jaurès`` -> ``Jaures``."""
    if text.isascii():
        return text
    text = text.translate(_GERMAN_FOLDS)
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


@dataclass(frozen=True)
class Address:
    layout: str  # "en" | "de" | "fr" | "jp" | "cn": the order and words the country writes
    number: str  # "450", "12a", "2-7-1", "123"
    name: str  # the street name in the address's own script: "Lake Shore", "Haupt", "丸の内", "张江"
    name_latin: str  # the same in Latin script (romaji, pinyin); the same as ``name`` elsewhere
    kind: tuple[str, ...]  # en/de/fr: (full, abbreviation); cn: (hanzi, English, English abbreviation)
    prefix: tuple[str, str] | None  # en: a direction (full, abbreviation); de: ("", "") for an adjective name
    district: tuple[str, ...] | None  # cn: (hanzi, English name, English kind); jp: (ward kanji, ward romaji)
    unit: tuple[str, str, bool] | None  # en: (full, abbreviation, written before the street)
    city: str  # as the party writes it
    city_other_script: str  # "" when the city has no other script
    city_aliases: tuple[str, ...]
    postcode: str

    @cached_property
    def street(self) -> str:
        """The canonical street line."""
        return self.street_line()

    def street_line(self, *, other_script: bool = False, abbreviate: bool = False, number: bool = True) -> str:
        """The street line in the other script (pinyin, kanji, without accents), abbreviated, without number."""
        match self.layout:
            case "cn":
                return self._chinese(other_script, abbreviate, number)
            case "jp":
                return self._japanese(other_script, abbreviate, number)
            case "de":
                full, short = self.kind
                kind = short if abbreviate else full
                street = f"{self.name} {kind.capitalize()}" if self.prefix else f"{self.name}{kind}"
                line = f"{street} {self.number}" if number else street
            case "fr":
                full, short = self.kind
                line = f"{short if abbreviate else full} {self.name}"
                line = f"{self.number} {line}" if number else line
            case _:
                line = self._english(abbreviate, number)
        return fold(line) if other_script else line

    def _english(self, abbreviate: bool, number: bool) -> str:
        full, short = self.kind
        words = [short if abbreviate else full]
        words.insert(0, self.name)
        if self.prefix:
            words.insert(0, self.prefix[1] if abbreviate else self.prefix[0])
        if number:
            words.insert(0, self.number)
        line = " ".join(words)
        if self.unit is None:
            return line
        unit_full, unit_short, before = self.unit
        unit = unit_short if abbreviate else unit_full
        return f"{unit}, {line}" if before else f"{line}, {unit}"

    def _chinese(self, latin: bool, abbreviate: bool, number: bool) -> str:
        assert self.district is not None
        hanzi, english, english_short = self.kind
        district_hanzi, district_name, district_kind = self.district
        if not latin:  # hanzi has no abbreviations worth the name
            return (
                f"{district_hanzi}{self.name}{hanzi}{self.number}号"
                if number
                else f"{district_hanzi}{self.name}{hanzi}"
            )
        if abbreviate:
            english, district_kind = english_short, district_kind.replace("District", "Dist.")
        street = f"{self.name_latin} {english}, {district_name} {district_kind}"
        return f"No. {self.number} {street}" if number else street

    def _japanese(self, kanji: bool, abbreviate: bool, number: bool) -> str:
        assert self.district is not None
        ward_kanji, ward = self.district
        if kanji:
            return f"{ward_kanji}{self.name}{self.number}" if number else f"{ward_kanji}{self.name}"
        ward = ward if abbreviate else f"{ward}-ku"
        return f"{self.number} {self.name_latin}, {ward}" if number else f"{self.name_latin}, {ward}"

    def city_as(self, *, other_script: bool = False, alias: int | None = None) -> str:
        if other_script and self.city_other_script:
            return self.city_other_script
        city = self.city_aliases[alias] if alias is not None and self.city_aliases else self.city
        return fold(city) if other_script else city


def _favour_head(rng: random.Random, options: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """An option drawn with the commonest (first) ones more likely: the smaller of two uniform draws."""
    return options[min(rng.randrange(len(options)), rng.randrange(len(options)))]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _postcode(rng: random.Random, place: vocab.Place, jp_prefix: str) -> str:
    def digits(n: int) -> str:
        return f"{rng.randrange(10**n):0{n}d}" if n > 0 else ""

    match place.country:
        case "GB":
            outward = rng.choice(vocab.GB_OUTWARD_CODES[place.city])
            letters = "ABDEFGHJLNPQRSTUWXYZ"
            return f"{outward} {rng.randrange(1, 10)}{rng.choice(letters)}{rng.choice(letters)}"
        case "JP":
            return f"{jp_prefix}-{digits(4)}"
        case "FR":
            return f"750{rng.randrange(1, 21):02d}"
        case _:
            prefix = rng.choice(vocab.POSTCODE_PREFIXES[place.city])
            length = 6 if place.country in ("CN", "SG") else 5
            return prefix + digits(length - len(prefix))


def draw_address(rng: random.Random, place: vocab.Place) -> Address:
    """A plausible business address in ``place``."""
    other_script, aliases = vocab.CITY_FORMS[place.city]
    prefix: tuple[str, str] | None = None
    district: tuple[str, ...] | None = None
    unit: tuple[str, str, bool] | None = None
    jp_prefix = ""
    match place.country:
        case "CN":
            layout = "cn"
            name, name_latin = rng.choice(vocab.CN_STREET_NAMES)
            kind: tuple[str, ...] = _favour_head(rng, vocab.CN_STREET_KINDS)
            district = rng.choice(vocab.CN_DISTRICTS[place.city])
            number = str(rng.randrange(1, 1500))
        case "JP":
            layout = "jp"
            name, name_latin, ward_kanji, ward, jp_prefix = rng.choice(vocab.JP_AREAS)
            kind, district = (), (ward_kanji, ward)
            number = f"{rng.randrange(1, 8)}-{rng.randrange(1, 30)}-{rng.randrange(1, 20)}"
        case "DE":
            layout = "de"
            kind = _favour_head(rng, vocab.DE_STREET_KINDS)
            if rng.random() < 0.25:
                name, prefix = rng.choice(vocab.DE_STREET_ADJECTIVES), ("", "")
                kind = vocab.DE_STREET_KINDS[0] if rng.random() < 0.7 else kind
            else:
                name = rng.choice(vocab.DE_STREET_STEMS)
            name_latin = name
            number = str(rng.randrange(1, 180)) + (rng.choice("abc") if rng.random() < 0.08 else "")
        case "FR":
            layout = "fr"
            kind = _favour_head(rng, vocab.FR_STREET_KINDS)
            name = name_latin = rng.choice(vocab.FR_STREET_NAMES)
            number = str(rng.randrange(1, 220)) + (rng.choice((" bis", " ter")) if rng.random() < 0.05 else "")
        case country:
            layout = "en"
            kind = _favour_head(rng, vocab.EN_STREET_KINDS[country])
            name = rng.choice(vocab.EN_STREET_NAMES[country])
            if country == "US" and kind[0] in ("Street", "Avenue") and rng.random() < 0.25:
                name = _ordinal(rng.randrange(1, 120))
            name_latin = name
            number = str(rng.randrange(1, 2400) if country == "US" else rng.randrange(1, 300))
            if country == "US" and rng.random() < 0.2:
                prefix = rng.choice(vocab.US_DIRECTIONS)
            roll = rng.random()
            if country == "US" and roll < 0.35:
                full, short = rng.choice(vocab.US_UNITS)
                value = rng.randrange(2, 60) * (100 if full == "Suite" and rng.random() < 0.5 else 1)
                unit = (f"{full} {value}", f"{short} {value}" if short != "#" else f"#{value}", False)
            elif country == "SG" and roll < 0.6:
                floor_unit = f"#{rng.randrange(1, 40):02d}-{rng.randrange(1, 20):02d}"
                unit = (floor_unit, floor_unit, False)
            elif country == "GB" and roll < 0.15:
                label = f"Unit {rng.randrange(1, 30)}"
                unit = (label, label, True)
    return Address(
        layout=layout,
        number=number,
        name=name,
        name_latin=name_latin,
        kind=kind,
        prefix=prefix,
        district=district,
        unit=unit,
        city=place.city,
        city_other_script=other_script,
        city_aliases=aliases,
        postcode=_postcode(rng, place, jp_prefix),
    )
