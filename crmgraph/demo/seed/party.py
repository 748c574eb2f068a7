"""One party (a customer company and its people) as it really is, before any system records it.

Each party is drawn from its own random stream, seeded by (seed, index), so a party is the same whether or
not the others are generated, and each system's projection of it draws from a stream of its own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from crmgraph.demo.seed import vocabulary as vocab
from crmgraph.demo.seed.address import Address, draw_address

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)  # the estate's "today": fixed, so a seed always gives the same data
HISTORY = timedelta(days=3 * 365)


def stream(seed: int, index: int, purpose: str) -> random.Random:
    """A reproducible random stream for one party and one purpose (string seeds hash with SHA-512)."""
    return random.Random(f"{seed}:{index}:{purpose}")


def skewed(rng: random.Random, mean: float, cap: int, alpha: float = 1.6) -> int:
    """A count with a long tail (Pareto): most parties have a few, some have very many."""
    return min(cap, int((rng.paretovariate(alpha) - 1) * mean * (alpha - 1)))


@dataclass(frozen=True)
class Phone:
    country_code: str
    area: str
    local: str  # subscriber digits

    @property
    def e164(self) -> str:
        return f"+{self.country_code}{self.area}{self.local}"


@dataclass(frozen=True)
class Person:
    key: str  # "<party>-<n>", the person's ground-truth id
    first_name: str
    last_name: str
    first_latin: str  # the names in Latin script (pinyin for Chinese names; the same names otherwise)
    last_latin: str
    chinese: bool
    email: str
    phone: Phone
    job_title: str
    in_crm: bool
    in_tickets: bool

    @property
    def display_name(self) -> str:
        return f"{self.last_name}{self.first_name}" if self.chinese else f"{self.first_name} {self.last_name}"

    @property
    def latin_name(self) -> str:
        return f"{self.first_latin} {self.last_latin}"


@dataclass
class Party:
    index: int
    key: str  # ground-truth id, "P000042"
    chinese: bool
    name: str
    domain: str
    email: str
    phone: Phone
    tax_id: str
    place: vocab.Place
    address: Address
    industry: tuple[str, str]
    since: datetime
    employees: int
    annual_revenue: int
    owner_index: int
    in_crm: bool
    in_erp: bool
    in_tickets: bool
    # A second record of the same party inside one system (a classic data-quality problem).
    duplicated_in: frozenset[str]
    whale: bool
    persons: list[Person] = field(default_factory=list)

    def known_to(self, system: str) -> bool:
        return {"crm": self.in_crm, "erp": self.in_erp, "tickets": self.in_tickets}[system]


def _digits(rng: random.Random, count: int) -> str:
    return f"{rng.randrange(10**count):0{count}d}"


def _tax_id(rng: random.Random, country: str) -> str:
    digits = _digits(rng, 12)
    match country:
        case "CN":  # unified social credit code: 18 characters
            return "91" + digits[:6] + "".join(rng.choices("0123456789ABCDEFGHJKLMNPQRTUWXY", k=10))
        case "US":
            return f"{digits[:2]}-{digits[2:9]}"
        case "GB" | "DE" | "FR":
            return country + digits[:9]
        case "SG":
            return f"20{digits[:7]}{rng.choice('KMNRWZ')}"
        case _:
            return digits + "0"


NAMESAKE_SHARE = 0.01  # parties named exactly like another, earlier party: a branch, a namesake abroad


@dataclass(frozen=True)
class Naming:
    chinese: bool
    place: vocab.Place
    name: str  # the legal name
    domain: str


def _brand(rng: random.Random) -> str:
    """An English brand: two words ("Atlas Ridge") or an invented one ("Corvanta")."""
    if rng.random() < 0.5:
        return f"{rng.choice(vocab.EN_COMPANY_WORDS)} {rng.choice(vocab.EN_COMPANY_SECOND_WORDS)}"
    parts = (vocab.EN_BRAND_ONSETS, vocab.EN_BRAND_MIDDLES, vocab.EN_BRAND_ENDINGS)
    return "".join(rng.choice(part) for part in parts)


def _drawn_naming(seed: int, index: int) -> Naming:
    """Where a party is and what it is called, from a stream of its own so that a namesake can look it up."""
    rng = stream(seed, index, "name")
    chinese = rng.random() < 0.4
    place = rng.choice(vocab.PLACES_CN if chinese else vocab.PLACES_INTL)
    serial = rng.randrange(100, 999)
    if chinese:
        (first, first_py), (second, second_py) = rng.sample(vocab.ZH_TRADE_NAME_CHARACTERS, 2)
        trade, trade_py = rng.choice(vocab.ZH_COMPANY_TRADES)
        name = f"{place.city}{first}{second}{trade}{vocab.ZH_COMPANY_SUFFIX}"
        return Naming(True, place, name, f"{first_py}{second_py}{trade_py}{serial}.{place.tld}")
    brand = _brand(rng)
    noun = rng.choice(vocab.EN_COMPANY_NOUNS)
    suffix = rng.choice(vocab.EN_COMPANY_SUFFIXES)
    slug = brand.lower().replace(" ", "")
    return Naming(False, place, f"{brand} {noun} {suffix}", f"{slug}-{noun.lower()}{serial}.{place.tld}")


def naming(seed: int, index: int) -> Naming:
    """A party's naming. Most names are the party's own; now and then one repeats an earlier party's (in the
    same city: a Chinese name carries its city), which only its other data tells apart."""
    own = _drawn_naming(seed, index)
    rng = stream(seed, index, "namesake")
    if index == 0 or rng.random() >= NAMESAKE_SHARE:
        return own
    model = _drawn_naming(seed, rng.randrange(index))
    # Its own web site, named after the same brand (one digit more than the model's: never the same).
    domain = f"{model.domain.rpartition('.')[0]}{rng.randrange(10)}.{model.place.tld}"
    return Naming(model.chinese, model.place, model.name, domain)


def _phone(rng: random.Random, place: vocab.Place) -> Phone:
    length = 8 if place.country in ("CN", "DE", "GB", "SG", "FR", "JP") else 7
    return Phone(place.phone_prefix, place.area_code, _digits(rng, length))


def _mailbox(pattern: str, first: str, last: str, taken: set[str]) -> str:
    """The local part of a work address by the company's convention, numbered when already taken."""
    first, last = (name.lower().replace(" ", "").replace("'", "") for name in (first, last))
    local = pattern.format(first=first, last=last, f=first[:1])
    numbered, n = local, 1
    while numbered in taken:
        n += 1
        numbered = f"{local}{n}"
    taken.add(numbered)
    return numbered


def _person(
    rng: random.Random,
    party_key: str,
    n: int,
    chinese: bool,
    domain: str,
    place: vocab.Place,
    email_pattern: str,
    mailboxes: set[str],
) -> Person:
    if chinese and rng.random() < 0.85:
        (last, last_py), (first, first_py) = rng.choice(vocab.ZH_SURNAMES), rng.choice(vocab.ZH_GIVEN_NAMES)
        person_chinese = True
    else:
        first, last = rng.choice(vocab.EN_FIRST_NAMES), rng.choice(vocab.EN_LAST_NAMES)
        first_py, last_py = first, last
        person_chinese = False
    return Person(
        key=f"{party_key}-{n}",
        first_name=first,
        last_name=last,
        first_latin=first_py,
        last_latin=last_py,
        chinese=person_chinese,
        email=f"{_mailbox(email_pattern, first_py, last_py, mailboxes)}@{domain}",
        phone=_phone(rng, place),
        job_title=rng.choice(vocab.JOB_TITLES),
        in_crm=rng.random() < 0.9,
        in_tickets=rng.random() < 0.7,
    )


def make_party(seed: int, index: int, owners: int) -> Party:
    rng = stream(seed, index, "party")
    named = naming(seed, index)
    chinese, place, name, domain = named.chinese, named.place, named.name, named.domain
    whale = rng.random() < 0.004
    in_crm = rng.random() < 0.92
    in_erp = rng.random() < (0.7 if in_crm else 0.85)
    in_tickets = rng.random() < (0.6 if in_erp else 0.3)
    if not (in_crm or in_erp or in_tickets):
        in_crm = True
    duplicated_in = frozenset(
        system
        for system, present, share in (
            ("crm", in_crm, 0.05),
            ("erp", in_erp, 0.03),
            ("tickets", in_tickets, 0.04),
        )
        if present and rng.random() < share
    )
    key = f"P{index:07d}"
    party = Party(
        index=index,
        key=key,
        chinese=chinese,
        name=name,
        domain=domain,
        email=f"info@{domain}",
        phone=_phone(rng, place),
        tax_id=_tax_id(rng, place.country),
        place=place,
        address=draw_address(rng, place),
        industry=rng.choice(vocab.INDUSTRIES),
        since=AS_OF - HISTORY * rng.random(),
        employees=int(rng.lognormvariate(4, 1.3)) + 1,
        annual_revenue=int(rng.lognormvariate(15, 1.5)),
        owner_index=rng.randrange(owners),
        in_crm=in_crm,
        in_erp=in_erp,
        in_tickets=in_tickets,
        duplicated_in=duplicated_in,
        whale=whale,
    )
    people = rng.randint(12, 30) if whale else 1 + skewed(rng, 1.5, 10)
    pattern = vocab.EMAIL_PATTERNS[min(rng.randrange(len(vocab.EMAIL_PATTERNS)) for _ in range(2))]
    mailboxes: set[str] = set()
    party.persons = [_person(rng, key, n, chinese, domain, place, pattern, mailboxes) for n in range(1, people + 1)]
    return party


def random_instant(rng: random.Random, start: datetime, end: datetime = AS_OF) -> datetime:
    """A uniformly drawn instant in [start, end), at whole seconds."""
    span = max(1.0, (end - start).total_seconds())
    return (start + timedelta(seconds=int(rng.random() * span))).replace(microsecond=0)
