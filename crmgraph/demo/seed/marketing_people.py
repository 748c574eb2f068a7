"""How the marketing system records a person and a company: what people type into web forms and what a
list import brings (a private address, a nickname, no phone, names in capitals, a slipped letter).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from crmgraph.demo.seed import vocabulary as vocab
from crmgraph.demo.seed.address_noise import AddressHabit, record_address
from crmgraph.demo.seed.crm_projection import COUNTRY_NAMES
from crmgraph.demo.seed.noise import (
    Noise,
    case_spacing,
    email_case,
    name_case,
    phone_as_recorded,
    private_email,
    typo,
)
from crmgraph.demo.seed.party import Party, Person, Phone

# Web forms ask for little: many companies come without a street or postcode.
MARKETING_HABIT = AddressHabit(
    cn_latin=0.6, jp_kanji=0.05, fold=0.2, abbreviate=0.3, case_spacing=0.08, typo=0.04, city_alias=0.1,
    postcode_slip=0.02, missing_address=0.25, missing_street=0.2, missing_number=0.05, missing_postcode=0.3,
    missing_city=0.05,
)  # fmt: skip
NICKNAMES = {
    "James": "Jim", "Robert": "Bob", "John": "Jack", "Michael": "Mike", "David": "Dave", "Elizabeth": "Liz",
    "William": "Bill", "Richard": "Rick", "Joseph": "Joe", "Jessica": "Jess", "Thomas": "Tom",
    "Charles": "Charlie", "Daniel": "Dan", "Matthew": "Matt", "Anthony": "Tony", "Steven": "Steve",
    "Andrew": "Andy", "Joshua": "Josh", "Patricia": "Pat", "Jennifer": "Jen", "Susan": "Sue",
    "Barbara": "Barb", "Kevin": "Kev", "Sandra": "Sandy", "Pamela": "Pam", "Samuel": "Sam",
}  # fmt: skip


@dataclass(frozen=True)
class RecordedLead:
    firstname: str
    lastname: str
    email: str | None
    phone: str | None
    mobile: str | None
    noise: list[Noise]


def record_lead(rng: random.Random, person: Person) -> RecordedLead:
    """A known person as a lead: the name in Latin script more often than not, sometimes a nickname."""
    noise: list[Noise] = []
    first, last = person.first_name, person.last_name
    if person.chinese and rng.random() < 0.6:
        first, last = person.first_latin, person.last_latin
        noise.append(Noise.NAME_SCRIPT)
    if first.isascii():
        if first in NICKNAMES and rng.random() < 0.25:
            first = NICKNAMES[first]
            noise.append(Noise.NICKNAME)
        if rng.random() < 0.04:
            last = typo(rng, last)
            noise.append(Noise.TYPO)
        if rng.random() < 0.05:
            first, last = name_case(rng, first), name_case(rng, last)
            noise.append(Noise.CASE_SPACING)
    email: str | None = person.email
    if rng.random() < 0.22:
        email = private_email(rng, person)
        noise.append(Noise.OTHER_EMAIL)
    elif rng.random() < 0.03:
        email = None
        noise.append(Noise.MISSING_EMAIL)
    elif rng.random() < 0.05:
        email = email_case(rng, person.email)
        noise.append(Noise.EMAIL_CASE)
    phone, mobile = _phones(rng, person.phone, noise)
    return RecordedLead(first, last, email, phone, mobile, noise)


def _phones(rng: random.Random, phone: Phone, noise: list[Noise]) -> tuple[str | None, str | None]:
    """(phone, mobile): people type the national form into web forms; many leave it out."""
    if rng.random() < 0.45:
        noise.append(Noise.MISSING_PHONE)
        return None, None
    typed, reformatted = phone_as_recorded(rng, phone, "national", 0.35)
    if reformatted:
        noise.append(Noise.PHONE_FORMAT)
    return (None, typed) if rng.random() < 0.3 else (typed, None)


def new_person(rng: random.Random, key: str, chinese: bool, domain: str | None, place: vocab.Place) -> Person:
    """Someone only the marketing system knows: at ``domain`` (work address), or with a free-mail one."""
    if chinese and rng.random() < 0.85:
        (last, last_py), (first, first_py) = rng.choice(vocab.ZH_SURNAMES), rng.choice(vocab.ZH_GIVEN_NAMES)
        person_chinese = True
    else:
        first, last = rng.choice(vocab.EN_FIRST_NAMES), rng.choice(vocab.EN_LAST_NAMES)
        first_py, last_py, person_chinese = first, last, False
    local = f"{first_py}.{last_py}".lower()
    length = 8 if place.country in ("CN", "DE", "GB", "SG", "FR", "JP") else 7
    phone = Phone(place.phone_prefix, place.area_code, f"{rng.randrange(10**length):0{length}d}")
    person = Person(key, first, last, first_py, last_py, person_chinese, f"{local}@{domain or 'example.com'}",
                    phone, rng.choice(vocab.JOB_TITLES), in_crm=False, in_tickets=False)  # fmt: skip
    if domain is None:
        person = Person(key, first, last, first_py, last_py, person_chinese, private_email(rng, person), phone,
                        person.job_title, in_crm=False, in_tickets=False)  # fmt: skip
    return person


@dataclass(frozen=True)
class RecordedCompany:
    name: str
    website: str | None
    email: str | None
    phone: str | None
    address1: str | None
    city: str | None
    zipcode: str | None
    country: str
    industry: str
    noise: list[Noise]


def record_company(rng: random.Random, party: Party) -> RecordedCompany:
    noise: list[Noise] = []
    name = party.name
    if rng.random() < 0.12:
        name = case_spacing(rng, name)  # legal form variants ("Ltd." for "Ltd") come through here too
        noise.append(Noise.CASE_SPACING)
    if rng.random() < 0.04:
        name = typo(rng, name)
        noise.append(Noise.TYPO)
    website: str | None = f"https://www.{party.domain}"
    if rng.random() < 0.2:
        website = None
        noise.append(Noise.MISSING_DOMAIN)
    phone: str | None
    phone, reformatted = phone_as_recorded(rng, party.phone, "international", 0.25)
    if rng.random() < 0.35:
        phone = None
        noise.append(Noise.MISSING_PHONE)
    elif reformatted:
        noise.append(Noise.PHONE_FORMAT)
    address = record_address(rng, party.address, MARKETING_HABIT)
    noise += address.noise
    industry = party.industry[0].replace("_", " ").title()
    return RecordedCompany(
        name=name,
        website=website,
        email=party.email if rng.random() < 0.5 else None,
        phone=phone,
        address1=address.street or None,
        city=address.city or None,
        zipcode=address.postcode or None,
        country=COUNTRY_NAMES[party.place.country],
        industry=industry,
        noise=noise,
    )
