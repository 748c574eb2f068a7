"""The marketing source the graph's marketing tests run against, and the facade in front of it.

The source is the demo marketing system (Mautic's REST API, served by the test estate) configured with no
Python: the ``rest`` adapter reading ``crmgraph/demo/marketing.yaml``, the spec ``make demo`` uses. What it
holds is read once through that source (:func:`marketing_truth`); the tests derive every expectation from
it and from the identity store that linked the four systems, never from names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

import crmgraph.demo
from crmgraph.adapters import Adapter
from crmgraph.config import Config
from crmgraph.records import CampaignRecord, LeadRecord, PartyRecord, Record, SegmentRecord, TouchRecord
from crmgraph.sources import OpenSources
from tests.facade import Facade, facade_config, serve_facade

if TYPE_CHECKING:
    from tests.conftest import Estate

SOURCE = "marketing"  # the name the tests configure; the graph finds the source by what it serves
SPEC = Path(crmgraph.demo.__file__).resolve().parent / "marketing.yaml"


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


# --- reading it through the source ---------------------------------------------------------------------


def marketing_sources(marketing_url: str) -> dict[str, dict[str, Any]]:
    """The marketing source's settings, for ``facade_config(more_sources=...)``: the demo's spec, inline, with
    the test estate's address in place of the demo's."""
    api = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    api["base_url"] = f"{marketing_url}/api"
    return {SOURCE: {"adapter": "rest", "api": api}}


async def _every(adapter: Adapter, entity: str) -> list[Record]:
    found: list[Record] = []
    cursor: str | None = None
    while True:
        page = await adapter.scan(entity, cursor, 200)
        found.extend(page.records)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _lists(answers: list[Any], keys: list[str]) -> dict[str, list[Any]]:
    for key, answer in zip(keys, answers, strict=True):
        assert isinstance(answer, list), f"{key}: {answer!r}"
    return dict(zip(keys, answers, strict=True))


async def _read_truth(config: Config) -> MarketingTruth:
    async with OpenSources(config) as adapters:
        source = adapters[SOURCE]
        truth = MarketingTruth(
            parties=[r for r in await _every(source, "party") if isinstance(r, PartyRecord)],
            leads=[r for r in await _every(source, "person") if isinstance(r, LeadRecord)],
            campaigns=[r for r in await _every(source, "campaign") if isinstance(r, CampaignRecord)],
        )
        lead_ids = [lead.source_id for lead in truth.leads]
        campaign_ids = [campaign.source_id for campaign in truth.campaigns]
        members = _lists(await source.fetch_related("person", "campaign", campaign_ids), campaign_ids)
        truth.campaign_members = {key: [lead.source_id for lead in found] for key, found in members.items()}
        segments: dict[str, SegmentRecord] = {}
        for lead_id, found in _lists(await source.fetch_related("segment", "person", lead_ids), lead_ids).items():
            for segment in found:
                segments[segment.source_id] = segment
                truth.segment_members.setdefault(segment.source_id, []).append(lead_id)
        truth.segments = sorted(segments.values(), key=lambda s: int(s.source_id))
        for found in _lists(await source.fetch_related("touch", "person", lead_ids), lead_ids).values():
            truth.touches.extend(t for t in found if isinstance(t, TouchRecord))
    return truth


_READ: dict[str, MarketingTruth] = {}


def marketing_truth(config: Config) -> MarketingTruth:
    """What the marketing source of ``config`` holds, read once per estate."""
    key = str(config.sources[SOURCE].settings()["api"]["base_url"])
    if key not in _READ:
        _READ[key] = asyncio.run(_read_truth(config))
    return _READ[key]


# --- fixtures: the estate with the marketing source, linked, and the facade in front of it ----------------


@dataclass
class MarketingEstate:
    """The running estate plus the marketing source: its records, and the identity store linking all four."""

    estate: Estate
    truth: MarketingTruth
    identity_url: str

    def config(self, **settings: Any) -> Config:
        return facade_config(self.estate.crm_url, self.estate.tickets_url, self.estate.layout.erp_url,
                             self.identity_url, more_sources=marketing_sources(self.estate.marketing_url),
                             **settings)  # fmt: skip


@pytest.fixture(scope="session")
def marketing_estate(running_estate: Estate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MarketingEstate]:
    """The estate with the marketing source, linked once (``crmgraph link`` over all four sources)."""
    from crmgraph.identity.linker import link
    from crmgraph.identity.store import IdentityStore

    url = f"sqlite:///{Path(tmp_path_factory.mktemp('marketing-identity')) / 'identity.sqlite'}"
    config = facade_config(running_estate.crm_url, running_estate.tickets_url, running_estate.layout.erp_url, url,
                           more_sources=marketing_sources(running_estate.marketing_url))  # fmt: skip
    truth = marketing_truth(config)

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
    with serve_facade(marketing_estate.config()) as running:
        yield running
