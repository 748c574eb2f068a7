"""Identity resolution of a whole estate: companies first, then their people under the golden customers.

1. Company profiles carry their people's e-mail domains and addresses, so records that share a person
   or whose people write from the same domain are recognised as one company.
2. Companies are matched into golden customers.
3. Each person's profile names the golden customer of the company record it is filed under; people are
   matched into golden persons (the same e-mail, or the same name at the same customer, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crmgraph.identity.fellegi_sunter import Model
from crmgraph.identity.matcher import Kept, MatchResult, match
from crmgraph.identity.profiles import (
    Profile,
    SourceRecord,
    assign_customers,
    company_profile,
    complete_cities,
    forget_shared_mailboxes,
    people_of,
    person_profile,
    shared_domains,
    with_people,
)
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
    # The company profiles as the records say (before people were added): what the store keeps.
    company_records: list[Profile]

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
) -> Resolution:
    """Match every party and person record."""
    person_profiles = []
    for record in persons.values():
        party = parties.get((record.source, record.party_id)) if record.party_id is not None else None
        person_profiles.append(person_profile(record, party.country if party else None))
    company_profiles = [company_profile(record) for record in parties.values()]
    return resolve_profiles(company_profiles, person_profiles, config, decisions)


@dataclass(frozen=True)
class Increment:
    """An incremental run's context: the stored models, the records it counts as changed, and where every
    other record stays (golden id, rule, confidence)."""

    company_model: Model
    person_model: Model
    changed_companies: set[SourceRecord]
    changed_persons: set[SourceRecord]
    kept_companies: Mapping[SourceRecord, Kept]
    kept_persons: Mapping[SourceRecord, Kept]


def resolve_profiles(
    companies: Sequence[Profile],
    persons: Sequence[Profile],
    config: IdentityConfig,
    decisions: Decisions,
    increment: Increment | None = None,
) -> Resolution:
    """Match company profiles (as the records say, before their people are added) and person profiles."""
    shared = shared_domains(persons, companies)
    forget_shared_mailboxes(persons, shared)
    people = people_of(persons, shared)
    matched_companies = match(
        [with_people(company, people) for company in complete_cities(companies)],
        config.companies,
        SET_FIELDS,
        must_link=decisions.company_links,
        cannot_link=decisions.company_apart,
        model=increment.company_model if increment else None,
        changed=increment.changed_companies if increment else None,
        kept=increment.kept_companies if increment else None,
    )
    assign_customers(persons, matched_companies)
    matched_persons = match(
        persons,
        config.persons,
        SET_FIELDS,
        must_link=decisions.person_links,
        cannot_link=decisions.person_apart,
        model=increment.person_model if increment else None,
        changed=increment.changed_persons if increment else None,
        kept=increment.kept_persons if increment else None,
    )
    return Resolution(matched_companies, matched_persons, list(companies))
