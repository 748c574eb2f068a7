"""Incremental linking: compare only what changed since the last run.

The last full run left each record's match fields (profiles), the estimated models and the golden ids
in the store. A re-link reads only the records each source changed since its watermark (its change feed;
a source without one is read whole), and keeps those whose match fields differ from the stored profile
(or that are new): a record changed in a field matching does not read (its industry), read again through
a feed's overlap, or read with the rest of a source read whole, is not compared again. It puts their new
profiles in place of the old, compares every pair that involves a changed record (blocking still runs
over every profile: a numpy pass, not a comparison), scores them with the stored model, and leaves every
other record in the golden record it is in. A person whose company record changed counts as changed,
and so does a company whose people changed.

Records deleted in a source are not seen by a change feed; a full run drops their links.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crmgraph.identity import decisions as steward
from crmgraph.identity import persist
from crmgraph.identity.engine import Decisions, Increment, Resolution, resolve_profiles
from crmgraph.identity.fellegi_sunter import Model
from crmgraph.identity.matcher import Kept
from crmgraph.identity.profiles import (
    Profile,
    SourceRecord,
    Value,
    company_profile,
    person_profile,
)
from crmgraph.identity.settings import IdentityConfig
from crmgraph.identity.store import IdentityStore
from crmgraph.records import PartyRecord, PersonRecord

if TYPE_CHECKING:
    from crmgraph.identity.linker import LinkReport


class NeedsFullRun(Exception):
    """The store has no model or profiles yet: an incremental run needs a full ``crmgraph link`` first."""


@dataclass
class Changed:
    """What the sources changed since their watermarks."""

    parties: dict[SourceRecord, PartyRecord]
    persons: dict[SourceRecord, PersonRecord]


@dataclass
class Stored:
    companies: list[Profile]
    persons: list[Profile]
    company_links: dict[SourceRecord, persist.LinkRow]
    person_links: dict[SourceRecord, persist.LinkRow]
    company_model: Model
    person_model: Model


def load(store: IdentityStore) -> Stored:
    with store.engine.connect() as conn:
        company_model, person_model = persist.read_model(conn, "company"), persist.read_model(conn, "person")
        if company_model is None or person_model is None:
            raise NeedsFullRun("no match model is stored yet: run a full `crmgraph link` first")
        return Stored(
            companies=persist.read_profiles(conn, "company"),
            persons=persist.read_profiles(conn, "person"),
            company_links=persist.current_links(conn, "company"),
            person_links=persist.current_links(conn, "person"),
            company_model=company_model,
            person_model=person_model,
        )


# Fields a run derives (the golden customer) or may clear (a mailbox at a mail provider) after a profile
# is made: not what the record says, so not compared to tell a change.
_DERIVED = frozenset({"customer", "work_email"})


def _says(profile: Profile) -> tuple[dict[str, Value], tuple[SourceRecord, ...], SourceRecord | None]:
    values = {name: value for name, value in profile.values.items() if name not in _DERIVED}
    return values, profile.xrefs, profile.parent


def same_match_fields(stored: Profile | None, fresh: Profile) -> bool:
    """Whether a record read again says what its stored profile says (nothing to compare again)."""
    return stored is not None and _says(stored) == _says(fresh)


def _kept(links: Mapping[SourceRecord, persist.LinkRow], changed: set[SourceRecord]) -> dict[SourceRecord, Kept]:
    return {key: (row.golden_id, row.rule, row.confidence) for key, row in links.items() if key not in changed}


def resolve_changes(stored: Stored, changes: Changed, config: IdentityConfig, decisions: Decisions) -> tuple[
    Resolution, set[SourceRecord]
]:  # fmt: skip
    """Match with the changed records in place; returns the resolution and every record counted as changed."""
    companies = {profile.key: profile for profile in stored.companies}
    persons = {profile.key: profile for profile in stored.persons}
    changed_companies: set[SourceRecord] = set()
    for key, party in changes.parties.items():
        fresh = company_profile(party)
        if not same_match_fields(companies.get(key), fresh):
            companies[key] = fresh
            changed_companies.add(key)
    changed_people: set[SourceRecord] = set()
    for key, changed_person in changes.persons.items():
        old_parent = persons[key].parent if key in persons else None
        parent = (changed_person.source, changed_person.party_id) if changed_person.party_id is not None else None
        country = companies[parent].values.get("country") if parent in companies else None
        fresh = person_profile(changed_person, country if isinstance(country, str) else None)
        if same_match_fields(persons.get(key), fresh):
            continue
        persons[key] = fresh
        changed_people.add(key)
        # A person's e-mail and domain are evidence about their company: both companies are compared again.
        changed_companies.update(p for p in (old_parent, parent) if p is not None and p in companies)

    # People filed under a changed company are compared again too.
    changed_persons = changed_people | {p.key for p in persons.values() if p.parent in changed_companies}
    increment = Increment(
        company_model=stored.company_model,
        person_model=stored.person_model,
        changed_companies=changed_companies,
        changed_persons=changed_persons,
        kept_companies=_kept(stored.company_links, changed_companies),
        kept_persons=_kept(stored.person_links, changed_persons),
    )
    resolution = resolve_profiles(list(companies.values()), list(persons.values()), config, decisions, increment)
    return resolution, changed_companies | changed_persons


def relink_changes(
    store: IdentityStore,
    config: IdentityConfig,
    changes: Changed,
    watermarks: Mapping[tuple[str, str], str] | None = None,
) -> LinkReport:
    """Link the changed records into the stored golden records and write what moved (blocking call)."""
    from crmgraph.identity.linker import LinkReport, write_run

    report = LinkReport()
    clock = time.monotonic()
    stored = load(store)
    resolution, changed = resolve_changes(stored, changes, config, steward.standing_from(store))
    report.seconds["match"] = time.monotonic() - clock
    report.changed = len(changed)
    clock = time.monotonic()
    write_run(store, resolution, report, changed=changed, watermarks=watermarks)
    report.seconds["write"] = time.monotonic() - clock
    return report
