"""The simulated CRM, exercised over HTTP as a HubSpot CRM v3 client would.

Expectations come from reading the seeded SQLite store directly, never from the server's own code.
Read-only tests share the session's running estate and one client; tests that inject faults take the
resetting ``estate`` fixture. What the seed never holds (archived objects, a company with more than 500
associations) is served from a small store of our own, by the same app on a real loopback server.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from crmgraph.demo.crm_api import build_crm_api
from crmgraph.demo.stores import crm as crm_store
from crmgraph.demo.wire import serving_in_thread

if TYPE_CHECKING:
    from tests.conftest import Estate

Props = dict[str, str]

DEFAULT_PROPERTIES = {
    "companies": {"name", "domain"},
    "contacts": {"firstname", "lastname", "email"},
    "deals": {"dealname", "amount", "closedate", "pipeline", "dealstage"},
    "calls": {"hs_call_title", "hs_timestamp"},
    "emails": {"hs_email_subject", "hs_timestamp"},
    "meetings": {"hs_meeting_title", "hs_timestamp"},
    "notes": {"hs_note_body", "hs_timestamp"},
}
LAST_MODIFIED = {"contacts": "lastmodifieddate"}
TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-48": "calls", "0-49": "emails",
            "0-47": "meetings", "0-46": "notes"}  # fmt: skip


def last_modified(object_type: str) -> str:
    return LAST_MODIFIED.get(object_type, "hs_lastmodifieddate")


@pytest.fixture(scope="module")
def db(running_estate: Estate) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{running_estate.layout.crm_db}?mode=ro", uri=True)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def client(running_estate: Estate) -> Iterator[httpx.Client]:
    with running_estate.crm() as crm:
        yield crm


def stored(db: sqlite3.Connection, object_type: str) -> dict[int, Props]:
    """Every live object of a type, by id, with its stored properties."""
    rows = db.execute(
        "SELECT id, properties FROM objects WHERE object_type = ? AND archived = 0 ORDER BY id",
        (object_type,),
    )
    return {object_id: json.loads(properties) for object_id, properties in rows}


def list_all(client: httpx.Client, path: str, limit: int) -> list[dict[str, Any]]:
    """Every record of a cursor-paged list, following ``paging.next.after`` to the end."""
    records: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["results"]) <= limit
        records += body["results"]
        if "paging" not in body:
            return records
        assert len(body["results"]) == limit
        params["after"] = body["paging"]["next"]["after"]


def search_all(client: httpx.Client, object_type: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every result of a search, following the offset in ``paging.next.after`` to the end."""
    records: list[dict[str, Any]] = []
    page = {"limit": 50, **body}
    while True:
        response = client.post(f"/crm/v3/objects/{object_type}/search", json=page)
        assert response.status_code == 200, response.text
        answer = response.json()
        records += answer["results"]
        if "paging" not in answer:
            assert answer["total"] == len(records)
            return records
        page["after"] = answer["paging"]["next"]["after"]


def assert_error(response: httpx.Response, status: int, category: str, mentions: str = "") -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "error"
    assert body["category"] == category
    uuid.UUID(body["correlationId"])
    assert mentions in body["message"], body["message"]
    return body


def ids_of(records: list[dict[str, Any]]) -> list[int]:
    return [int(record["id"]) for record in records]


# --- list --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("object_type", sorted(DEFAULT_PROPERTIES))
def test_listing_pages_through_every_object_once_in_id_order(
    object_type: str, client: httpx.Client, db: sqlite3.Connection
) -> None:
    records = list_all(client, f"/crm/v3/objects/{object_type}", limit=37)
    assert ids_of(records) == list(stored(db, object_type))


@pytest.mark.parametrize("object_type", sorted(DEFAULT_PROPERTIES))
def test_a_listed_record_has_the_default_properties_with_the_stored_values(
    object_type: str, client: httpx.Client, db: sqlite3.Connection
) -> None:
    record = client.get(f"/crm/v3/objects/{object_type}", params={"limit": 1}).json()["results"][0]
    object_id, properties, created_at, updated_at = db.execute(
        "SELECT id, properties, created_at, updated_at FROM objects"
        " WHERE object_type = ? AND archived = 0 ORDER BY id LIMIT 1",
        (object_type,),
    ).fetchone()
    assert record == {
        "id": str(object_id),
        "properties": {name: json.loads(properties).get(name) for name in DEFAULT_PROPERTIES[object_type]}
        | {"hs_object_id": str(object_id), "createdate": created_at, last_modified(object_type): updated_at},
        "createdAt": created_at,
        "updatedAt": updated_at,
        "archived": False,
    }


def test_the_next_page_link_answers_the_next_page(client: httpx.Client, db: sqlite3.Connection) -> None:
    first = client.get("/crm/v3/objects/contacts", params={"limit": 3, "properties": "email"}).json()
    second = client.get(first["paging"]["next"]["link"]).json()
    assert ids_of(first["results"] + second["results"]) == list(stored(db, "contacts"))[:6]
    assert set(second["results"][0]["properties"]) == {
        "email",
        "hs_object_id",
        "createdate",
        "lastmodifieddate",
    }


@pytest.mark.parametrize("type_id", sorted(TYPE_IDS))
def test_an_object_type_id_names_the_same_objects_as_the_type_name(type_id: str, client: httpx.Client) -> None:
    by_id = client.get(f"/crm/v3/objects/{type_id}", params={"limit": 5})
    by_name = client.get(f"/crm/v3/objects/{TYPE_IDS[type_id]}", params={"limit": 5})
    assert by_id.status_code == by_name.status_code == 200
    assert by_id.json()["results"] == by_name.json()["results"]


@pytest.mark.parametrize("limit", ["101", "0", "ten"])
def test_a_list_limit_outside_1_to_100_is_a_validation_error(limit: str, client: httpx.Client) -> None:
    assert_error(client.get("/crm/v3/objects/companies", params={"limit": limit}), 400, "VALIDATION_ERROR", "limit")


def test_a_cursor_the_api_did_not_give_out_is_a_validation_error(client: httpx.Client) -> None:
    response = client.get("/crm/v3/objects/companies", params={"after": "not-a-cursor!"})
    assert_error(response, 400, "VALIDATION_ERROR", "after")


def test_an_unknown_object_type_is_refused_naming_the_types_served(client: httpx.Client) -> None:
    body = assert_error(client.get("/crm/v3/objects/widgets"), 400, "VALIDATION_ERROR", "widgets")
    assert "companies (0-2)" in body["message"]


# --- one record ----------------------------------------------------------------------------------------


def test_a_requested_property_without_a_value_is_null(client: httpx.Client, db: sqlite3.Connection) -> None:
    contact_id, props = next((i, p) for i, p in stored(db, "contacts").items() if "phone" not in p and p.get("email"))
    response = client.get(f"/crm/v3/objects/contacts/{contact_id}", params={"properties": "email,phone,jobtitle"})
    assert response.status_code == 200
    properties = response.json()["properties"]
    assert properties["phone"] is None
    assert (properties["email"], properties["jobtitle"]) == (props["email"], props.get("jobtitle"))
    assert set(properties) == {"email", "phone", "jobtitle", "hs_object_id", "createdate", "lastmodifieddate"}


def test_a_contact_is_found_by_email_whatever_its_case(client: httpx.Client, db: sqlite3.Connection) -> None:
    contact_id, props = next((i, p) for i, p in stored(db, "contacts").items() if p.get("email"))
    response = client.get(
        f"/crm/v3/objects/contacts/{props['email'].upper()}",
        params={"idProperty": "email", "properties": "email"},
    )
    assert response.status_code == 200
    assert response.json()["id"] == str(contact_id)


def test_every_error_carries_a_fresh_correlation_id(client: httpx.Client) -> None:
    first, second = (assert_error(client.get("/crm/v3/objects/companies/1"), 404, "OBJECT_NOT_FOUND") for _ in "12")
    assert first["correlationId"] != second["correlationId"]


def test_leading_zeros_name_the_same_object(client: httpx.Client, db: sqlite3.Connection) -> None:
    company = next(iter(stored(db, "companies")))
    response = client.get(f"/crm/v3/objects/companies/0{company}")
    assert response.status_code == 200
    assert response.json()["id"] == str(company)


def test_an_unknown_id_is_object_not_found(client: httpx.Client) -> None:
    assert_error(client.get("/crm/v3/objects/companies/1"), 404, "OBJECT_NOT_FOUND", "'1'")
    assert_error(
        client.get("/crm/v3/objects/contacts/nobody@nowhere.test", params={"idProperty": "email"}),
        404,
        "OBJECT_NOT_FOUND",
    )


# --- batch read --------------------------------------------------------------------------------------


def test_a_batch_read_answers_every_requested_record(client: httpx.Client, db: sqlite3.Connection) -> None:
    deals = stored(db, "deals")
    wanted = list(deals)[-100:]
    response = client.post(
        "/crm/v3/objects/deals/batch/read",
        json={
            "inputs": [{"id": str(i)} for i in wanted],
            "properties": ["amount"],
            "propertiesWithHistory": [],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "results", "startedAt", "completedAt"}
    assert body["status"] == "COMPLETE"
    assert sorted(ids_of(body["results"])) == wanted
    assert all(r["properties"]["amount"] == deals[int(r["id"])]["amount"] for r in body["results"])


def test_a_batch_read_with_unknown_ids_answers_207_naming_them(client: httpx.Client, db: sqlite3.Connection) -> None:
    known = list(stored(db, "companies"))[:2]
    response = client.post(
        "/crm/v3/objects/companies/batch/read",
        json={"inputs": [{"id": str(known[0])}, {"id": "1"}, {"id": str(known[1])}, {"id": "nope"}]},
    )
    assert response.status_code == 207
    body = response.json()
    assert sorted(ids_of(body["results"])) == known
    assert body["numErrors"] == 1
    assert body["errors"] == [
        {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": "Could not get some COMPANY objects, they may be deleted or not exist. "
            "Check that ids are valid.",
            "context": {"ids": ["1", "nope"]},
        }
    ]


def test_a_batch_read_finds_companies_by_domain(client: httpx.Client, db: sqlite3.Connection) -> None:
    domains = {p["domain"]: i for i, p in stored(db, "companies").items() if p.get("domain")}
    wanted = sorted(domains)[:5]
    response = client.post(
        "/crm/v3/objects/companies/batch/read",
        json={"inputs": [{"id": d} for d in wanted], "idProperty": "domain", "properties": ["domain"]},
    )
    assert response.status_code == 200
    assert sorted(r["properties"]["domain"] for r in response.json()["results"]) == wanted


def test_a_batch_read_of_101_inputs_is_refused(client: httpx.Client) -> None:
    inputs = [{"id": str(n)} for n in range(101)]
    response = client.post("/crm/v3/objects/contacts/batch/read", json={"inputs": inputs})
    assert_error(response, 400, "VALIDATION_ERROR", "inputs")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "(body)"),
        (b"{}", "inputs"),
        (b'{"inputs": []}', "inputs"),
        (b'{"inputs": "1,2"}', "inputs"),
        (b'{"inputs": [{"identifier": "1"}]}', "inputs.0.id"),
        (b'{"inputs": [{"id": "1"}], "properties": "name"}', "properties"),
        (b'{"inputs": [{"id": "1"}], "propertys": ["name"]}', "propertys"),
    ],
)
def test_a_malformed_batch_read_is_refused_naming_the_field(body: bytes, field: str, client: httpx.Client) -> None:
    response = client.post("/crm/v3/objects/companies/batch/read", content=body)
    assert_error(response, 400, "VALIDATION_ERROR", f"{field}:")


# --- search ------------------------------------------------------------------------------------------


def words(value: str) -> list[str]:
    return re.findall(r"[^\W_]+", value.lower())


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


JAN_2025_MS = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)


def where(name: str, operator: str, **operands: Any) -> dict[str, Any]:
    return {"propertyName": name, "operator": operator, **operands}


def only(*filters: dict[str, Any]) -> dict[str, Any]:
    """A search body of one filter group."""
    return {"filterGroups": [{"filters": list(filters)}]}


# (object type, filter, the same condition written over the stored properties)
OPERATOR_CASES: dict[str, tuple[str, dict[str, Any], Callable[[Props], bool]]] = {
    "EQ": ("companies", where("country", "EQ", value="SINGAPORE"), lambda p: p.get("country") == "Singapore"),
    "NEQ": ("companies", where("lifecyclestage", "NEQ", value="customer"),
            lambda p: p.get("lifecyclestage") != "customer"),
    "LT": ("deals", where("amount", "LT", value=100000),
           lambda p: "amount" in p and float(p["amount"]) < 100000),
    "LTE": ("companies", where("numberofemployees", "LTE", value="500"),
            lambda p: "numberofemployees" in p and int(p["numberofemployees"]) <= 500),
    "GT": ("companies", where("annualrevenue", "GT", value="50000000"),
           lambda p: "annualrevenue" in p and float(p["annualrevenue"]) > 50_000_000),
    "GTE": ("calls", where("hs_call_duration", "GTE", value="1800000"),
            lambda p: "hs_call_duration" in p and int(p["hs_call_duration"]) >= 1_800_000),
    "BETWEEN": ("deals",
                where("closedate", "BETWEEN", value=str(JAN_2025_MS), highValue="2025-12-31T23:59:59Z"),
                lambda p: "closedate" in p and instant(p["closedate"]).year == 2025),
    "IN": ("contacts", where("hs_language", "IN", values=["ZH-CN", "fr"]),
           lambda p: p.get("hs_language") in ("zh-cn", "fr")),
    "NOT_IN": ("deals", where("dealstage", "NOT_IN", values=["closedwon", "closedlost"]),
               lambda p: p.get("dealstage") not in ("closedwon", "closedlost")),
    "HAS_PROPERTY": ("companies", where("tax_id", "HAS_PROPERTY"), lambda p: bool(p.get("tax_id"))),
    "NOT_HAS_PROPERTY": ("contacts", where("phone", "NOT_HAS_PROPERTY"), lambda p: not p.get("phone")),
    "CONTAINS_TOKEN": ("companies", where("name", "CONTAINS_TOKEN", value="Labs"),
                       lambda p: "labs" in words(p.get("name", ""))),
    "CONTAINS_TOKEN with a wildcard": ("contacts", where("email", "CONTAINS_TOKEN", value="*.SG"),
                                       lambda p: p.get("email", "").lower().endswith(".sg")),
    "NOT_CONTAINS_TOKEN": ("companies", where("name", "NOT_CONTAINS_TOKEN", value="ltd"),
                           lambda p: "ltd" not in words(p.get("name", ""))),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(OPERATOR_CASES))
def test_each_search_operator_finds_exactly_the_matching_objects(
    case: str, client: httpx.Client, db: sqlite3.Connection
) -> None:
    object_type, search_filter, condition = OPERATOR_CASES[case]
    everything = stored(db, object_type)
    expected = [object_id for object_id, props in everything.items() if condition(props)]
    assert 0 < len(expected) < len(everything), "the case must tell matching objects from the others"
    found = search_all(client, object_type, only(search_filter))
    assert ids_of(found) == expected


def test_a_date_time_filter_takes_epoch_millis_and_iso_8601_alike(client: httpx.Client, db: sqlite3.Connection) -> None:
    cutoff = datetime(2025, 6, 1, tzinfo=UTC)
    expected = [
        object_id
        for object_id, created in db.execute(
            "SELECT id, created_at FROM objects WHERE object_type = 'contacts' AND archived = 0 ORDER BY id"
        )
        if instant(created) >= cutoff
    ]
    assert expected
    for value in (str(int(cutoff.timestamp() * 1000)), "2025-06-01T00:00:00Z", "2025-06-01T08:00:00+08:00"):
        assert ids_of(search_all(client, "contacts", only(where("createdate", "GTE", value=value)))) == expected


def test_filter_groups_are_ored_and_the_filters_in_a_group_anded(client: httpx.Client, db: sqlite3.Connection) -> None:
    companies = stored(db, "companies")
    expected = [
        i
        for i, p in companies.items()
        if (p["country"] == "Germany" and p["lifecyclestage"] == "customer") or p["country"] == "Japan"
    ]
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "country", "operator": "EQ", "value": "Germany"},
                    {"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"},
                ]
            },
            {"filters": [{"propertyName": "country", "operator": "EQ", "value": "Japan"}]},
        ]
    }
    assert ids_of(search_all(client, "companies", body)) == expected


def test_search_sorts_apply_in_order_with_the_id_as_tiebreaker(client: httpx.Client, db: sqlite3.Connection) -> None:
    deals = stored(db, "deals")
    expected = sorted(deals, key=lambda i: (deals[i]["dealstage"], -float(deals[i]["amount"]), i))
    body = {
        "sorts": [{"propertyName": "dealstage", "direction": "ASCENDING"}, "-amount"],
        "properties": ["amount"],
    }
    assert ids_of(search_all(client, "deals", body)) == expected


def test_search_pages_to_the_end_without_a_duplicate_or_a_gap(client: httpx.Client, db: sqlite3.Connection) -> None:
    results = search_all(client, "contacts", {"limit": 7})
    assert ids_of(results) == list(stored(db, "contacts"))
    assert set(results[0]["properties"]) == {"firstname", "lastname", "email", "hs_object_id", "createdate",
                                             "lastmodifieddate"}  # fmt: skip


def test_a_free_text_query_finds_the_objects_with_a_word_starting_with_it(
    client: httpx.Client, db: sqlite3.Connection
) -> None:
    contacts = stored(db, "contacts")
    prefix = next(p["lastname"] for p in contacts.values() if p["lastname"].isascii() and p["lastname"].isalpha())
    prefix = prefix[:4].upper()
    searchable = ("firstname", "lastname", "email", "phone", "mobilephone", "company")
    expected = [
        object_id
        for object_id, props in contacts.items()
        if any(word.startswith(prefix.lower()) for name in searchable for word in words(props.get(name, "")))
    ]
    assert ids_of(search_all(client, "contacts", {"query": prefix})) == expected


def test_search_refuses_to_page_beyond_10000_results(client: httpx.Client) -> None:
    assert client.post("/crm/v3/objects/contacts/search", json={"after": "9900", "limit": 100}).status_code == 200
    response = client.post("/crm/v3/objects/contacts/search", json={"after": "9901", "limit": 100})
    assert_error(response, 400, "VALIDATION_ERROR", "10,000")


def groups(count: int, filters_each: int) -> dict[str, Any]:
    return {"filterGroups": [{"filters": [where("country", "HAS_PROPERTY")] * filters_each}] * count}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (groups(6, 1), "filterGroups"),
        (groups(1, 7), "filterGroups.0.filters"),
        (groups(4, 5), "filterGroups"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"after": "page-2"}, "after"),
        (only(where("name", "LIKE", value="a")), "filterGroups.0.filters.0.operator"),
        (only(where("name", "EQ")), "filterGroups.0.filters.0: value"),
        (only(where("name", "IN", values=[])), "filterGroups.0.filters.0: values"),
        (only(where("annualrevenue", "GT", value="lots")), "filterGroups.0.filters.0: value"),
        (only(where("createdate", "BETWEEN", value="2024-01-01", highValue="soon")),
         "filterGroups.0.filters.0: highValue"),
        ({"sorts": [{"propertyName": "name", "direction": "UP"}]}, "sorts.0.direction"),
        ({"filtergroups": []}, "filtergroups"),
    ],
)  # fmt: skip
def test_a_search_outside_hubspots_limits_or_malformed_is_refused_naming_the_field(
    body: dict[str, Any], field: str, client: httpx.Client
) -> None:
    response = client.post("/crm/v3/objects/companies/search", json=body)
    assert_error(response, 400, "VALIDATION_ERROR", field)


# --- associations ------------------------------------------------------------------------------------


def stored_associations(db: sqlite3.Connection, from_type: str, to_type: str) -> dict[int, list[tuple[int, int]]]:
    targets: dict[int, list[tuple[int, int]]] = {}
    for from_id, to_id, type_id in db.execute(
        "SELECT from_id, to_id, type_id FROM associations WHERE from_type = ? AND to_type = ? ORDER BY to_id",
        (from_type, to_type),
    ):
        targets.setdefault(from_id, []).append((to_id, type_id))
    return targets


@pytest.mark.parametrize(("from_type", "to_type"), [("companies", "contacts"), ("contacts", "emails"),
                                                     ("deals", "companies"), ("0-2", "0-3")])  # fmt: skip
def test_an_associations_batch_read_answers_what_the_store_links(
    from_type: str, to_type: str, client: httpx.Client, db: sqlite3.Connection
) -> None:
    links = stored_associations(db, TYPE_IDS.get(from_type, from_type), TYPE_IDS.get(to_type, to_type))
    asked = sorted(links)[:200]
    response = client.post(
        f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
        json={"inputs": [{"id": str(i)} for i in asked]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "COMPLETE"
    answered = {
        int(result["from"]["id"]): [
            (to["toObjectId"], kind["typeId"]) for to in result["to"] for kind in to["associationTypes"]
        ]
        for result in body["results"]
    }
    assert answered == {i: links[i] for i in asked}
    first_type = body["results"][0]["to"][0]["associationTypes"][0]
    assert first_type["category"] == "HUBSPOT_DEFINED" and first_type["label"] is None


def test_the_most_associated_company_is_answered_whole_by_following_after(
    client: httpx.Client, db: sqlite3.Connection
) -> None:
    links = stored_associations(db, "companies", "deals")
    company = max(links, key=lambda i: len(links[i]))
    found: list[int] = []
    item: dict[str, Any] = {"id": str(company)}
    while True:
        response = client.post("/crm/v4/associations/companies/deals/batch/read", json={"inputs": [item]})
        result = response.json()["results"][0]
        found += [to["toObjectId"] for to in result["to"]]
        if "paging" not in result:
            break
        item["after"] = result["paging"]["next"]["after"]
    assert found == [to_id for to_id, _ in links[company]]


def test_inputs_without_associations_are_reported_one_by_one_with_207(
    client: httpx.Client, db: sqlite3.Connection
) -> None:
    linked = min(stored_associations(db, "companies", "contacts"))
    response = client.post(
        "/crm/v4/associations/companies/contacts/batch/read",
        json={"inputs": [{"id": "1"}, {"id": str(linked)}, {"id": "x"}]},
    )
    assert response.status_code == 207
    body = response.json()
    assert [result["from"]["id"] for result in body["results"]] == [str(linked)]
    assert body["numErrors"] == 2
    assert [error["context"] for error in body["errors"]] == [
        {"fromObjectId": ["1"]},
        {"fromObjectId": ["x"]},
    ]
    assert {(e["category"], e["subCategory"]) for e in body["errors"]} == {
        ("OBJECT_NOT_FOUND", "crm.associations.NO_ASSOCIATIONS_FOUND")
    }


def test_an_associations_batch_read_of_1001_inputs_is_refused(client: httpx.Client) -> None:
    inputs = [{"id": str(n)} for n in range(1001)]
    response = client.post("/crm/v4/associations/companies/contacts/batch/read", json={"inputs": inputs})
    assert_error(response, 400, "VALIDATION_ERROR", "inputs")


@pytest.mark.parametrize(
    ("body", "field"),
    [(b'{"inputs": [{"id": "1", "after": "?!"}]}', "inputs.0.after"), (b'{"inputs": [{}]}', "inputs.0.id"),
     (b"[]", "(body)")],
)  # fmt: skip
def test_a_malformed_associations_read_is_refused_naming_the_field(
    body: bytes, field: str, client: httpx.Client
) -> None:
    response = client.post("/crm/v4/associations/companies/contacts/batch/read", content=body)
    assert_error(response, 400, "VALIDATION_ERROR", field)


# --- owners ------------------------------------------------------------------------------------------


def test_owners_page_through_every_owner_once(client: httpx.Client, db: sqlite3.Connection) -> None:
    owners = list_all(client, "/crm/v3/owners", limit=7)
    rows = db.execute("SELECT id, email, first_name, last_name, created_at, updated_at FROM owners ORDER BY id")
    expected = [
        {"id": str(i), "email": email, "firstName": first, "lastName": last, "createdAt": created,
         "updatedAt": updated, "archived": False}
        for i, email, first, last, created, updated in rows
    ]  # fmt: skip
    assert [{k: v for k, v in owner.items() if k in expected[0]} for owner in owners] == expected
    assert all(isinstance(owner["userId"], int) for owner in owners)


def test_an_owner_is_found_by_id_and_by_user_id(client: httpx.Client, db: sqlite3.Connection) -> None:
    owner_id = db.execute("SELECT max(id) FROM owners").fetchone()[0]
    owner = client.get(f"/crm/v3/owners/{owner_id}").json()
    assert owner["id"] == str(owner_id)
    by_user = client.get(f"/crm/v3/owners/{owner['userId']}", params={"idProperty": "userId"})
    assert by_user.json() == owner


def test_an_unknown_owner_is_object_not_found(client: httpx.Client) -> None:
    assert_error(client.get("/crm/v3/owners/1"), 404, "OBJECT_NOT_FOUND")


def test_an_owners_limit_above_500_is_refused(client: httpx.Client) -> None:
    assert client.get("/crm/v3/owners", params={"limit": 500}).status_code == 200
    assert_error(client.get("/crm/v3/owners", params={"limit": 501}), 400, "VALIDATION_ERROR", "limit")


# --- authentication and injected faults --------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/crm/v3/objects/companies", None),
    ("GET", "/crm/v3/objects/companies/1", None),
    ("POST", "/crm/v3/objects/companies/batch/read", {"inputs": [{"id": "1"}]}),
    ("POST", "/crm/v3/objects/companies/search", {}),
    ("POST", "/crm/v4/associations/companies/contacts/batch/read", {"inputs": [{"id": "1"}]}),
    ("GET", "/crm/v3/owners", None),
    ("GET", "/crm/v3/owners/1", None),
]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic ZGVtby1jcm0tdG9rZW4="])
@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_endpoint_refuses_a_request_without_the_token(
    method: str, path: str, body: dict[str, Any] | None, authorization: str | None, running_estate: Estate
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.request(method, f"{running_estate.crm_url}{path}", json=body, headers=headers, timeout=10)
    assert_error(response, 401, "INVALID_AUTHENTICATION")


def test_an_injected_rate_limit_answers_like_hubspot(estate: Estate) -> None:
    estate.faults("crm", rate_limit_per_s=0.001)
    with estate.crm() as crm:
        assert crm.get("/crm/v3/owners").status_code == 200
        response = crm.get("/crm/v3/owners")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    body = response.json()
    uuid.UUID(body.pop("correlationId"))
    assert body == {
        "status": "error",
        "message": "You have reached your secondly limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "SECONDLY",
    }


def test_an_injected_failure_answers_like_hubspot(estate: Estate) -> None:
    estate.faults("crm", error_rate=1)
    with estate.crm() as crm:
        assert_error(crm.get("/crm/v3/owners"), 500, "INTERNAL_ERROR")
    assert estate.stats("crm")["by_endpoint"]["GET /crm/v3/owners"]["by_status"] == {"500": 1}


# --- what the seed never holds: archived objects, more than 500 associations -------------------------

TOKEN = "scratch-token"
STAMP = "2024-01-01T00:00:00.000Z"
WHALE_CONTACTS = 1_300  # contact 1300 is archived, so the whale company shows 1,299
TWO_COMPANIES = 1_301  # a contact of two companies


def _fill_scratch_store(path: Path) -> None:
    conn = crm_store.connect(path)
    objects = [("companies", 1, {"name": "Whale Corp"}, 0), ("companies", 2, {"name": "Gone Corp"}, 1),
               ("companies", 3, {"name": "Minnow Ltd"}, 0)]  # fmt: skip
    objects += [("contacts", n, {"email": f"c{n}@whale.test"}, int(n == WHALE_CONTACTS)) for n in range(1, 1301)]
    conn.executemany(
        "INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?)",
        [(kind, oid, json.dumps(props), STAMP, STAMP, archived) for kind, oid, props, archived in objects],
    )
    pairs = [(1, n) for n in range(1, WHALE_CONTACTS + 1)] + [(2, 1), (3, 2)]
    both_ways = [
        (("companies", company, "contacts", contact, 280), ("contacts", contact, "companies", company, 279))
        for company, contact in pairs
    ]
    conn.executemany("INSERT INTO associations VALUES (?, ?, ?, ?, ?)", [row for rows in both_ways for row in rows])
    # A contact of two companies, Minnow Ltd its primary one (type 1); linked one way only, so that the
    # companies' own listings stay as they are.
    conn.execute("INSERT INTO objects VALUES ('contacts', ?, '{}', ?, ?, 0)", (TWO_COMPANIES, STAMP, STAMP))
    conn.executemany(
        "INSERT INTO associations VALUES (?, ?, ?, ?, ?)",
        [("contacts", TWO_COMPANIES, "companies", 1, 279), ("contacts", TWO_COMPANIES, "companies", 3, 1),
         ("contacts", TWO_COMPANIES, "companies", 3, 279)],
    )  # fmt: skip
    conn.commit()
    conn.close()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """The CRM app over a store of our own, on a real loopback server run by a thread of this process."""
    path = tmp_path_factory.mktemp("scratch-crm") / "crm.sqlite"
    _fill_scratch_store(path)
    app = build_crm_api(path, TOKEN)
    try:
        with (
            serving_in_thread(app) as url,
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as crm,
        ):
            yield crm
    finally:
        app.state.store.close()


def test_associations_come_500_at_a_time_and_the_rest_with_after(scratch: httpx.Client) -> None:
    path = "/crm/v4/associations/companies/contacts/batch/read"
    inputs: list[dict[str, Any]] = [{"id": "1"}, {"id": "3"}]
    pages: list[list[int]] = []
    while True:
        response = scratch.post(path, json={"inputs": inputs})
        assert response.status_code == 200
        whale, minnow = response.json()["results"]
        assert minnow["to"] == [{"toObjectId": 2, "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": 280, "label": None}]}]  # fmt: skip
        pages.append([to["toObjectId"] for to in whale["to"]])
        if "paging" not in whale:
            break
        inputs[0]["after"] = whale["paging"]["next"]["after"]
    assert [len(page) for page in pages] == [500, 500, 299]
    assert [to_id for page in pages for to_id in page] == list(range(1, WHALE_CONTACTS))


def test_archived_objects_are_left_out_unless_asked_for(scratch: httpx.Client) -> None:
    assert ids_of(scratch.get("/crm/v3/objects/companies").json()["results"]) == [1, 3]
    archived = scratch.get("/crm/v3/objects/companies", params={"archived": "true"}).json()["results"]
    assert ids_of(archived) == [2]
    assert archived[0]["archived"] is True and archived[0]["archivedAt"] == STAMP
    assert_error(scratch.get("/crm/v3/objects/companies/2"), 404, "OBJECT_NOT_FOUND")
    assert scratch.get("/crm/v3/objects/companies/2", params={"archived": "true"}).status_code == 200
    assert scratch.post("/crm/v3/objects/companies/search", json={}).json()["total"] == 2
    batch = scratch.post("/crm/v3/objects/companies/batch/read", json={"inputs": [{"id": "2"}, {"id": "3"}]})
    assert batch.status_code == 207 and batch.json()["errors"][0]["context"] == {"ids": ["2"]}


def test_an_archived_object_leaves_the_associations_of_the_others(scratch: httpx.Client) -> None:
    response = scratch.post(
        "/crm/v4/associations/contacts/companies/batch/read",
        json={"inputs": [{"id": "1"}, {"id": str(WHALE_CONTACTS)}]},
    )
    assert response.status_code == 207
    body = response.json()
    assert [[to["toObjectId"] for to in result["to"]] for result in body["results"]] == [[1]]
    assert body["errors"][0]["context"] == {"fromObjectId": [str(WHALE_CONTACTS)]}


# --- a record's own GET with ?associations= ---------------------------------------------------------


def test_a_company_read_by_id_lists_what_is_associated_with_it(client: httpx.Client, db: sqlite3.Connection) -> None:
    contacts, deals = stored_associations(db, "companies", "contacts"), stored_associations(db, "companies", "deals")
    company = next(c for c in sorted(contacts) if c in deals and len(contacts[c]) <= 100)
    response = client.get(
        f"/crm/v3/objects/companies/{company}", params={"associations": "contacts,0-3,no-such-type,tickets"}
    )
    assert response.status_code == 200, response.text
    listed = response.json()["associations"]
    assert set(listed) == {"contacts", "deals"}  # unknown names ignored, types with nothing left out
    # The seed links contacts with the plain association type (280): HubSpot labels it "..._unlabeled".
    assert listed["contacts"] == {
        "results": [{"id": str(to_id), "type": "company_to_contact_unlabeled"} for to_id, _ in contacts[company]]
    }
    assert [item["id"] for item in listed["deals"]["results"]] == [
        str(t) for t in dict.fromkeys(t for t, _ in deals[company])
    ]


def test_a_list_of_contacts_lists_each_contacts_companies_as_its_own_get_does(
    client: httpx.Client, db: sqlite3.Connection
) -> None:
    companies = stored_associations(db, "contacts", "companies")
    body = client.get("/crm/v3/objects/contacts", params={"limit": 100, "associations": "companies"}).json()
    assert len(body["results"]) == 100
    for record in body["results"]:
        expected = [{"id": str(to_id), "type": "contact_to_company_unlabeled"}
                    for to_id, _ in companies.get(int(record["id"]), [])]  # fmt: skip
        assert record.get("associations", {}).get("companies", {}).get("results", []) == expected
        if expected:  # the same listing as the contact's own GET gives
            alone = client.get(f"/crm/v3/objects/contacts/{record['id']}", params={"associations": "companies"})
            assert alone.json()["associations"] == record["associations"]
    assert any("associations" in record for record in body["results"])


def test_a_primary_company_is_listed_twice_primary_and_plain(scratch: httpx.Client) -> None:
    params: dict[str, Any] = {"limit": 100, "associations": "companies"}
    while True:
        body = scratch.get("/crm/v3/objects/contacts", params=params).json()
        if "paging" not in body:
            break
        params["after"] = body["paging"]["next"]["after"]
    last = body["results"][-1]
    assert last["id"] == str(TWO_COMPANIES) and last["associations"]["companies"]["results"] == [
        {"id": "1", "type": "contact_to_company_unlabeled"},
        {"id": "3", "type": "contact_to_company"}, {"id": "3", "type": "contact_to_company_unlabeled"},
    ]  # fmt: skip
    alone = scratch.get(f"/crm/v3/objects/contacts/{TWO_COMPANIES}", params={"associations": "companies"}).json()
    assert alone["associations"] == last["associations"]


def test_a_company_with_no_associations_asked_has_no_associations_key(
    client: httpx.Client, db: sqlite3.Connection
) -> None:
    company = min(stored_associations(db, "companies", "contacts"))
    assert "associations" not in client.get(f"/crm/v3/objects/companies/{company}").json()
    lonely = client.get(f"/crm/v3/objects/companies/{company}", params={"associations": "no-such-type"})
    assert lonely.status_code == 200 and "associations" not in lonely.json()


def test_a_record_lists_the_first_100_of_a_type_and_a_cursor_the_v4_api_continues_from(
    scratch: httpx.Client,
) -> None:
    listing = scratch.get("/crm/v3/objects/companies/1", params={"associations": "contacts"}).json()["associations"]
    first = [int(item["id"]) for item in listing["contacts"]["results"]]
    assert first == list(range(1, 101))
    after = listing["contacts"]["paging"]["next"]["after"]
    rest = scratch.post(
        "/crm/v4/associations/companies/contacts/batch/read", json={"inputs": [{"id": "1", "after": after}]}
    ).json()["results"][0]
    assert rest["to"][0]["toObjectId"] == 101
    minnow = scratch.get("/crm/v3/objects/companies/3", params={"associations": "contacts"}).json()["associations"]
    assert minnow == {"contacts": {"results": [{"id": "2", "type": "company_to_contact_unlabeled"}]}}
