"""How the marketing automation system (Mautic) records the estate: companies, leads, campaigns, events.

A pass of its own, in the marketing system's own order of the parties and from random streams of its own
(``marketing*`` purposes), so that adding it changed no row of the CRM, the ticket system or the ERP.

- About 45% of the parties have a marketing company; its leads are some of the party's people (the same
  persons the other systems record, so identity resolution can link them) and people only marketing knows.
- Prospects: companies no other system knows (ground-truth parties ``M0000001``...), about 30% more.
- Leads without a company: people who filled in a form with a free-mail address (persons ``MX0000001``...).

Person ids of people only marketing knows are ``<party>-M<n>``; the prospects' people ``M0000001-<n>``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import count

import orjson

from crmgraph.demo.seed import vocabulary as vocab
from crmgraph.demo.seed.crm_projection import COUNTRY_NAMES
from crmgraph.demo.seed.ids import Ids
from crmgraph.demo.seed.marketing_activity import Lead, project_activity
from crmgraph.demo.seed.marketing_catalog import (
    CHANNELS,
    STAGES,
    Campaign,
    campaign_rows,
    campaigns,
    email_rows,
    segment_rows,
    stamp,
    users,
)
from crmgraph.demo.seed.marketing_people import new_person, record_company, record_lead
from crmgraph.demo.seed.noise import case_spacing
from crmgraph.demo.seed.party import Party, Person, make_party, random_instant, stream
from crmgraph.demo.seed.sink import SqliteSink, TruthSink

KNOWN_SHARE = 0.45
PROSPECT_SHARE = 0.3  # prospects per marketing company of a known party
LONER_SHARE = 0.08  # leads without a company, per party visited
PROSPECT_BASE = 50_000_000  # party indexes of prospects: beyond any estate's own parties
TAGS = ("newsletter", "webinar", "trade-show", "high-intent", "partner-referral", "pricing-page", "trial")
EUROPE = ("GB", "DE", "FR")


@dataclass(frozen=True)
class _Counters:
    """Mautic numbers each kind of record from 1, in the order it meets them."""

    company: Callable[[], int]
    contact: Callable[[], int]
    event: Callable[[], int]
    prospect: Callable[[], int]
    loner: Callable[[], int]


class MarketingPass:
    """One pass over the parties writing the marketing store and its ground truth."""

    def __init__(self, seed: int, customers: int, owners: int, sink: SqliteSink, truth: TruthSink) -> None:
        self.seed, self.customers, self.owners = seed, customers, owners
        self.sink, self.truth = sink, truth
        self.ids = _Counters(*(count(1).__next__ for _ in range(5)))
        self.campaigns: list[Campaign] = campaigns(seed, customers)

    def run(self, tick: Callable[[], None]) -> None:
        self._catalog()
        for index in Ids(self.seed).visiting_order("marketing", self.customers):
            rng = stream(self.seed, index, "marketing")
            if rng.random() < KNOWN_SHARE:
                party = make_party(self.seed, index, self.owners)
                self._company(rng, party, "customer" if party.in_erp else "known", party.persons)
                if rng.random() < PROSPECT_SHARE:
                    self._prospect()
            if rng.random() < LONER_SHARE:
                self._loner()
            tick()

    def _catalog(self) -> None:
        sink = self.sink
        for row in users(self.owners):
            sink.add("users", row)
        for stage in STAGES:
            sink.add("stages", stage)
        for category_id, title, alias, _ in CHANNELS:
            sink.add("categories", (category_id, title, alias))
        for row in campaign_rows(self.campaigns, self.seed):
            sink.add("campaigns", row)
        for row in email_rows(self.campaigns):
            sink.add("emails", row)
        for row in segment_rows():
            sink.add("segments", row)

    def _prospect(self) -> None:
        k = self.ids.prospect()
        drawn = make_party(self.seed, PROSPECT_BASE + k, self.owners)
        key = f"M{k:07d}"
        persons = [replace(person, key=f"{key}-{n}") for n, person in enumerate(drawn.persons[:4], start=1)]
        drawn.key, drawn.persons = key, persons
        rng = stream(self.seed, PROSPECT_BASE + k, "marketing-prospect")
        self._company(rng, drawn, "prospect", persons, everyone=True)

    def _loner(self) -> None:
        k = self.ids.loner()
        rng = random.Random(f"{self.seed}:marketing-loner:{k}")
        place = rng.choice(vocab.PLACES_CN if rng.random() < 0.3 else vocab.PLACES_INTL)
        person = new_person(rng, f"MX{k:07d}", place.country == "CN", None, place)
        self._lead(rng, person, "", Lead("prospect", person.chinese, place.country in EUROPE), None, place)

    def _company(
        self, rng: random.Random, party: Party, relation: str, persons: list[Person], everyone: bool = False
    ) -> None:
        company_id = self.ids.company()
        recorded = record_company(rng, party)
        chosen = persons if everyone else [p for p in persons if rng.random() < 0.5] or persons[:1]
        chosen += [
            new_person(rng, f"{party.key}-M{n}", party.chinese, party.domain, party.place)
            for n in range(1, 1 + (0 if everyone else rng.choice((0, 0, 1, 1, 2))))
        ]
        lead = Lead(relation, party.chinese, party.place.country in EUROPE)
        added = [self._lead(rng, person, party.key, lead, party, party.place, company_id) for person in chosen]
        created = min(added) - timedelta(minutes=rng.randint(1, 120))
        modified = random_instant(rng, created)
        owner = party.owner_index + 1 if rng.random() < 0.8 else None
        self.sink.add(
            "companies",
            (company_id, recorded.name, recorded.website, recorded.email, recorded.phone, recorded.address1,
             recorded.city, recorded.zipcode, recorded.country, recorded.industry, owner, stamp(created),
             stamp(modified)),
        )  # fmt: skip
        self.truth.add(party.key, "", "marketing", "companies", company_id, recorded.noise)

    def _lead(
        self,
        rng: random.Random,
        person: Person,
        party_key: str,
        lead: Lead,
        party: Party | None,
        place: vocab.Place,
        company_id: int | None = None,
    ) -> datetime:
        """Write one lead (and its activity); return when it was added (the company was made before)."""
        lead_id = self.ids.contact()
        recorded = record_lead(rng, person)
        facts = project_activity(rng, lead_id, lead, self.campaigns, self.ids.event, self.sink)
        company_text = None
        if party is not None:
            company_text = party.name if rng.random() < 0.85 else case_spacing(rng, party.name)
            owner = party.owner_index + 1 if rng.random() < 0.7 else None
        else:
            owner = rng.randrange(self.owners) + 1 if rng.random() < 0.3 else None
        tags = sorted(rng.sample(TAGS, rng.choice((0, 1, 1, 2))))
        ip = f"{rng.randint(11, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}"
        identified = stamp(facts.added + timedelta(minutes=rng.randint(0, 30))) if recorded.email else None
        self.sink.add(
            "contacts",
            (lead_id, recorded.firstname, recorded.lastname, recorded.email, recorded.phone, recorded.mobile,
             company_text, person.job_title if party is not None else None,
             place.city if rng.random() < 0.7 else None, COUNTRY_NAMES[place.country], owner, facts.stage_id,
             facts.points, orjson.dumps(tags).decode(), ip if rng.random() < 0.6 else None,
             stamp(facts.last_active), identified, stamp(facts.added), stamp(max(facts.modified, facts.added)), 1),
        )  # fmt: skip
        if company_id is not None:
            self.sink.add("contact_companies", (lead_id, company_id, stamp(facts.added), 1))
        self.truth.add(party_key, person.key, "marketing", "contacts", lead_id, recorded.noise)
        return facts.added


def project_marketing(
    seed: int, customers: int, owners: int, sink: SqliteSink, truth: TruthSink, tick: Callable[[], None]
) -> None:
    MarketingPass(seed, customers, owners, sink, truth).run(tick)
