"""Writes to the simulated marketing system: Mautic's create, edit and campaign membership, their
validation errors, the write counters and the webhook events they cause."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import httpx
import orjson

from tests.conftest import Estate
from tests.webhook_receiver import webhook_receiver


def test_create_validates_fields_as_mautic_does(writable_estate: Estate) -> None:
    with writable_estate.marketing() as client:
        refused = client.post("/api/contacts/new", json={"email": "not-an-address", "owner": 99999, "stage": "Guru"})
    assert refused.status_code == 400
    (error,) = refused.json()["errors"]
    assert error["code"] == 400 and set(error["details"]) == {"email", "owner", "stage"}
    assert writable_estate.stats("marketing")["writes"]["committed"] == 0


def test_create_then_patch_then_put_a_contact_counting_each_write(writable_estate: Estate) -> None:
    body = {"firstname": "Ada", "lastname": "Byron", "email": "ada.byron@example.org",
            "company": "Analytical Engines Ltd", "stage": "MQL", "owner": 2, "points": 5,
            "tags": ["webinar", "trial"]}  # fmt: skip
    with writable_estate.marketing() as client:
        created = client.post("/api/contacts/new", json=body)
        contact = created.json()["contact"]
        again = client.post("/api/contacts/new", json={"email": "ADA.BYRON@example.org", "position": "CTO"})
        patched = client.patch(f"/api/contacts/{contact['id']}/edit", json={"points": 12, "tags": ["-trial"]})
        put = client.put(f"/api/contacts/{contact['id']}/edit", json={"email": "ada@example.org"})
        missing = client.patch("/api/contacts/999999/edit", json={"points": 1})
        made = client.put("/api/contacts/999999/edit", json={"email": "new@example.org"})
        found = client.get("/api/contacts", params={"search": "email:ada@example.org"}).json()
    assert created.status_code == 201
    assert contact["stage"]["name"] == "MQL" and contact["owner"]["id"] == 2 and contact["points"] == 5
    assert contact["primaryCompany"]["companyname"] == "Analytical Engines Ltd"
    assert again.status_code == 200 and again.json()["contact"]["id"] == contact["id"]  # the e-mail identifies
    assert again.json()["contact"]["fields"]["all"]["position"] == "CTO"
    assert patched.json()["contact"]["points"] == 12
    assert [t["tag"] for t in patched.json()["contact"]["tags"]] == ["webinar"]
    assert patched.json()["contact"]["dateModified"] > contact["dateModified"]
    replaced = put.json()["contact"]
    assert put.status_code == 200 and replaced["fields"]["all"]["firstname"] is None and replaced["points"] == 0
    assert missing.status_code == 404 and missing.json()["errors"][0]["message"] == "Item was not found."
    assert made.status_code == 201 and made.json()["contact"]["id"] != 999999
    assert list(found["contacts"]) == [str(contact["id"])]
    writes = writable_estate.stats("marketing")["writes"]
    assert writes["committed"] == 5
    assert writes["records"] == 6  # the first create also made the company
    assert set(writes["by_endpoint"]) == {"POST /api/contacts/new", "PATCH /api/contacts/{id:int}/edit",
                                          "PUT /api/contacts/{id:int}/edit"}  # fmt: skip


def test_adding_a_contact_to_a_campaign_shows_in_its_members_and_timeline(writable_estate: Estate) -> None:
    with writable_estate.marketing() as client:
        before = client.get("/api/campaigns/2/contacts", params={"limit": 200}).json()
        outsider = next(i for i in range(1, 500) if str(i) not in {m["lead_id"] for m in before["contacts"]})
        first = client.post(f"/api/campaigns/2/contact/{outsider}/add")
        second = client.post(f"/api/campaigns/2/contact/{outsider}/add")
        unknown = client.post("/api/campaigns/999/contact/1/add")
        after = client.get("/api/campaigns/2/contacts", params={"limit": 200}).json()
        timeline = client.get(f"/api/contacts/{outsider}/activity", params={"limit": 1}).json()
    assert first.json() == {"success": 1} and second.json() == {"success": 1}
    assert unknown.status_code == 404
    assert int(after["total"]) == int(before["total"]) + 1
    assert timeline["events"][0]["event"] == "campaign.event"
    assert writable_estate.stats("marketing")["writes"]["committed"] == 1  # the repeat changed nothing


def test_writes_are_announced_as_signed_mautic_webhooks(writable_estate: Estate) -> None:
    with webhook_receiver() as receiver:
        subscription = {"url": receiver.url, "secret": "s3cret"}
        httpx.post(
            f"{writable_estate.marketing_url}/_control/webhooks", json=subscription, timeout=10
        ).raise_for_status()
        with writable_estate.marketing() as client:
            contact = client.post("/api/contacts/new", json={"email": "hook@example.org"}).json()["contact"]
            client.patch(f"/api/contacts/{contact['id']}/edit", json={"points": 3}).raise_for_status()
        deliveries = receiver.wait_for(1)
        while sum(len(orjson.loads(d.body).get("mautic.lead_post_save_update", [])) for d in receiver.accepted()) < 1:
            time.sleep(0.02)
    kinds = [kind for d in receiver.accepted() for kind in orjson.loads(d.body) if kind != "timestamp"]
    assert kinds[0] == "mautic.lead_post_save_new" and "mautic.lead_post_save_update" in kinds
    first = deliveries[0]
    expected = base64.b64encode(hmac.new(b"s3cret", first.body, hashlib.sha256).digest()).decode()
    assert first.headers["Webhook-Signature"] == expected
    assert orjson.loads(first.body)["mautic.lead_post_save_new"][0]["contact"]["id"] == contact["id"]
