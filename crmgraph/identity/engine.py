"""Identity resolution of a whole estate: companies first, then their people under the golden customers.

1. Company profiles carry their people's e-mail domains and addresses, so records that share a person
   or whose people write from the same domain are recognised as one company.
2. Companies are matched into golden customers.
3. Each person's profile names the golden customer of the company record it is filed under; people are
   matched into golden persons (the same e-mail, or the same name at the same customer, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise

from crmgraph.identity.matcher import MatchResult, match
from crmgraph.identity.profiles import SourceRecord, company_profile, people_of, person_profile
from crmgraph.identity.settings import SET_FIELDS, IdentityConfig
from crmgraph.records import PartyRecord, PersonRecord

Pair = tuple[SourceRecord, SourceRecord]


@dataclass(frozen=True)
class Decisions:
    """What stewards decided, as pairs of records: linked (must stay together) or kept apart."""

    company_links: tuple[Pair, ...] = ()
    company_apart: tuple[Pair, ...] = ()
    person_links: tuple[Pair, ...] = ()
    person_apart: tuple[Pair, ...] = ()


@dataclass
class Resolution:
    companies: MatchResult
    persons: MatchResult

    def customer_of(self) -> dict[SourceRecord, int]:
        """Company record -> cluster label (a row number of the company match, not yet a golden id)."""
        labels = self.companies.labels
        return {profile.key: int(labels[row]) for row, profile in enumerate(self.companies.profiles)}

    def person_of(self) -> dict[SourceRecord, int]:
        labels = self.persons.labels
        return {profile.key: int(labels[row]) for row, profile in enumerate(self.persons.profiles)}


def resolve(
    parties: Mapping[SourceRecord, PartyRecord],
    persons: Mapping[SourceRecord, PersonRecord],
    config: IdentityConfig,
    decisions: Decisions = Decisions(),
    customer_names: Mapping[int, int] | None = None,
) -> Resolution:
    """Match every party and person record. ``customer_names`` maps cluster labels to the golden ids the
    store already gave them, so that a person's ``customer`` field is stable between runs (optional)."""
    people = people_of(persons.values())
    company_profiles = [company_profile(record, people) for record in parties.values()]
    companies = match(
        company_profiles,
        config.companies,
        SET_FIELDS,
        must_link=decisions.company_links,
        cannot_link=decisions.company_apart,
    )
    label_of = {profile.key: int(companies.labels[row]) for row, profile in enumerate(company_profiles)}
    person_profiles = []
    for record in persons.values():
        parent = (record.source, record.party_id) if record.party_id is not None else None
        party = parties.get(parent) if parent is not None else None
        customer = label_of.get(parent) if parent is not None else None
        if customer is not None and customer_names is not None:
            customer = customer_names.get(customer, customer)
        person_profiles.append(person_profile(record, party.country if party else None, customer))
    matched_persons = match(
        person_profiles,
        config.persons,
        SET_FIELDS,
        must_link=decisions.person_links,
        cannot_link=decisions.person_apart,
    )
    return Resolution(companies, matched_persons)


def pairs_in(keys: Iterable[SourceRecord]) -> list[Pair]:
    """The pairs that tie a group of records together (a chain suffices)."""
    return list(pairwise(sorted(keys)))
