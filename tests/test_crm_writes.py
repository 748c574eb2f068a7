"""The simulated CRM's writes against a running server: HubSpot's CRM v3 shapes, its errors, the demo's
precondition, webhooks signed with HubSpot's v3 signature, write counters and write faults.

Every test writes to the writable estate (a copy of the seeded one), never to the shared estate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Estate
from tests.webhook_receiver import Delivery, webhook_receiver

SECRET = "hubspot-app-secret"
PRECONDITION = "X-Crmgraph-If-Updated-At"
_unique = itertools.count()


@pytest.fixture
def crm(writable_estate: Estate) -> Any:
    with writable_estate.crm() as client:
        yield client


def new_email() -> str:
    return f"writer.{next(_unique)}.{uuid.uuid4().hex[:8]}@example.com"


def first_id(crm: httpx.Client, object_type: str) -> str:
    result: str = crm.get(f"/crm/v3/objects/{object_type}", params={"limit": 1}).json()["results"][0]["id"]
    return result


def subscribe(estate: Estate, url: str, **options: Any) -> int:
    response = httpx.post(f"{estate.crm_url}/_control/webhooks", json={"url": url, "secret": SECRET, **options})
    assert response.status_code == 201, response.text
    subscription: int = response.json()["id"]
    return subscription


def hubspot_v3_valid(delivery: Delivery, url: str, secret: str) -> bool:
    """HubSpot's documented check: base64(HMAC-SHA256(secret, method + uri + body + timestamp)), fresh timestamp."""
    timestamp = delivery.headers["X-HubSpot-Request-Timestamp"]
    if abs(time.time() * 1000 - int(timestamp)) > 5 * 60 * 1000:
        return False
    message = b"POST" + url.encode() + delivery.body + timestamp.encode()
    expected = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, delivery.headers["X-HubSpot-Signature-v3"])


def events_of(deliveries: list[Delivery]) -> list[dict[str, Any]]:
    return [event for delivery in deliveries for event in json.loads(delivery.body)]


def assert_error(response: httpx.Response, status: int, category: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "error" and body["category"] == category and body["correlationId"]
    return body


# --- create and update -----------------------------------------------------------------------------------


def test_a_created_contact_is_answered_201_and_read_back_by_id_and_by_email(crm: httpx.Client) -> None:
    email = new_email()
    response = crm.post("/crm/v3/objects/contacts", json={"properties": {"email": email, "firstname": "Ada"}})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["properties"]["email"] == email and created["createdAt"] == created["updatedAt"]
    assert created["properties"]["lastmodifieddate"] == created["updatedAt"]
    by_id = crm.get(f"/crm/v3/objects/contacts/{created['id']}", params={"properties": "firstname"}).json()
    assert by_id["properties"]["firstname"] == "Ada"
    by_email = crm.get(f"/crm/v3/objects/contacts/{email.upper()}", params={"idProperty": "email"}).json()
    assert by_email["id"] == created["id"]


def test_an_update_changes_the_properties_and_moves_updated_at_on(crm: httpx.Client) -> None:
    company = first_id(crm, "companies")
    before = crm.get(f"/crm/v3/objects/companies/{company}").json()
    response = crm.patch(f"/crm/v3/objects/companies/{company}", json={"properties": {"city": "Hangzhou"}})
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["properties"]["city"] == "Hangzhou"
    assert after["updatedAt"] > before["updatedAt"] and after["createdAt"] == before["createdAt"]
    assert after["properties"]["hs_lastmodifieddate"] == after["updatedAt"]


def test_an_empty_value_clears_a_property(crm: httpx.Client) -> None:
    company = first_id(crm, "companies")
    crm.patch(f"/crm/v3/objects/companies/{company}", json={"properties": {"description": "x"}})
    cleared = crm.patch(f"/crm/v3/objects/companies/{company}", json={"properties": {"description": ""}}).json()
    assert cleared["properties"]["description"] is None


def test_an_update_of_an_unknown_id_is_object_not_found(crm: httpx.Client) -> None:
    response = crm.patch("/crm/v3/objects/deals/999999999999", json={"properties": {"dealname": "x"}})
    assert_error(response, 404, "OBJECT_NOT_FOUND")


def test_a_batch_create_answers_every_object_in_input_order(crm: httpx.Client) -> None:
    inputs = [{"properties": {"dealname": f"Deal {n}", "dealstage": "qualifiedtobuy", "amount": n}} for n in range(3)]
    response = crm.post("/crm/v3/objects/deals/batch/create", json={"inputs": inputs})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "COMPLETE" and body["startedAt"] <= body["completedAt"]
    assert [r["properties"]["dealname"] for r in body["results"]] == ["Deal 0", "Deal 1", "Deal 2"]
    assert [r["properties"]["amount"] for r in body["results"]] == ["0", "1", "2"]  # numbers become strings


def test_a_batch_update_changes_each_object_and_names_unknown_ids_with_207(crm: httpx.Client) -> None:
    ids = [r["id"] for r in crm.get("/crm/v3/objects/deals", params={"limit": 2}).json()["results"]]
    inputs = [{"id": i, "properties": {"dealstage": "closedlost"}} for i in ids]
    response = crm.post(
        "/crm/v3/objects/deals/batch/update", json={"inputs": [*inputs, {"id": "999999999", "properties": {}}]}
    )
    assert response.status_code == 207, response.text
    body = response.json()
    assert sorted(r["id"] for r in body["results"]) == sorted(ids)
    assert all(r["properties"]["dealstage"] == "closedlost" for r in body["results"])
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND" and body["errors"][0]["context"]["ids"] == ["999999999"]


def test_a_batch_update_naming_an_object_twice_is_refused(crm: httpx.Client) -> None:
    deal = first_id(crm, "deals")
    inputs = [{"id": deal, "properties": {"dealname": "a"}}, {"id": deal, "properties": {"dealname": "b"}}]
    assert_error(crm.post("/crm/v3/objects/deals/batch/update", json={"inputs": inputs}), 400, "VALIDATION_ERROR")


# --- validation and conflicts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("object_type", "properties", "code", "name"),
    [
        ("companies", {"name": "x", "colour": "red"}, "PROPERTY_DOESNT_EXIST", "colour"),
        ("deals", {"dealname": "x", "dealstage": "won-ish"}, "INVALID_OPTION", "dealstage"),
        ("deals", {"dealname": "x", "amount": "lots"}, "INVALID_FLOAT", "amount"),
        ("contacts", {"email": "ro@example.com", "hs_object_id": "1"}, "READ_ONLY_VALUE", "hs_object_id"),
        ("meetings", {"hs_timestamp": "yesterday"}, "INVALID_DATE", "hs_timestamp"),
    ],
)
def test_a_property_hubspot_would_refuse_is_a_validation_error_naming_it(
    crm: httpx.Client, object_type: str, properties: dict[str, str], code: str, name: str
) -> None:
    body = assert_error(
        crm.post(f"/crm/v3/objects/{object_type}", json={"properties": properties}), 400, "VALIDATION_ERROR"
    )
    assert body["message"].startswith("Property values were not valid: ")
    assert json.loads(body["message"].removeprefix("Property values were not valid: "))[0]["error"] == code
    assert body["errors"] == [
        {"message": body["errors"][0]["message"], "code": code, "context": {"propertyName": [name]}}
    ]


def test_a_refused_batch_writes_nothing(crm: httpx.Client, writable_estate: Estate) -> None:
    name = f"Atomic {uuid.uuid4().hex}"
    inputs = [{"properties": {"dealname": name}}, {"properties": {"dealname": name, "dealstage": "nope"}}]
    assert_error(crm.post("/crm/v3/objects/deals/batch/create", json={"inputs": inputs}), 400, "VALIDATION_ERROR")
    found = crm.post(
        "/crm/v3/objects/deals/search",
        json={"filterGroups": [{"filters": [{"propertyName": "dealname", "operator": "EQ", "value": name}]}]},
    ).json()
    assert found["total"] == 0
    assert writable_estate.stats("crm")["writes"]["committed"] == 0


def test_a_second_contact_with_an_email_already_held_is_a_conflict(crm: httpx.Client) -> None:
    email = new_email()
    first = crm.post("/crm/v3/objects/contacts", json={"properties": {"email": email}}).json()
    body = assert_error(
        crm.post("/crm/v3/objects/contacts", json={"properties": {"email": email.upper()}}), 409, "CONFLICT"
    )
    assert body["message"] == f"Contact already exists. Existing ID: {first['id']}"
    other = crm.post("/crm/v3/objects/contacts", json={"properties": {"email": new_email()}}).json()
    patch = crm.patch(f"/crm/v3/objects/contacts/{other['id']}", json={"properties": {"email": email}})
    assert_error(patch, 409, "CONFLICT")
    same = crm.patch(f"/crm/v3/objects/contacts/{first['id']}", json={"properties": {"email": email}})
    assert same.status_code == 200  # an object may keep its own value


def test_an_update_naming_the_version_it_read_succeeds_and_a_stale_one_is_a_conflict(crm: httpx.Client) -> None:
    deal = first_id(crm, "deals")
    read = crm.get(f"/crm/v3/objects/deals/{deal}").json()["updatedAt"]
    ok = crm.patch(
        f"/crm/v3/objects/deals/{deal}", json={"properties": {"dealname": "first"}}, headers={PRECONDITION: read}
    )
    assert ok.status_code == 200, ok.text
    stale = crm.patch(
        f"/crm/v3/objects/deals/{deal}", json={"properties": {"dealname": "second"}}, headers={PRECONDITION: read}
    )
    body = assert_error(stale, 409, "CONFLICT")
    assert body["context"] == {"id": [deal], "updatedAt": [ok.json()["updatedAt"]]}
    assert (
        crm.get(f"/crm/v3/objects/deals/{deal}", params={"properties": "dealname"}).json()["properties"]["dealname"]
        == "first"
    )


def test_a_batch_update_with_one_stale_version_writes_nothing(crm: httpx.Client) -> None:
    ids = [r["id"] for r in crm.get("/crm/v3/objects/companies", params={"limit": 2}).json()["results"]]
    records = [crm.get(f"/crm/v3/objects/companies/{i}").json() for i in ids]
    inputs = [
        {"id": ids[0], "properties": {"city": "A"}, "ifUpdatedAt": records[0]["updatedAt"]},
        {"id": ids[1], "properties": {"city": "B"}, "ifUpdatedAt": "2000-01-01T00:00:00.000Z"},
    ]
    assert_error(crm.post("/crm/v3/objects/companies/batch/update", json={"inputs": inputs}), 409, "CONFLICT")
    assert crm.get(f"/crm/v3/objects/companies/{ids[0]}").json()["updatedAt"] == records[0]["updatedAt"]


# --- associations ----------------------------------------------------------------------------------------


def associated(crm: httpx.Client, from_type: str, from_id: str, to_type: str) -> dict[int, list[int]]:
    body = crm.post(f"/crm/v4/associations/{from_type}/{to_type}/batch/read", json={"inputs": [{"id": from_id}]}).json()
    return {
        to["toObjectId"]: [t["typeId"] for t in to["associationTypes"]]
        for result in body["results"]
        for to in result["to"]
    }


def test_a_contact_created_with_its_company_is_associated_both_ways(crm: httpx.Client) -> None:
    company = first_id(crm, "companies")
    spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}
    body = {"properties": {"email": new_email()}, "associations": [{"to": {"id": company}, "types": [spec]}]}
    contact = crm.post("/crm/v3/objects/contacts", json=body).json()["id"]
    assert associated(crm, "contacts", contact, "companies") == {int(company): [279]}
    assert 280 in associated(crm, "companies", company, "contacts")[int(contact)]


def test_default_labelled_and_batch_associations_are_written_and_removed(crm: httpx.Client) -> None:
    company = first_id(crm, "companies")
    deals = crm.post(
        "/crm/v3/objects/deals/batch/create", json={"inputs": [{"properties": {"dealname": f"D{n}"}} for n in range(3)]}
    ).json()["results"]
    d0, d1, d2 = (d["id"] for d in deals)
    default = crm.put(f"/crm/v4/objects/deals/{d0}/associations/default/companies/{company}")
    assert default.status_code == 200 and default.json()["results"][0]["associationSpec"]["associationTypeId"] == 341
    labelled = crm.put(
        f"/crm/v4/objects/deals/{d1}/associations/companies/{company}",
        json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}],
    )
    assert labelled.status_code == 201 and labelled.json()["toObjectTypeId"] == "0-2"
    batch = crm.post(
        "/crm/v4/associations/deals/companies/batch/create",
        json={"inputs": [{"from": {"id": d2}, "to": {"id": company},
                          "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}]},
    )  # fmt: skip
    assert batch.status_code == 201, batch.text
    assert associated(crm, "deals", d0, "companies") == {int(company): [341]}
    assert associated(crm, "deals", d1, "companies") == {int(company): [5, 341]}  # a primary one keeps the plain one
    assert associated(crm, "deals", d2, "companies") == {int(company): [341]}
    assert crm.delete(f"/crm/v4/objects/deals/{d1}/associations/companies/{company}").status_code == 204
    assert associated(crm, "deals", d1, "companies") == {}
    assert int(d1) not in associated(crm, "companies", company, "deals")


def test_an_association_type_that_does_not_link_the_two_types_is_refused(crm: httpx.Client) -> None:
    deal, company = first_id(crm, "deals"), first_id(crm, "companies")
    response = crm.put(
        f"/crm/v4/objects/deals/{deal}/associations/companies/{company}",
        json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
    )
    assert_error(response, 400, "VALIDATION_ERROR")


# --- webhooks --------------------------------------------------------------------------------------------


def test_changes_through_the_api_reach_a_subscriber_signed_with_hubspots_v3_signature(
    crm: httpx.Client, writable_estate: Estate
) -> None:
    with webhook_receiver() as receiver:
        subscription = subscribe(writable_estate, receiver.url)
        contact = crm.post("/crm/v3/objects/contacts", json={"properties": {"email": new_email()}}).json()["id"]
        crm.patch(f"/crm/v3/objects/contacts/{contact}", json={"properties": {"firstname": "Grace", "lastname": "H"}})
        deliveries = receiver.wait_for(1)
        deadline = time.monotonic() + 10
        while len(events_of(receiver.accepted())) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        events = events_of(receiver.accepted())
    assert all(hubspot_v3_valid(d, receiver.url, SECRET) for d in receiver.accepted())
    assert not hubspot_v3_valid(deliveries[0], receiver.url, "another-secret")
    assert [(e["subscriptionType"], e.get("propertyName"), e.get("propertyValue")) for e in events] == [
        ("contact.creation", None, None),
        ("contact.propertyChange", "firstname", "Grace"),
        ("contact.propertyChange", "lastname", "H"),
    ]
    for event in events:
        assert event["objectId"] == int(contact) and event["subscriptionId"] == subscription
        assert event["attemptNumber"] == 0 and isinstance(event["eventId"], int)
        assert abs(event["occurredAt"] - time.time() * 1000) < 60_000
    assert len({e["eventId"] for e in events}) == 3


def test_a_subscription_hears_only_the_kinds_it_names(crm: httpx.Client, writable_estate: Estate) -> None:
    with webhook_receiver() as receiver:
        subscribe(writable_estate, receiver.url, events=["deal.propertyChange"])
        crm.post("/crm/v3/objects/contacts", json={"properties": {"email": new_email()}})
        deal = first_id(crm, "deals")
        crm.patch(f"/crm/v3/objects/deals/{deal}", json={"properties": {"dealstage": "contractsent", "amount": "9"}})
        receiver.wait_for(1)
        time.sleep(0.2)
        kinds = {e["subscriptionType"] for e in events_of(receiver.accepted())}
    assert kinds == {"deal.propertyChange"}


def test_a_refused_delivery_is_retried_with_the_next_attempt_number_until_accepted(
    crm: httpx.Client, writable_estate: Estate
) -> None:
    with webhook_receiver(fail_first=2) as receiver:
        subscribe(writable_estate, receiver.url, retry_base_s=0.05)
        crm.post("/crm/v3/objects/contacts", json={"properties": {"email": new_email()}})
        (accepted,) = receiver.wait_for(1)
        attempts = [json.loads(d.body)[0]["attemptNumber"] for d in receiver.deliveries]
    assert attempts == [0, 1, 2]
    assert hubspot_v3_valid(accepted, receiver.url, SECRET)
    hooks = writable_estate.stats("crm")["webhooks"]
    assert hooks["attempts"] == 3 and hooks["failed_attempts"] == 2 and hooks["delivered"] == 1
    log = httpx.get(f"{writable_estate.crm_url}/_control/webhooks/deliveries").json()["deliveries"]
    assert [(entry["attempt"], entry["outcome"]) for entry in log] == [(1, 503), (2, 503), (3, 200)]


def test_a_delivery_is_given_up_after_its_last_attempt(crm: httpx.Client, writable_estate: Estate) -> None:
    with webhook_receiver(fail_first=100) as receiver:
        subscribe(writable_estate, receiver.url, retry_base_s=0.01, max_attempts=3)
        crm.post("/crm/v3/objects/contacts", json={"properties": {"email": new_email()}})
        deadline = time.monotonic() + 10
        while writable_estate.stats("crm")["webhooks"]["given_up"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(receiver.deliveries) == 3
    assert writable_estate.stats("crm")["webhooks"]["given_up"] == 1


def test_a_subscription_is_listed_without_its_secret_and_can_be_removed(writable_estate: Estate) -> None:
    subscription = subscribe(writable_estate, "http://127.0.0.1:9/nowhere")
    listed = httpx.get(f"{writable_estate.crm_url}/_control/webhooks").json()["subscriptions"]
    assert [s["id"] for s in listed] == [subscription] and "secret" not in listed[0]
    assert httpx.delete(f"{writable_estate.crm_url}/_control/webhooks/{subscription}").status_code == 204
    assert httpx.get(f"{writable_estate.crm_url}/_control/webhooks").json()["subscriptions"] == []
    refused = httpx.post(f"{writable_estate.crm_url}/_control/webhooks", json={"url": "ftp://x", "secret": ""})
    assert refused.status_code == 422
    assert {p["field"] for p in refused.json()["problems"]} == {"url", "secret"}


# --- counters and faults ---------------------------------------------------------------------------------


def test_one_create_is_exactly_one_committed_write_and_reads_are_not_writes(
    crm: httpx.Client, writable_estate: Estate
) -> None:
    contact = crm.post("/crm/v3/objects/contacts", json={"properties": {"email": new_email()}}).json()["id"]
    crm.get(f"/crm/v3/objects/contacts/{contact}")
    crm.post("/crm/v3/objects/contacts/batch/read", json={"inputs": [{"id": contact}]})
    crm.post("/crm/v3/objects/contacts", json={"properties": {"nope": "x"}})  # refused: not a write
    writes = writable_estate.stats("crm")["writes"]
    assert writes == {
        "committed": 1,
        "records": 1,
        "by_endpoint": {"POST /crm/v3/objects/{objectType}": {"committed": 1, "records": 1, "unanswered": 0}},
    }


def test_a_dropped_answer_leaves_the_write_done_and_counted_as_unanswered(
    crm: httpx.Client, writable_estate: Estate
) -> None:
    email = new_email()
    writable_estate.faults("crm", write_drop_rate=1.0)
    with pytest.raises(httpx.TransportError):
        crm.post("/crm/v3/objects/contacts", json={"properties": {"email": email}})
    assert crm.get(f"/crm/v3/objects/contacts/{email}", params={"idProperty": "email"}).status_code == 200
    stats = writable_estate.stats("crm")
    assert stats["writes"]["by_endpoint"]["POST /crm/v3/objects/{objectType}"] == {
        "committed": 1, "records": 1, "unanswered": 1,
    }  # fmt: skip
    assert stats["by_endpoint"]["POST /crm/v3/objects/{objectType}"]["by_status"] == {"dropped": 1}


def test_a_hung_answer_makes_the_client_time_out_after_the_write_is_done(writable_estate: Estate) -> None:
    email = new_email()
    writable_estate.faults("crm", write_drop_rate=1.0, write_drop_mode="hang", write_hang_s=3)
    headers = {"Authorization": f"Bearer {writable_estate.credentials.crm_token}"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{writable_estate.crm_url}/crm/v3/objects/contacts",
            json={"properties": {"email": email}},
            headers=headers,
            timeout=0.5,
        )
    with writable_estate.crm() as client:
        assert client.get(f"/crm/v3/objects/contacts/{email}", params={"idProperty": "email"}).status_code == 200


def test_faults_aimed_at_writes_leave_reads_alone_and_write_nothing(crm: httpx.Client, writable_estate: Estate) -> None:
    writable_estate.faults("crm", error_rate=1.0, applies_to="writes")
    email = new_email()
    failed = crm.post("/crm/v3/objects/contacts", json={"properties": {"email": email}})
    assert failed.status_code == 500 and failed.json()["category"] == "INTERNAL_ERROR"
    assert crm.get("/crm/v3/objects/companies", params={"limit": 1}).status_code == 200
    assert crm.post("/crm/v3/objects/contacts/search", json={"limit": 1}).status_code == 200
    assert writable_estate.stats("crm")["writes"]["committed"] == 0
    writable_estate.faults("crm")
    assert crm.get(f"/crm/v3/objects/contacts/{email}", params={"idProperty": "email"}).status_code == 404


def test_faults_aimed_at_reads_leave_writes_alone(crm: httpx.Client, writable_estate: Estate) -> None:
    writable_estate.faults("crm", error_rate=1.0, applies_to="reads")
    assert crm.get("/crm/v3/objects/companies", params={"limit": 1}).status_code == 500
    assert crm.post("/crm/v3/objects/contacts", json={"properties": {"email": new_email()}}).status_code == 201
