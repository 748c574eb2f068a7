"""Profiles: a source record reduced to the normalised fields matching compares.

A company's profile also carries what its people say about it (:func:`with_people`): the e-mail domains
and addresses of the persons the same system files under it. A ticket organization without a web domain
is still recognisable by its users' addresses, and two records that share a person are very likely one
company.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from crmgraph.identity import normalize as norm
from crmgraph.records import LeadRecord, PartyRecord, PersonRecord

Value = str | frozenset[str] | None


class MatchResultLike(Protocol):
    """What :func:`assign_customers` reads of a company match: profiles and their cluster labels."""

    @property
    def profiles(self) -> Sequence[Profile]: ...

    @property
    def labels(self) -> Any: ...


SourceRecord = tuple[str, str]  # (source, source id)
# A person value only a lead's profile has (present, if empty): the company name the lead gave as free text,
# normalised. It is compared with nothing; it tells a lead's customer where its system files it under none.
COMPANY_TEXT = "company"
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
    shared: frozenset[str] = frozenset()  # mail providers: domains of people at many companies

    def add(self, person: Profile) -> None:
        address = person.values.get("email")
        if person.parent is None or not isinstance(address, str):
            return
        self.emails[person.parent].add(address)
        found = norm.domain(address)
        if found is not None and found not in self.shared:
            self.domains[person.parent].add(found)


def company_profile(record: PartyRecord) -> Profile:
    """What the record itself says; :func:`with_people` adds what its people say."""
    named = norm.company_name(record.name)
    own_email = norm.email(record.email)
    place = norm.address(record.address, record.postal_code, record.city)
    values: dict[str, Value] = {
        "name": named[0] if named else None,
        "legal_form": (named[1] or None) if named else None,
        "tax_id": norm.tax_id(record.tax_id),
        "domains": norm.first_values([norm.domain(record.domain), norm.domain(own_email)], SET_LIMIT) or None,
        "emails": frozenset({own_email}) if own_email else None,
        "phones": frozenset({p}) if (p := norm.phone(record.phone, record.country)) else None,
        "people": None,
        "street": place.street,
        "house_number": place.house_number,
        "postcode": place.postcode,
        "city": place.city,
        "country": (record.country or "").upper() or None,
        # Not compared: kept so that a row scope (policy.roles.*.scope) can name the customers an owner holds.
        "owner_id": record.owner_id or None,
    }
    return Profile(record.source, record.source_id, values, tuple(record.xrefs))


def complete_cities(companies: Sequence[Profile]) -> list[Profile]:
    """Profiles whose free-text address names a city the other records know, with that city taken out of
    the street and set (a ticket organization's "310732 杭州上城区 世纪东路 79" is in Hangzhou)."""
    known: dict[str, str] = {}
    for company in companies:
        name, street = company.values.get("city"), company.values.get("street")
        if isinstance(name, str) and len(name) >= 3:
            known.setdefault(name, name)
    # The hanzi of a romanised city are learnt from the records that write both (a city and its street).
    for company in companies:
        written = company.values.get("street")
        if isinstance(written, str) and norm.has_cjk(written):
            for token in written.split():
                for size in (2, 3):
                    head = token[:size]
                    if norm.has_cjk(head) and norm.city_name(head) in known:
                        known.setdefault(head, norm.city_name(head) or head)
    cities = sorted(known.items(), key=lambda item: -len(item[0]))
    completed: list[Profile] = []
    for company in companies:
        street = company.values.get("street")
        if company.values.get("city") is None and isinstance(street, str):
            rest, city = norm.city_out_of_street(street, cities)
            if city is not None:
                values = dict(company.values) | {"street": rest or None, "city": city}
                company = Profile(company.source, company.source_id, values, company.xrefs, company.parent)
        completed.append(company)
    return completed


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
    names = norm.person_name_parts(record.name, record.first_name, record.last_name)
    address = norm.email(record.email)
    values: dict[str, Value] = {
        "name": names[0] if names else None,
        "first_name": names[1] if names else None,
        "last_name": names[2] if names else None,
        "email": address,
        "email_user": norm.email_user(address),
        # A company gives a person one mailbox: two addresses at one company domain are two people.
        "work_email": address if address is not None and norm.domain(address) is not None else None,
        "phone": norm.phone(record.phone, country),
        "customer": str(customer) if customer is not None else None,
        "job_title": norm.text(record.job_title),
    }
    if isinstance(record, LeadRecord):
        named = norm.company_name(record.company)
        values[COMPANY_TEXT] = named[0] if named else None
        if values["phone"] is None and country is None:
            values["phone"] = norm.phone(record.phone, record.country)  # a lead says its own country
    parent = (record.source, record.party_id) if record.party_id is not None else None
    return Profile(record.source, record.source_id, values, tuple(record.xrefs), parent)


SHARED_DOMAIN_NAMES = 4  # a domain whose people work for more differently named companies is a mail provider


def shared_domains(persons: Iterable[Profile], companies: Iterable[Profile]) -> frozenset[str]:
    """E-mail domains that are mail providers, learnt from the data: their people are filed under company
    records of many different names (orange.fr, a regional ISP no list of free-mail domains knows). A
    company's own domain is used by its own people, filed under its few records, which bear its name."""
    name_of = {company.key: company.values.get("name") for company in companies}
    names: defaultdict[str, set[object]] = defaultdict(set)
    for person in persons:
        address = person.values.get("email")
        if person.parent is not None and isinstance(address, str):
            found = norm.domain(address)
            if found is not None:
                names[found].add(name_of.get(person.parent, person.parent))
    return frozenset(found for found, held in names.items() if len(held) > SHARED_DOMAIN_NAMES)


def forget_shared_mailboxes(persons: Iterable[Profile], shared: frozenset[str]) -> None:
    """An address at a mail provider is no company mailbox: it says nothing about a company or its staff."""
    for person in persons:
        address = person.values.get("work_email")
        if isinstance(address, str) and norm.domain(address) in shared:
            person.values["work_email"] = None


def people_of(persons: Iterable[Profile], shared: frozenset[str] = frozenset()) -> PeopleOf:
    found = PeopleOf(shared=shared)
    for person in persons:
        found.add(person)
    return found


def assign_customers(persons: Iterable[Profile], companies: MatchResultLike) -> None:
    """Set each person's ``customer``: the golden customer (cluster label) of the company record it is filed
    under, else the one customer whose records and people use its e-mail domain (a ticket-system user
    with no organization, writing from their company address), else, for a lead, the one customer whose
    records bear the company name it gave. Free-mail and shared domains say nothing.
    """
    label_of = {profile.key: int(companies.labels[row]) for row, profile in enumerate(companies.profiles)}
    owners: dict[str, set[int]] = defaultdict(set)
    named: dict[str, set[int]] = defaultdict(set)
    for row, profile in enumerate(companies.profiles):
        domains = profile.values.get("domains")
        if isinstance(domains, frozenset):
            for held in domains:
                owners[held].add(int(companies.labels[row]))
        name = profile.values.get("name")
        if isinstance(name, str):
            named[name].add(int(companies.labels[row]))
    for person in persons:
        customer = label_of.get(person.parent) if person.parent is not None else None
        address = person.values.get("email")
        if customer is None and isinstance(address, str):
            writes_from = norm.domain(address)
            holders = owners.get(writes_from) if writes_from is not None else None
            if holders is not None and len(holders) == 1:
                customer = next(iter(holders))
        company = person.values.get(COMPANY_TEXT)
        if customer is None and isinstance(company, str) and len(named.get(company, ())) == 1:
            customer = next(iter(named[company]))
        person.values["customer"] = str(customer) if customer is not None else None
