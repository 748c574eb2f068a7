"""The marketing source the graph's marketing tests run against, and the facade in front of it.

STAND-IN, TO BE REPLACED. The demo marketing system (an HTTP server with its seed) and the declarative
REST adapter that serves it from YAML are being built in parallel. Until they land, this module serves
the canonical marketing records from memory through :class:`StandInMarketingAdapter`, a small
:class:`~crmgraph.adapters.Adapter` declaring exactly the access paths the real source will declare.
Its records are derived from the running estate's CRM (companies and contacts, re-keyed), so identity
resolution links them as it will link the real system's.

To swap in the real source, change only this module: make :func:`marketing_sources` return the real
source's settings (``{"marketing": {"adapter": "rest", ...}}``), make :func:`marketing_truth` read what
the real source holds (through its adapter, as it does now), and drop :func:`registered` and the
adapter. The tests derive every expectation from :class:`MarketingTruth`, never from names.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import crmgraph.sources
from crmgraph.adapters import AccessPath, Adapter, FetchResult, RelatedResult, upstream_call
from crmgraph.config import Config
from crmgraph.records import (
    CampaignRecord,
    LeadRecord,
    Money,
    Page,
    PartyRecord,
    PersonRecord,
    Record,
    SegmentRecord,
    TouchKind,
    TouchRecord,
)
from crmgraph.sources import OpenSources
from tests.facade import Facade, facade_config, serve_facade

if TYPE_CHECKING:
    from tests.conftest import Estate

SOURCE = "marketing"  # the name the tests configure; the graph finds the source by what it serves


# --- what the marketing source holds ---------------------------------------------------------------------


@dataclass
class MarketingTruth:
    """Every record the marketing source holds and how they relate: what tests derive expectations from."""

    parties: list[PartyRecord] = field(default_factory=list)
    leads: list[LeadRecord] = field(default_factory=list)
    campaigns: list[CampaignRecord] = field(default_factory=list)
    segments: list[SegmentRecord] = field(default_factory=list)
    touches: list[TouchRecord] = field(default_factory=list)
    campaign_members: dict[str, list[str]] = field(default_factory=dict)  # campaign id -> lead ids
    segment_members: dict[str, list[str]] = field(default_factory=dict)  # segment id -> lead ids

    def lead(self, lead_id: str) -> LeadRecord:
        return next(lead for lead in self.leads if lead.source_id == lead_id)

    def campaigns_of(self, lead_id: str) -> list[CampaignRecord]:
        return [c for c in self.campaigns if lead_id in self.campaign_members.get(c.source_id, [])]

    def segments_of(self, lead_id: str) -> list[SegmentRecord]:
        return [s for s in self.segments if lead_id in self.segment_members.get(s.source_id, [])]

    def touches_of(self, lead_id: str) -> list[TouchRecord]:
        return [t for t in self.touches if t.person_id == lead_id]

    def leads_of_campaign(self, campaign_id: str) -> list[LeadRecord]:
        return [self.lead(lead_id) for lead_id in self.campaign_members.get(campaign_id, [])]


# --- the stand-in adapter ----------------------------------------------------------------------------------

_HELD: dict[str, MarketingTruth] = {}  # dataset name (the source's `dataset` setting) -> records


class StandInMarketingAdapter(Adapter):
    """STAND-IN for the declarative REST adapter over the demo marketing system: the same access paths,
    records from memory, one reported upstream call per batch (so call counts mean what they will mean)."""

    kind = "marketing_standin"
    paths = (
        AccessPath("party"),
        AccessPath("person"),
        AccessPath("person", "party"),
        AccessPath("person", "campaign"),
        AccessPath("campaign"),
        AccessPath("campaign", "person"),
        AccessPath("segment"),
        AccessPath("segment", "person"),
        AccessPath("touch", "person"),
    )
    scannable = frozenset({"party", "person", "campaign"})

    def __init__(self, source: str, settings: dict[str, Any]) -> None:
        super().__init__(source, settings)
        truth = _HELD[settings["dataset"]]
        self._by_id: dict[str, dict[str, Record]] = {
            "party": {r.source_id: r for r in truth.parties},
            "person": {r.source_id: r for r in truth.leads},
            "campaign": {r.source_id: r for r in truth.campaigns},
            "segment": {r.source_id: r for r in truth.segments},
        }
        related: dict[tuple[str, str], defaultdict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
        for lead in truth.leads:
            if lead.party_id is not None:
                related[("person", "party")][lead.party_id].append(lead)
        for campaign_id, members in truth.campaign_members.items():
            for lead_id in members:
                related[("person", "campaign")][campaign_id].append(self._by_id["person"][lead_id])
                related[("campaign", "person")][lead_id].append(self._by_id["campaign"][campaign_id])
        for segment_id, members in truth.segment_members.items():
            for lead_id in members:
                related[("segment", "person")][lead_id].append(self._by_id["segment"][segment_id])
        for touch in truth.touches:
            related[("touch", "person")][touch.person_id].append(touch)
        self._related = related

    async def _fetch(self, entity: str, ids: Sequence[str]) -> Sequence[FetchResult]:
        with upstream_call(self.source, f"GET /{entity}?ids={len(ids)}"):
            await asyncio.sleep(0)
            return [self._by_id[entity].get(i) for i in ids]

    async def _fetch_related(self, entity: str, by: str, keys: Sequence[str]) -> Sequence[RelatedResult]:
        with upstream_call(self.source, f"GET /{entity}?{by}={len(keys)}"):
            await asyncio.sleep(0)
            return [list(self._related[(entity, by)].get(key, [])) for key in keys]

    async def _scan(self, entity: str, cursor: str | None, size: int) -> Page:
        with upstream_call(self.source, f"GET /{entity}?page"):
            await asyncio.sleep(0)
            every = sorted(self._by_id[entity].values(), key=lambda r: r.source_id)
            start = int(cursor or 0)
            end = start + size
            return Page(records=list(every[start:end]), next_cursor=str(end) if end < len(every) else None)


@contextmanager
def registered() -> Iterator[None]:
    """While open, ``adapter: marketing_standin`` names the stand-in (the app builds adapters by kind)."""
    original = crmgraph.sources.adapter_class

    def adapter_class(kind: str, *, path: str = "") -> type[Adapter]:
        return StandInMarketingAdapter if kind == StandInMarketingAdapter.kind else original(kind, path=path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(crmgraph.sources, "adapter_class", adapter_class)
        yield


def marketing_sources(dataset: str) -> dict[str, dict[str, Any]]:
    """The settings of the marketing source, for ``facade_config(more_sources=...)``."""
    return {SOURCE: {"adapter": StandInMarketingAdapter.kind, "dataset": dataset}}


# --- the records, derived from the estate's CRM -----------------------------------------------------------

START = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
CHANNELS = ("email", "webinar", "trade_show", "paid_search", "email", "social")
FILED = 30  # companies copied into the marketing system, with their contacts as leads
UNFILED = 20  # further companies whose contacts become leads filed under no company (company as text)
PROSPECTS = 8  # leads nobody else knows


async def _crm_records(config: Config) -> tuple[list[PartyRecord], list[PersonRecord]]:
    async with OpenSources(config) as adapters:
        crm = adapters["crm"]
        parties: list[Record] = []
        persons: list[Record] = []
        for entity, found in (("party", parties), ("person", persons)):
            cursor: str | None = None
            while True:
                page = await crm.scan(entity, cursor, 100)
                found.extend(page.records)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
    return (
        sorted((p for p in parties if isinstance(p, PartyRecord)), key=lambda p: (len(p.source_id), p.source_id)),
        sorted((p for p in persons if isinstance(p, PersonRecord)), key=lambda p: (len(p.source_id), p.source_id)),
    )


def build_truth(crm_parties: list[PartyRecord], crm_persons: list[PersonRecord]) -> MarketingTruth:
    """A marketing system over the CRM's customers: the first companies filed (with their contacts as
    leads), the next ones only as the company text of their contacts' leads, and a few prospects."""
    truth = MarketingTruth()
    people_of: defaultdict[str, list[PersonRecord]] = defaultdict(list)
    for person in crm_persons:
        if person.party_id is not None and person.email:
            people_of[person.party_id].append(person)
    with_people = [p for p in crm_parties if people_of.get(p.source_id)]
    number = 0

    def lead_of(person: PersonRecord, party_id: str | None, company: str, country: str | None) -> LeadRecord:
        nonlocal number
        number += 1
        return LeadRecord(
            source=SOURCE, source_id=f"L{number}", name=person.name, first_name=person.first_name,
            last_name=person.last_name, email=person.email, phone=person.phone, party_id=party_id,
            created_at=START + timedelta(days=number), company=company, country=country, points=number * 7 % 100,
            stage=("Lead", "MQL", "SQL")[number % 3], last_active_at=START + timedelta(days=number, hours=5),
            tags=("newsletter",) if number % 2 else (),
        )  # fmt: skip

    for n, party in enumerate(with_people[:FILED], start=1):
        company = dataclasses.replace(party, source=SOURCE, source_id=f"C{n}", owner_id=None, xrefs=(), tags=())
        truth.parties.append(company)
        for person in people_of[party.source_id][:2]:
            truth.leads.append(lead_of(person, company.source_id, party.name, party.country))
    for party in with_people[FILED : FILED + UNFILED]:
        person = people_of[party.source_id][0]
        truth.leads.append(lead_of(person, None, party.name, party.country))
    for n in range(1, PROSPECTS + 1):
        nobody = PersonRecord(source=SOURCE, source_id="", name=f"Prospect Nobody{n}", first_name="Prospect",
                              last_name=f"Nobody{n}", email=f"prospect.{n}@mailinator-standin.example")  # fmt: skip
        truth.leads.append(lead_of(nobody, None, f"Unknown Venture {n} Ltd", None))

    for n, channel in enumerate(CHANNELS, start=1):
        truth.campaigns.append(
            CampaignRecord(
                source=SOURCE, source_id=f"K{n}", name=f"Campaign {n} ({channel})", channel=channel,
                description=f"The {channel} push number {n}", active=n % 2 == 1,
                cost=Money(Decimal(1000 * n), "EUR"), starts_at=START + timedelta(weeks=n),
                ends_at=START + timedelta(weeks=n + 4), created_at=START,
            )
        )  # fmt: skip
    for n, name in enumerate(("Newsletter", "Decision makers", "Event visitors"), start=1):
        truth.segments.append(
            SegmentRecord(source=SOURCE, source_id=f"S{n}", name=name, alias=name.lower().replace(" ", "-"))
        )
    kinds = list(TouchKind)
    for index, lead in enumerate(truth.leads):
        member_of = [c for n, c in enumerate(truth.campaigns) if index % len(truth.campaigns) == n or index % 4 == n]
        for campaign in member_of:
            truth.campaign_members.setdefault(campaign.source_id, []).append(lead.source_id)
        for n, segment in enumerate(truth.segments):
            if index % (n + 2) == 0:
                truth.segment_members.setdefault(segment.source_id, []).append(lead.source_id)
        for t in range(index % 4 + 1):
            campaign_id = member_of[t % len(member_of)].source_id if member_of else None
            truth.touches.append(
                TouchRecord(
                    source=SOURCE, source_id=f"T{lead.source_id}-{t}", person_id=lead.source_id,
                    kind=kinds[(index + t) % len(kinds)], occurred_at=START + timedelta(days=index, hours=t),
                    campaign_id=campaign_id, title=f"Touch {t} of {lead.name}", detail=f"https://example.test/{t}",
                )
            )  # fmt: skip
    return truth


def marketing_truth(config: Config, dataset: str) -> MarketingTruth:
    """The marketing records for the estate ``config`` (without the marketing source) reaches, held under
    ``dataset`` for the adapter."""
    if dataset not in _HELD:
        _HELD[dataset] = build_truth(*asyncio.run(_crm_records(config)))
    return _HELD[dataset]


# --- fixtures: the estate with the marketing source, linked, and the facade in front of it ----------------

DATASET = "estate"


@dataclass
class MarketingEstate:
    """The running estate plus the marketing source: its records, and the identity store linking all four."""

    estate: Estate
    truth: MarketingTruth
    identity_url: str

    def config(self, **settings: Any) -> Config:
        return facade_config(self.estate.crm_url, self.estate.tickets_url, self.estate.layout.erp_url,
                             self.identity_url, more_sources=marketing_sources(DATASET), **settings)  # fmt: skip


@pytest.fixture(scope="session")
def marketing_estate(running_estate: Estate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MarketingEstate]:
    """The estate with the marketing source, linked once (``crmgraph link`` over all four sources)."""
    from crmgraph.identity.linker import link
    from crmgraph.identity.store import IdentityStore

    url = f"sqlite:///{Path(tmp_path_factory.mktemp('marketing-identity')) / 'identity.sqlite'}"
    with registered():
        config = facade_config(running_estate.crm_url, running_estate.tickets_url, running_estate.layout.erp_url, url,
                               more_sources=marketing_sources(DATASET))  # fmt: skip
        truth = marketing_truth(facade_config(running_estate.crm_url, running_estate.tickets_url,
                                              running_estate.layout.erp_url, url), DATASET)  # fmt: skip

        async def linked() -> None:
            store = IdentityStore(url)
            store.create()
            async with OpenSources(config) as adapters:
                await link(store, adapters, config.identity)
            store.close()

        asyncio.run(linked())
        yield MarketingEstate(running_estate, truth, url)


@pytest.fixture
def marketing_facade(marketing_estate: MarketingEstate, estate: Estate) -> Iterator[Facade]:
    """The facade over the estate and the marketing source, with a cold cache of its own."""
    with registered(), serve_facade(marketing_estate.config()) as running:
        yield running
