"""Deals for reports: the CRM's stage history (HubSpot's ``hs_date_entered_{stage}``) and the hubspot
adapter's deal scan, change feed and fetch, against the running CRM simulator.

What the seed holds is read from the store directly; the history a seeded deal shows is checked against the
rules the demo states (first stage at creation, closing stage at the close date, stages in pipeline order).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from crmgraph.adapters.hubspot import HubSpotAdapter
from crmgraph.adapters.hubspot.mapping import HubSpotMapping
from crmgraph.adapters.sdk.testing import run_with
from crmgraph.errors import ConfigError
from crmgraph.records import DealRecord, Record

if TYPE_CHECKING:
    from tests.conftest import Estate

OPEN_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "contractsent")
PIPELINE = (*OPEN_STAGES, "closedwon", "closedlost")
ENTERED = [f"hs_date_entered_{stage}" for stage in PIPELINE]


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def adapter(estate: Estate) -> HubSpotAdapter:
    return HubSpotAdapter("crm", {"url": estate.crm_url, "token": estate.credentials.crm_token})


@pytest.fixture(scope="module")
def seeded_deals(running_estate: Estate) -> dict[str, tuple[dict[str, str], str, str]]:
    conn = sqlite3.connect(f"file:{running_estate.layout.crm_db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT id, properties, created_at, updated_at FROM objects"
            " WHERE object_type = 'deals' AND archived = 0 ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return {str(oid): (json.loads(props), created, updated) for oid, props, created, updated in rows}


def read_all_deals(estate: Estate) -> list[dict[str, Any]]:
    deals: list[dict[str, Any]] = []
    params = {"limit": "100", "properties": ",".join(["dealstage", "closedate", *ENTERED])}
    with estate.crm() as crm:
        while True:
            answer = crm.get("/crm/v3/objects/deals", params=params).json()
            deals += answer["results"]
            after = answer.get("paging", {}).get("next", {}).get("after")
            if after is None:
                return deals
            params["after"] = after


def test_seeded_deals_show_a_stage_history_the_seed_implies(
    running_estate: Estate, seeded_deals: dict[str, tuple[dict[str, str], str, str]]
) -> None:
    deals = read_all_deals(running_estate)
    assert [deal["id"] for deal in deals] == list(seeded_deals)
    lost_reached: set[int] = set()
    for deal in deals:
        stored, created, updated = seeded_deals[deal["id"]]
        assert not any(name.startswith("hs_date_entered_") for name in stored)  # the seeded rows are untouched
        stage = stored["dealstage"]
        entered = {
            name.removeprefix("hs_date_entered_"): moment(value)
            for name, value in deal["properties"].items()
            if name.startswith("hs_date_entered_") and value is not None
        }
        reached = [s for s in PIPELINE if s in entered]
        times = [entered[s] for s in reached]
        assert times == sorted(times), deal["id"]  # stages are entered in pipeline order
        assert entered[OPEN_STAGES[0]] == moment(created)  # the first stage at creation
        assert reached[-1] == stage  # the current stage is the last one entered
        if stage in OPEN_STAGES:
            assert reached == list(OPEN_STAGES[: OPEN_STAGES.index(stage) + 1])
            assert entered[stage] == (moment(updated) if stage != OPEN_STAGES[0] else moment(created))
        elif stage == "closedwon":
            assert reached == [*OPEN_STAGES, "closedwon"]
            assert entered["closedwon"] == moment(stored["closedate"])
        else:
            assert reached[-1] == "closedlost" and "closedwon" not in reached
            assert reached[:-1] == list(OPEN_STAGES[: len(reached) - 1])
            assert entered["closedlost"] == moment(stored["closedate"])
            lost_reached.add(len(reached) - 1)
    assert len(lost_reached) > 1  # lost deals fell out at different stages


def test_the_deal_pipeline_lists_its_stages_in_order(running_estate: Estate) -> None:
    with running_estate.crm() as crm:
        answer = crm.get("/crm/v3/pipelines/deals").json()
    (pipeline,) = answer["results"]
    assert pipeline["id"] == "default"
    stages = sorted(pipeline["stages"], key=lambda stage: stage["displayOrder"])
    assert tuple(stage["id"] for stage in stages) == PIPELINE
    assert [stage["metadata"]["isClosed"] for stage in stages] == ["false"] * 4 + ["true"] * 2


def test_a_stage_change_stamps_the_new_stage_and_keeps_the_history(
    writable_estate: Estate, seeded_deals: dict[str, tuple[dict[str, str], str, str]]
) -> None:
    deal_id = next(oid for oid, (props, _, _) in seeded_deals.items() if props["dealstage"] == "qualifiedtobuy")
    properties = ",".join(ENTERED)
    with writable_estate.crm() as crm:
        before = crm.get(f"/crm/v3/objects/deals/{deal_id}", params={"properties": properties}).json()
        answer = crm.patch(f"/crm/v3/objects/deals/{deal_id}", json={"properties": {"dealstage": "contractsent"}})
        assert answer.status_code == 200, answer.text
        after = crm.get(f"/crm/v3/objects/deals/{deal_id}", params={"properties": properties}).json()
        refused = crm.patch(
            f"/crm/v3/objects/deals/{deal_id}",
            json={"properties": {"hs_date_entered_closedwon": "2024-01-01T00:00:00Z"}},
        )
    assert after["properties"]["hs_date_entered_contractsent"] == after["updatedAt"]
    for stage in ("appointmentscheduled", "qualifiedtobuy"):
        assert after["properties"][f"hs_date_entered_{stage}"] == before["properties"][f"hs_date_entered_{stage}"]
    assert after["properties"]["hs_date_entered_presentationscheduled"] is None  # skipped, never entered
    assert refused.status_code == 400 and "READ_ONLY_VALUE" in refused.text


def test_a_created_deal_entered_its_first_stage_when_created(writable_estate: Estate) -> None:
    with writable_estate.crm() as crm:
        body = {"properties": {"dealname": "Report test", "dealstage": "presentationscheduled", "amount": "10"}}
        created = crm.post("/crm/v3/objects/deals", json=body).json()
        read = crm.get(f"/crm/v3/objects/deals/{created['id']}", params={"properties": ",".join(ENTERED)}).json()
    entered = {name: value for name, value in read["properties"].items() if name.startswith("hs_date_entered_")}
    assert {name: value for name, value in entered.items() if value} == {
        "hs_date_entered_presentationscheduled": read["createdAt"]
    }


def test_scanning_deals_reads_every_deal_once_with_its_company_and_history(
    estate: Estate, seeded_deals: dict[str, tuple[dict[str, str], str, str]]
) -> None:
    async def scan_all(crm: HubSpotAdapter) -> list[Record]:
        records: list[Record] = []
        cursor: str | None = None
        while True:
            page = await crm.scan("deal", cursor, size=100)
            records += page.records
            if page.next_cursor is None:
                return records
            cursor = page.next_cursor

    estate.reset("crm")
    records, log = run_with(lambda: adapter(estate), scan_all)
    deals = [record for record in records if isinstance(record, DealRecord)]
    assert [deal.source_id for deal in deals] == list(seeded_deals)
    assert all(deal.party_id is not None for deal in deals)
    # One list call a page (the companies come with each deal), nothing else.
    assert {call.request for call in log.calls} == {"GET /crm/v3/objects/deals"}
    assert estate.stats("crm")["total"] == len(log.calls) == -(-len(seeded_deals) // 100)
    for deal in deals:
        stages = [stage for stage, _ in deal.stage_entered]
        times = [when for _, when in deal.stage_entered]
        assert times == sorted(times) and stages[-1] == deal.stage_label
        assert deal.created_at is not None and times[0] == deal.created_at


def test_a_moved_deal_comes_through_the_change_feed_and_by_id_with_its_new_stage(
    writable_estate: Estate, seeded_deals: dict[str, tuple[dict[str, str], str, str]]
) -> None:
    deal_id = next(oid for oid, (props, _, _) in seeded_deals.items() if props["dealstage"] == "appointmentscheduled")
    since = datetime.now(UTC)
    with writable_estate.crm() as crm:
        answer = crm.patch(f"/crm/v3/objects/deals/{deal_id}", json={"properties": {"dealstage": "closedwon"}})
        assert answer.status_code == 200, answer.text

    async def read(crm: HubSpotAdapter) -> tuple[list[Record], Any]:
        changed: list[Record] = []
        cursor: str | None = None
        while True:
            page = await crm.changes("deal", since, cursor, size=50)
            changed += page.records
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        return changed, (await crm.fetch("deal", [deal_id]))[0]

    (changed, fetched), _ = run_with(lambda: adapter(writable_estate), read)
    assert [record.source_id for record in changed] == [deal_id]
    for deal in (changed[0], fetched):
        assert isinstance(deal, DealRecord)
        assert deal.stage_label == "closedwon" and deal.party_id is not None
        assert [stage for stage, _ in deal.stage_entered] == ["appointmentscheduled", "closedwon"]
        assert deal.stage_entered[-1][1] == deal.updated_at


def test_a_search_filters_and_sorts_on_when_deals_entered_a_stage(
    running_estate: Estate, seeded_deals: dict[str, tuple[dict[str, str], str, str]]
) -> None:
    won = sorted((moment(props["closedate"]), oid) for oid, (props, _, _) in seeded_deals.items()
                 if props["dealstage"] == "closedwon")  # fmt: skip
    bound = won[len(won) // 2][0]
    body = {
        "filterGroups": [{"filters": [{"propertyName": "hs_date_entered_closedwon", "operator": "GTE",
                                       "value": str(int(bound.timestamp() * 1000))}]}],
        "sorts": [{"propertyName": "hs_date_entered_closedwon", "direction": "DESCENDING"}],
        "properties": ["hs_date_entered_closedwon"], "limit": 200,
    }  # fmt: skip
    with running_estate.crm() as crm:
        answer = crm.post("/crm/v3/objects/deals/search", json=body).json()
    expected = sorted(((when, oid) for when, oid in won if when >= bound), key=lambda item: item[0], reverse=True)
    assert answer["total"] == len(expected)
    found = [moment(r["properties"]["hs_date_entered_closedwon"]) for r in answer["results"]]
    assert found == [when for when, _ in expected][: len(found)]


def test_a_write_that_leaves_the_stage_moves_no_stage_date(
    writable_estate: Estate, seeded_deals: dict[str, tuple[dict[str, str], str, str]]
) -> None:
    deal_id = next(oid for oid, (props, _, _) in seeded_deals.items() if props["dealstage"] == "presentationscheduled")
    properties = {"properties": ",".join(ENTERED)}
    with writable_estate.crm() as crm:
        before = crm.get(f"/crm/v3/objects/deals/{deal_id}", params=properties).json()
        answer = crm.patch(f"/crm/v3/objects/deals/{deal_id}", json={"properties": {"amount": "1234.50"}})
        assert answer.status_code == 200, answer.text
        after = crm.get(f"/crm/v3/objects/deals/{deal_id}", params=properties).json()
    assert after["updatedAt"] != before["updatedAt"]
    assert after["properties"] | {"hs_lastmodifieddate": None} == before["properties"] | {"hs_lastmodifieddate": None}


def test_stages_of_other_pipelines_are_read_when_configured_and_ordered_by_when() -> None:
    raw = {
        "id": "7", "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-03-01T00:00:00Z",
        "properties": {"dealname": "A", "dealstage": "12345", "hs_date_entered_12345": "2026-02-01T00:00:00Z",
                       "hs_date_entered_appointmentscheduled": "2026-01-01T00:00:00Z",
                       "hs_date_entered_qualifiedtobuy": None, "hs_date_entered_closedlost": ""},
    }  # fmt: skip
    deal = HubSpotMapping("crm", "EUR").deal(raw, None)
    assert deal.stage_entered == (
        ("appointmentscheduled", datetime(2026, 1, 1, tzinfo=UTC)),
        ("12345", datetime(2026, 2, 1, tzinfo=UTC)),
    )
    HubSpotAdapter("crm", {"url": "http://x", "token": "t", "deal_stages": ["12345", "closedwon"]})
    with pytest.raises(ConfigError) as refused:
        HubSpotAdapter("crm", {"url": "http://x", "token": "t", "deal_stages": "12345"})
    assert refused.value.path == "sources.crm.deal_stages"
