"""The ``rest`` adapter against a purpose-built API served on loopback (tests/rest_api_server.py).

Each feature of the spec is exercised on the wire: the four paging styles, every kind of auth (OAuth2's
token renewed before expiry and once after a 401, counted by the server), many ids in one call or fanned
out one a call, keyed-object answers with string totals, a two-step membership, many parents in one call,
a change filter, writes and their refusals, and a record that does not map failing only its own key.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from crmgraph.adapters.rest import RestAdapter
from crmgraph.adapters.rest.mapping import MappingFailure
from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.testing import AdapterContract, ContractSamples
from crmgraph.adapters.sdk.testing.contract import run_with
from crmgraph.adapters.sdk.writes import WriteOp, WriteRefused
from crmgraph.demo.wire import serving_in_thread
from crmgraph.errors import SourceError
from crmgraph.records import LeadRecord, Record, TouchKind, TouchRecord
from tests import rest_api_server as server

SOURCE = "marketing"
OFFSET = {"style": "offset", "offset_param": "start", "size_param": "limit", "total": "total", "max_size": 30}
KEYED = "values(contacts || `{}`)"  # Mautic answers {} keyed by id, or [] when there is nothing
MARKETING = f"""
base_url: "${{REST_API_URL}}/basic"
auth: {{type: basic, username: {server.USER}, password: {server.PASSWORD}}}
entities:
  lead:
    get: {{path: "/api/contacts/{{id}}", select: contact}}
    get_many: {{path: /api/contacts, params: {{search: "ids:{{ids}}", limit: 30}}, select: "{KEYED}", max_batch: 30}}
    list: {{path: /api/contacts, select: "{KEYED}", paging: {OFFSET}}}
    changes:
      path: /api/contacts
      params: {{"where[0][col]": dateModified, "where[0][expr]": gte, "where[0][val]": "{{since}}"}}
      since_format: "%Y-%m-%d %H:%M:%S"
      select: "{KEYED}"
      paging: {OFFSET}
    related:
      campaign: {{path: "/api/campaigns/{{key}}/contacts", select: contacts, members: lead_id, paging: {OFFSET}}}
    create: &write
      path: /api/contacts/new
      envelope: contact
      select: contact
      refusals: {{select: errors, field: field, message: message}}
    update: {{<<: *write, method: PATCH, path: "/api/contacts/{{id}}/edit"}}
    fields:
      name: {{path: name}}
      email: {{path: email}}
      country: {{path: country, map: {{Germany: DE, France: FR, United Kingdom: GB, Spain: ES}}}}
      points: {{path: points}}
      stage: {{path: stage}}
      tags: {{path: "tags[].tag"}}
      created_at: {{path: dateAdded, format: "%Y-%m-%d %H:%M:%S", timezone: UTC}}
      updated_at: {{path: dateModified, format: "%Y-%m-%d %H:%M:%S", timezone: UTC}}
  touch:
    related:
      person:
        {{path: /api/touches, params: {{contacts: "{{keys}}"}}, select: events, key_field: person_id, max_batch: 10}}
    fields:
      person_id: {{path: contact_id}}
      kind: {{path: type, map: {{email.sent: EMAIL_SENT, form.submitted: FORM_SUBMITTED}}}}
      occurred_at: {{path: timestamp, format: epoch_ms}}
      campaign_id: {{path: campaign}}
"""
PAGING_STYLES: dict[str, dict[str, Any]] = {
    "offset": {"path": "/api/contacts", "select": KEYED, "paging": OFFSET},
    "page": {"path": "/api/paged", "select": "data",
             "paging": {"style": "page", "size_param": "per_page", "total": "total_count", "max_size": 10}},
    "cursor": {"path": "/api/cursored", "select": "items",
               "paging": {"style": "cursor", "size_param": "size", "cursor_param": "after", "next": "next"}},
    "link": {"path": "/api/linked", "select": "@", "paging": {"style": "link", "size_param": "per_page"}},
}  # fmt: skip


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[str, server.State]]:
    state = server.State()
    with serving_in_thread(server.build_rest_api(state)) as url:
        yield url, state


@pytest.fixture
def state(api: tuple[str, server.State], monkeypatch: pytest.MonkeyPatch) -> server.State:
    url, found = api
    monkeypatch.setenv("REST_API_URL", url)
    found.reset()
    return found


def marketing(**entities: Any) -> dict[str, Any]:
    """The marketing spec, with parts of ``lead`` replaced (None removes a key)."""
    spec: dict[str, Any] = yaml.safe_load(MARKETING)
    for key, value in entities.items():
        if value is None:
            spec["entities"]["lead"].pop(key)
        else:
            spec["entities"]["lead"][key] = value
    return spec


def maker(spec: dict[str, Any], **settings: Any) -> Callable[[], RestAdapter]:
    return lambda: RestAdapter(SOURCE, {"api": copy.deepcopy(spec)} | settings)


def scan_all(entity: str, size: int) -> Callable[[Adapter], Any]:
    async def scenario(adapter: Adapter) -> list[str]:
        found: list[str] = []
        cursor: str | None = None
        while True:
            page = await adapter.scan(entity, cursor, size)
            found += [record.source_id for record in page.records]
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    return scenario


# --- by id ------------------------------------------------------------------------------------------------


def test_many_ids_cost_one_call_and_duplicates_are_asked_once(state: server.State) -> None:
    ids = [str(i) for i in (3, 1, 17, 999, 3, 8)]
    results, log = run_with(maker(marketing()), lambda adapter: adapter.fetch("lead", ids))
    assert [r.source_id if isinstance(r, Record) else r for r in results] == ["3", "1", "17", None, "3", "8"]
    assert len(log.calls) == 1 and log.calls[0].keys == 5
    assert state.calls == {"GET /api/contacts": 1}


def test_an_id_the_api_cannot_hold_is_missing_without_a_call_and_spoils_no_batch(state: server.State) -> None:
    ids = ["3", "no-such-lead", "1", "0"]
    results, _ = run_with(maker(marketing(id_pattern="[1-9][0-9]*")), lambda adapter: adapter.fetch("lead", ids))
    assert [r.source_id if isinstance(r, Record) else r for r in results] == ["3", None, "1", None]
    assert state.calls == {"GET /api/contacts": 1}
    nothing, _ = run_with(maker(marketing(id_pattern="[1-9][0-9]*")), lambda adapter: adapter.fetch("lead", ["x"]))
    assert nothing == [None] and state.calls == {"GET /api/contacts": 1}, "no call for ids the API cannot hold"


def test_without_a_batch_endpoint_each_distinct_id_is_one_get(state: server.State) -> None:
    results, _ = run_with(maker(marketing(get_many=None)), lambda adapter: adapter.fetch("lead", ["1", "2", "1", "5"]))
    assert all(isinstance(r, LeadRecord) for r in results)
    assert state.calls == {"GET /api/contacts/{id:int}": 3}


def test_a_record_is_mapped_through_the_field_map(state: server.State) -> None:
    results, _ = run_with(maker(marketing()), lambda adapter: adapter.fetch("lead", ["7", "10"]))
    seven, ten = results
    assert seven == LeadRecord(
        SOURCE, "7", name="Lead 7", email="lead7@example.com", country="ES", points=21, stage="MQL",
        tags=("newsletter", "vip"), created_at=datetime(2024, 1, 7, 9, tzinfo=UTC),
        updated_at=datetime(2024, 2, 7, 10, 30, tzinfo=UTC),
    )  # fmt: skip
    assert isinstance(ten, LeadRecord) and ten.email is None and ten.stage is None and ten.country == "GB"


def test_a_record_that_does_not_map_fails_only_its_own_key(state: server.State) -> None:
    state.broken = {3}
    results, _ = run_with(maker(marketing()), lambda adapter: adapter.fetch("lead", ["1", "3", "5"]))
    assert isinstance(results[0], LeadRecord) and isinstance(results[2], LeadRecord)
    failure = results[1]
    assert isinstance(failure, MappingFailure) and isinstance(failure, SourceError)
    assert (failure.source, failure.entity, failure.record_id, failure.field) == (SOURCE, "lead", "3", "updated_at")
    assert "last tuesday" in failure.message


# --- listings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", PAGING_STYLES)
def test_every_paging_style_scans_each_record_once_in_order(state: server.State, style: str) -> None:
    found, log = run_with(maker(marketing(list=PAGING_STYLES[style])), scan_all("lead", 10))
    assert found == [str(i) for i in range(1, server.CONTACTS + 1)]
    assert len(log.calls) == math.ceil(server.CONTACTS / 10)  # the total (or the last short page) ends it


def test_a_page_size_is_capped_at_the_apis_maximum(state: server.State) -> None:
    found, log = run_with(maker(marketing()), scan_all("lead", 1000))
    assert len(found) == server.CONTACTS and len(log.calls) == 1  # 23 records, 30 a page at most


def test_the_change_feed_filters_by_the_moment_oldest_first(state: server.State) -> None:
    since = datetime(2024, 2, 20, 10, 30, tzinfo=UTC)
    page, _ = run_with(maker(marketing()), lambda adapter: adapter.changes("lead", since))
    assert [r.source_id for r in page.records] == ["20", "21", "22", "23"]


# --- related ----------------------------------------------------------------------------------------------


def test_campaign_members_are_listed_then_fetched_in_one_batch(state: server.State) -> None:
    results, _ = run_with(maker(marketing()), lambda adapter: adapter.fetch_related("lead", "campaign", ["2"]))
    assert [r.source_id for r in results[0]] == [str(i) for i in range(2, server.CONTACTS + 1, 2)]
    assert state.calls == {"GET /api/campaigns/{id:int}/contacts": 1, "GET /api/contacts": 1}


def test_the_members_of_many_parents_are_fetched_together_in_one_batch(state: server.State) -> None:
    parents = ["2", "1", "no-such-campaign", "2"]
    results, _ = run_with(maker(marketing()), lambda adapter: adapter.fetch_related("lead", "campaign", parents))
    by_parent = {key: [r.source_id for r in found] for key, found in zip(parents, results, strict=True)}
    assert by_parent["2"] == [str(i) for i in range(2, server.CONTACTS + 1, 2)]
    assert by_parent["1"] == [str(i) for i in range(1, server.CONTACTS + 1)]
    assert by_parent["no-such-campaign"] == []
    assert state.calls["GET /api/campaigns/{id:int}/contacts"] == 2, "each distinct parent's membership once"
    # the members of both, fetched together (in batches of the lead's max_batch)
    assert state.calls["GET /api/contacts"] == -(-server.CONTACTS // 30)


def test_the_touches_of_many_leads_cost_one_call(state: server.State) -> None:
    keys = [str(i) for i in range(1, 11)]
    results, _ = run_with(maker(marketing()), lambda adapter: adapter.fetch_related("touch", "person", keys))
    assert state.calls == {"GET /api/touches": 1}
    for key, touches in zip(keys, results, strict=True):
        assert isinstance(touches, list) and len(touches) == int(key) % 3
        assert all(isinstance(t, TouchRecord) and t.person_id == key for t in touches)
    first = results[1][0]  # lead 2's first touch
    assert isinstance(first, TouchRecord) and first.kind is TouchKind.FORM_SUBMITTED
    assert first.occurred_at == datetime.fromtimestamp(1_700_000_002, UTC)


# --- auth -------------------------------------------------------------------------------------------------

AUTHS: dict[str, dict[str, Any]] = {
    "bearer": {"type": "bearer", "token": server.TOKEN},
    "basic": {"type": "basic", "username": server.USER, "password": server.PASSWORD},
    "header": {"type": "api_key", "name": "X-Api-Key", "value": server.KEY},
    "query": {"type": "api_key", "name": "api_key", "value": server.KEY, "in": "query"},
}


@pytest.mark.parametrize("kind", AUTHS)
def test_each_kind_of_auth_signs_the_calls(state: server.State, kind: str) -> None:
    spec = marketing() | {"base_url": "${REST_API_URL}/" + kind, "auth": AUTHS[kind]}
    results, _ = run_with(maker(spec), lambda adapter: adapter.fetch("lead", ["1"]))
    assert isinstance(results[0], LeadRecord)
    wrong = spec | {"auth": {"type": "bearer", "token": "nope"}}
    refused, _ = run_with(maker(wrong), lambda adapter: adapter.fetch("lead", ["1"]))
    assert isinstance(refused[0], SourceError) and refused[0].code == "UPSTREAM_REJECTED"


def oauth(lifetime_margin: float) -> dict[str, Any]:
    auth = {"type": "oauth2", "token_url": "${REST_API_URL}/oauth/token", "client_id": server.CLIENT_ID,
            "client_secret": server.CLIENT_SECRET, "refresh_margin_s": lifetime_margin}  # fmt: skip
    return marketing() | {"base_url": "${REST_API_URL}/oauth", "auth": auth}


def test_oauth2_asks_for_one_token_and_shares_it(state: server.State) -> None:
    async def three(adapter: Adapter) -> list[Any]:
        return [await adapter.fetch("lead", [str(i)]) for i in (1, 2, 3)]

    results, _ = run_with(maker(oauth(30)), three)
    assert all(isinstance(r[0], LeadRecord) for r in results)
    assert state.tokens_issued == 1


def test_oauth2_renews_a_token_before_it_expires(state: server.State) -> None:
    state.token_lifetime_s = 30  # with a margin of 30 s, each token is due for renewal at once

    async def three(adapter: Adapter) -> list[Any]:
        return [await adapter.fetch("lead", [str(i)]) for i in (1, 2, 3)]

    results, _ = run_with(maker(oauth(30)), three)
    assert all(isinstance(r[0], LeadRecord) for r in results)
    assert state.tokens_issued == 3


def test_oauth2_renews_once_after_a_401_and_sends_the_call_again(state: server.State) -> None:
    async def revoked_between(adapter: Adapter) -> list[Any]:
        first = await adapter.fetch("lead", ["1"])
        state.tokens.clear()  # the server forgets every token it gave
        return [first, await adapter.fetch("lead", ["2"])]

    results, _ = run_with(maker(oauth(30)), revoked_between)
    assert all(isinstance(r[0], LeadRecord) for r in results)
    assert state.tokens_issued == 2
    assert state.calls == {"GET /api/contacts": 2}  # the 401 is not counted as served


# --- writes -----------------------------------------------------------------------------------------------


def test_a_lead_is_created_and_updated_through_the_reversed_field_map(state: server.State) -> None:
    async def scenario(adapter: Adapter) -> tuple[Record, Record]:
        made = await adapter.write(WriteOp("lead", "create", {"name": "Ada", "email": "ada@example.com",
                                                              "country": "DE", "points": 5}))  # fmt: skip
        changed = await adapter.write(WriteOp("lead", "update", {"country": "ES"}, record_id=made.source_id))
        return made, changed

    (made, changed), _ = run_with(maker(marketing()), scenario)
    assert isinstance(made, LeadRecord) and (made.name, made.country, made.points) == ("Ada", "DE", 5)
    assert state.contacts[int(made.source_id)]["country"] == "Spain"  # written as the API spells it
    assert isinstance(changed, LeadRecord) and changed.country == "ES" and changed.name == "Ada"


def test_a_refused_write_names_the_canonical_fields(state: server.State) -> None:
    async def scenario(adapter: Adapter) -> list[WriteRefused]:
        refusals = []
        for op in (WriteOp("lead", "create", {"email": "not-an-address"}),
                   WriteOp("lead", "update", {"name": "X"}, record_id="999")):  # fmt: skip
            try:
                await adapter.write(op)
            except WriteRefused as refused:
                refusals.append(refused)
        return refusals

    (invalid, missing), _ = run_with(maker(marketing()), scenario)
    assert {(r.code, r.field) for r in invalid.refusals} == {("INVALID", "email"), ("INVALID", "name")}
    assert [r.code for r in missing.refusals] == ["NOT_FOUND"]


# --- the shared contract suite ----------------------------------------------------------------------------


class TestTheMarketingApiPassesTheContractSuite(AdapterContract):
    @pytest.fixture
    def make_adapter(self, state: server.State) -> Callable[[], Adapter]:
        return maker(marketing())

    @pytest.fixture
    def make_unreachable_adapter(self, state: server.State) -> Callable[[], Adapter]:
        return maker(marketing() | {"base_url": "http://127.0.0.1:9"})

    @pytest.fixture
    def contract_samples(self) -> ContractSamples:
        return ContractSamples(
            known_ids={"lead": ["1", "2", "3", "4", "5"]},
            related_keys={("lead", "campaign"): ["1", "2"], ("touch", "person"): ["2", "4", "5", "7", "8"]},
            scan_totals={"lead": server.CONTACTS},
        )
