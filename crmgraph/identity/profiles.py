"""Profiles: a source record reduced to the normalised fields matching compares.

A company's profile also carries what its people say about it (:func:`with_people`): the e-mail domains
and addresses of the persons the same system files under it. A ticket organization without a web domain
is still recognisable by its users' addresses, and two records that share a person are very likely one
company.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from crmgraph.identity import normalize as norm
from crmgraph.records import PartyRecord, PersonRecord

Value = str | frozenset[str] | None
SourceRecord = tuple[str, str]  # (source, source id)
SET_LIMIT = 6  # values kept per set field: a company's domains, phones; its people's e-mails are many more


@dataclass(slots=True)
class Profile:
    source: str
    source_id: str
    values: dict[str, Value]
    # Declared cross-references (source, id) this record carries: links made without matching.
    xrefs: tuple[SourceRecord, ...] = ()
    # For a person: the company record (same source) it is filed under.
    parent: SourceRecord | None = None

    @property
    def key(self) -> SourceRecord:
        return (self.source, self.source_id)


@dataclass
class PeopleOf:
    """What the people filed under each company record say about it: their e-mail addresses and domains."""

    emails: defaultdict[SourceRecord, set[str]] = field(default_factory=lambda: defaultdict(set))
    domains: defaultdict[SourceRecord, set[str]] = field(default_factory=lambda: defaultdict(set))

    def add(self, person: Profile) -> None:
        address = person.values.get("email")
        if person.parent is None or not isinstance(address, str):
            return
        self.emails[person.parent].add(address)
        found = norm.domain(address)
        if found is not None:
            self.domains[person.parent].add(found)


def company_profile(record: PartyRecord) -> Profile:
    """What the record itself says; :func:`with_people` adds what its people say."""
    named = norm.company_name(record.name)
    own_email = norm.email(record.email)
    values: dict[str, Value] = {
        "name": named[0] if named else None,
        "legal_form": (named[1] or None) if named else None,
        "tax_id": norm.tax_id(record.tax_id),
        "domains": norm.first_values([norm.domain(record.domain), norm.domain(own_email)], SET_LIMIT) or None,
        "emails": frozenset({own_email}) if own_email else None,
        "phones": frozenset({p}) if (p := norm.phone(record.phone, record.country)) else None,
        "people": None,
        "street": norm.street(record.address),
        "house_number": norm.house_number(record.address),
        "postcode": norm.postcode(record.postal_code),
        "city": norm.text(record.city),
        "country": (record.country or "").upper() or None,
    }
    return Profile(record.source, record.source_id, values, tuple(record.xrefs))


def with_people(company: Profile, people: PeopleOf) -> Profile:
    """The company's profile with its people's e-mail addresses and (non free-mail) domains added."""
    emails = people.emails.get(company.key)
    if not emails:
        return company
    own = company.values.get("domains")
    own_domains = sorted(own) if isinstance(own, frozenset) else []
    values = dict(company.values)
    values["domains"] = norm.first_values([*own_domains, *sorted(people.domains.get(company.key, ()))], SET_LIMIT)
    values["people"] = frozenset(emails)
    return Profile(company.source, company.source_id, values, company.xrefs, company.parent)


def person_profile(record: PersonRecord, country: str | None = None, customer: int | None = None) -> Profile:
    """A person's profile; ``customer`` is the golden customer their company record belongs to (set it
    once companies are matched), ``country`` their company's, to read national phone numbers."""
    first, last = norm.fold(record.first_name), norm.fold(record.last_name)
    values: dict[str, Value] = {
        "name": norm.person_name(record.name),
        "first_name": first,
        "last_name": last or _last_word(record.name),
        "email": norm.email(record.email),
        "phone": norm.phone(record.phone, country),
        "customer": str(customer) if customer is not None else None,
        "job_title": norm.text(record.job_title),
    }
    parent = (record.source, record.party_id) if record.party_id is not None else None
    return Profile(record.source, record.source_id, values, tuple(record.xrefs), parent)


def _last_word(name: str) -> str | None:
    """A surname guessed from a full name when the system keeps only that (ticket users)."""
    folded = norm.fold(name)
    if folded is None or norm.has_cjk(folded):
        return folded[:1] if folded else None  # a Chinese family name is (almost always) the first character
    return folded.split()[-1]


def people_of(persons: Iterable[Profile]) -> PeopleOf:
    found = PeopleOf()
    for person in persons:
        found.add(person)
    return found
