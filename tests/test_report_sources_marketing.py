"""Marketing for reports, read in bulk through the demo's YAML-only source (the ``rest`` adapter over Mautic's
API): every campaign with its cost, every lead with owner, stage and creation time, each campaign's members and
each segment's members (Mautic's contact search ``segment:<alias>``), against the store read directly."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crmgraph.adapters import Adapter
from crmgraph.adapters.rest import RestAdapter
from crmgraph.adapters.sdk.testing import run_with
from crmgraph.records import CampaignRecord, LeadRecord, Record, SegmentRecord
from tests.marketing_source import SOURCE, marketing_sources

if TYPE_CHECKING:
    from tests.conftest import Estate


def make(estate: Estate) -> Callable[[], Adapter]:
    configured = marketing_sources(estate.marketing_url)[SOURCE]
    return lambda: RestAdapter(SOURCE, {key: value for key, value in configured.items() if key != "adapter"})


def rows(estate: Estate, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(estate.layout.marketing_db) as conn:
        return conn.execute(sql).fetchall()


async def scan_all(adapter: Adapter, entity: str) -> list[Record]:
    records: list[Record] = []
    cursor: str | None = None
    while True:
        page = await adapter.scan(entity, cursor, size=200)
        records += page.records
        if page.next_cursor is None:
            return records
        cursor = page.next_cursor


def test_every_campaign_lead_and_segment_is_scannable(estate: Estate) -> None:
    async def scenario(adapter: Adapter) -> dict[str, list[Record]]:
        assert {"campaign", "person", "segment"} <= adapter.scannable
        return {entity: await scan_all(adapter, entity) for entity in ("campaign", "person", "segment")}

    found, _ = run_with(make(estate), scenario)
    campaigns = [r for r in found["campaign"] if isinstance(r, CampaignRecord)]
    assert [c.source_id for c in campaigns] == [str(i) for (i,) in rows(estate, "SELECT id FROM campaigns ORDER BY id")]
    assert all(c.cost is not None and c.cost.amount > 0 for c in campaigns)
    leads = [r for r in found["person"] if isinstance(r, LeadRecord)]
    stored = rows(estate, "SELECT id, owner_id, stage_id FROM contacts ORDER BY id")
    assert [lead.source_id for lead in leads] == [str(i) for i, _, _ in stored]
    assert all(lead.created_at is not None for lead in leads)
    assert [lead.owner_id is not None for lead in leads] == [owner is not None for _, owner, _ in stored]
    assert [lead.stage is not None for lead in leads] == [stage is not None for _, _, stage in stored]
    segments = [r for r in found["segment"] if isinstance(r, SegmentRecord)]
    assert [(s.source_id, s.alias) for s in segments] == [
        (str(i), alias) for i, alias in rows(estate, "SELECT id, alias FROM segments ORDER BY id")
    ]


def test_the_members_of_every_campaign_come_by_campaign(estate: Estate) -> None:
    expected: defaultdict[str, set[str]] = defaultdict(set)
    for campaign, lead in rows(estate, "SELECT campaign_id, lead_id FROM campaign_leads WHERE manually_removed = 0"):
        expected[str(campaign)].add(str(lead))
    campaigns = [str(i) for (i,) in rows(estate, "SELECT id FROM campaigns ORDER BY id")]
    results, _ = run_with(make(estate), lambda adapter: adapter.fetch_related("person", "campaign", campaigns))
    members = {}
    for campaign, result in zip(campaigns, results, strict=True):
        assert isinstance(result, list), result
        members[campaign] = {lead.source_id for lead in result}
    assert members == {campaign: expected.get(campaign, set()) for campaign in campaigns}
    assert sum(len(m) for m in members.values()) > 0


def test_the_members_of_every_segment_come_by_its_alias(estate: Estate) -> None:
    segments = rows(estate, "SELECT id, alias FROM segments ORDER BY id")
    expected: defaultdict[str, set[str]] = defaultdict(set)
    for segment, lead in rows(estate, "SELECT segment_id, lead_id FROM segment_leads"):
        expected[str(segment)].add(str(lead))
    aliases = [alias for _, alias in segments]
    results, log = run_with(make(estate), lambda adapter: adapter.fetch_related("person", "segment_alias", aliases))
    members = {}
    for (segment, _), result in zip(segments, results, strict=True):
        assert isinstance(result, list), result
        members[str(segment)] = {lead.source_id for lead in result}
    assert members == {str(segment): expected.get(str(segment), set()) for segment, _ in segments}
    assert len({frozenset(m) for m in members.values()}) > 1  # the segments differ: the filter filters
    assert all("/contacts" in call.request for call in log.calls)


def test_the_contact_search_finds_a_segments_members_as_mautic_does(estate: Estate) -> None:
    (segment_id, alias), *_ = rows(estate, "SELECT id, alias FROM segments ORDER BY id")
    members = {
        str(lead) for (lead,) in rows(estate, f"SELECT lead_id FROM segment_leads WHERE segment_id = {segment_id}")
    }
    with estate.marketing() as api:
        answer = api.get("/api/contacts", params={"search": f"segment:{alias}", "limit": "200", "minimal": "true"})
        unknown = api.get("/api/contacts", params={"search": "segment:no-such-segment"})
    assert answer.status_code == 200, answer.text
    assert set(answer.json()["contacts"]) == members and int(answer.json()["total"]) == len(members)
    assert int(unknown.json()["total"]) == 0


def test_campaigns_and_segments_changed_since_a_moment_come_through_their_feeds(estate: Estate) -> None:
    stamps = {
        "campaign": sorted(rows(estate, "SELECT date_modified, id FROM campaigns")),
        "segment": sorted(rows(estate, "SELECT date_modified, id FROM segments")),
    }

    async def feeds(adapter: Adapter) -> dict[str, list[str]]:
        assert {"campaign", "segment"} <= adapter.change_feeds
        found: dict[str, list[str]] = {}
        for entity, stamped in stamps.items():
            since = datetime.fromisoformat(stamped[len(stamped) // 2][0].replace(" ", "T")).replace(tzinfo=UTC)
            page = await adapter.changes(entity, since, None, size=200)
            found[entity] = [record.source_id for record in page.records]
        return found

    found, _ = run_with(make(estate), feeds)
    for entity, stamped in stamps.items():
        middle = stamped[len(stamped) // 2][0]
        assert sorted(found[entity], key=int) == sorted((str(i) for stamp, i in stamped if stamp >= middle), key=int)
