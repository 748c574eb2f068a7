"""Webhooks in: signatures checked as HubSpot and Zendesk document them, deliveries turned into change
events, replays and retries published once, and a change made directly in the CRM's API reaching a
subscriber on another facade instance than the one the CRM delivered to."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from crmgraph.events import ChangeKind, Entity
from crmgraph.events.signatures import BadSignature, check_hubspot, check_zendesk
from crmgraph.events.webhook_payloads import BadPayload, hubspot_events, zendesk_events
from tests.conftest import Estate
from tests.facade import TEST_AUTH, facade_config
from tests.realtime import WAIT_S, Instance, connected, events_section, instance

SECRET = "webhook-secret-of-the-test-estate"
CUSTOMER = """subscription($id: ID!) { customerChanged(id: $id) {
  event { system entity kind changedFields occurredAt receivedAt } customer { id name } } }"""


def _b64(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _hubspot_headers(url: str, body: bytes, secret: str = SECRET, at: datetime | None = None) -> dict[str, str]:
    stamp = str(int((at or datetime.now(UTC)).timestamp() * 1000))
    return {"x-hubspot-signature-v3": _b64(secret, b"POST" + url.encode() + body + stamp.encode()),
            "x-hubspot-request-timestamp": stamp}  # fmt: skip


def test_signatures_are_checked_as_each_product_documents_them() -> None:
    url, body = "https://facade.example/webhooks/crm", b'[{"eventId": 1}]'
    check_hubspot(SECRET, "POST", url, body, _hubspot_headers(url, body))
    refusals = {
        "wrong secret": _hubspot_headers(url, body, secret="another-secret-entirely"),
        "stale": _hubspot_headers(url, body, at=datetime.now(UTC) - timedelta(minutes=6)),
        "unsigned": {},
        "garbage stamp": {**_hubspot_headers(url, body), "x-hubspot-request-timestamp": "yesterday"},
    }
    for case, headers in refusals.items():
        with pytest.raises(BadSignature):
            check_hubspot(SECRET, "POST", url, body, headers)
        assert case
    with pytest.raises(BadSignature, match="does not match"):
        check_hubspot(SECRET, "POST", url, body + b" ", _hubspot_headers(url, body))  # changed on the way
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    zendesk = {"x-zendesk-webhook-signature": _b64(SECRET, stamp.encode() + body),
               "x-zendesk-webhook-signature-timestamp": stamp}  # fmt: skip
    check_zendesk(SECRET, body, zendesk)
    with pytest.raises(BadSignature, match="does not match"):
        check_zendesk("another-secret-entirely", body, zendesk)
    old = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(BadSignature, match="old"):
        check_zendesk(SECRET, body, {"x-zendesk-webhook-signature": _b64(SECRET, old.encode() + body),
                                     "x-zendesk-webhook-signature-timestamp": old})  # fmt: skip


def test_deliveries_become_change_events_and_a_malformed_one_is_refused_whole() -> None:
    item = {"eventId": 7, "subscriptionType": "company.propertyChange", "objectId": 42, "propertyName": "phone",
            "occurredAt": 1_700_000_000_000}  # fmt: skip
    [(delivery, event)] = hubspot_events("crm", [item])
    assert delivery == "7" and (event.system, event.entity, event.record_id) == ("crm", Entity.PARTY, "42")
    assert event.kind is ChangeKind.UPDATED and event.changed == ("phone",) and event.parents == (("party", "42"),)
    sent = {"type": "zen:event-type:ticket.status_changed", "id": "e-1", "time": "2026-12-06T10:00:00Z",
            "detail": {"id": "9", "organization_id": "3", "requester_id": "5"}}  # fmt: skip
    [(_, ticket)] = zendesk_events("tickets", sent)
    assert ticket.entity is Entity.TICKET and ticket.changed == ("status",)
    assert ticket.parents == (("party", "3"), ("person", "5"))
    for bad in ([], [{"subscriptionType": "company.propertyChange"}], [{"eventId": 1, "objectId": 2,
                 "subscriptionType": "widget.creation", "occurredAt": 1}], {"not": "a list"}):  # fmt: skip
        with pytest.raises(BadPayload):
            hubspot_events("crm", bad)
    with pytest.raises(BadPayload):
        zendesk_events("tickets", {"type": "zen:event-type:user.created", "id": "x", "detail": {"id": "1"}})


@pytest.fixture
def pair(writable_estate: Estate, linked_identity: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Instance, Instance]]:  # fmt: skip
    """Two instances on one Redis bus; the CRM delivers its webhooks to the first."""
    copy = tmp_path_factory.mktemp("webhooks") / "identity.sqlite"
    shutil.copy(linked_identity.removeprefix("sqlite:///"), copy)
    events = events_section(redis_url, f"test-webhooks-{uuid.uuid4().hex}")
    sections = f"""{TEST_AUTH}
        {events}
        webhooks: {{sources: {{crm: {{secret: {SECRET}}}, tickets: {{secret: {SECRET}}}}}}}"""
    estate = writable_estate

    def config() -> object:
        return facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, f"sqlite:///{copy}",
                             namespace=f"wh{uuid.uuid4().hex[:6]}", governance=sections)  # fmt: skip

    with instance(config()) as a, instance(config()) as b:  # type: ignore[arg-type]
        yield a, b


def _company_customer(facade: Instance) -> tuple[str, str]:
    found = facade.query("{ customers(first: 20) { nodes { id sources { system recordId } } } }")
    for node in found["data"]["customers"]["nodes"]:
        crm = [s["recordId"] for s in node["sources"] if s["system"] == "crm"]
        if crm:
            return node["id"], crm[0]
    pytest.fail("no customer with a CRM company")


def test_a_change_made_in_the_crm_reaches_a_subscriber_on_the_other_instance(
    pair: tuple[Instance, Instance], writable_estate: Estate
) -> None:
    a, b = pair
    customer, company = _company_customer(a)
    hook = httpx.post(f"{writable_estate.crm_url}/_control/webhooks",
                      json={"url": f"{a.url}/webhooks/crm", "secret": SECRET}, timeout=10)  # fmt: skip
    assert hook.status_code == 201, hook.text

    async def scenario() -> tuple[dict[str, object], float]:
        async with connected(b) as on_b:
            await on_b.subscribe("s", CUSTOMER, id=customer)
            await asyncio.to_thread(b.wait_for_subscribers, 1)
            with writable_estate.crm() as crm:
                started = time.monotonic()
                changed = crm.patch(
                    f"/crm/v3/objects/companies/{company}", json={"properties": {"phone": "+1 555 0100"}}
                )
                assert changed.status_code == 200, changed.text
            heard = await asyncio.wait_for(on_b.next("s"), WAIT_S)
            return heard, time.monotonic() - started

    heard, took = asyncio.run(scenario())
    change = heard["data"]["customerChanged"]  # type: ignore[index]
    assert change["customer"]["id"] == customer
    assert (change["event"]["system"], change["event"]["entity"], change["event"]["changedFields"]) == (
        "crm", "PARTY", ["phone"])  # fmt: skip
    print(f"CRM change to a subscriber on the other instance: {took * 1000:.0f} ms")  # a figure, not a check


def test_a_bad_signature_is_refused_and_a_replayed_delivery_is_published_once(
    pair: tuple[Instance, Instance],
) -> None:
    a, _ = pair
    url = f"{a.url}/webhooks/crm"
    body = orjson.dumps([{"eventId": int(time.time() * 1000), "subscriptionType": "company.propertyChange",
                          "objectId": 1, "propertyName": "phone", "occurredAt": int(time.time() * 1000)}])  # fmt: skip
    before = a.hub.received
    forged = httpx.post(url, content=body, headers=_hubspot_headers(url, body, secret="not-the-secret-at-all"))
    unsigned = httpx.post(url, content=body)
    assert forged.status_code == unsigned.status_code == 401
    assert forged.json()["errors"][0]["extensions"]["code"] == "BAD_SIGNATURE"
    headers = _hubspot_headers(url, body)
    first = httpx.post(url, content=body, headers=headers)
    replay = httpx.post(url, content=body, headers=headers)
    assert first.json() == {"accepted": 1, "duplicates": 0} and replay.json() == {"accepted": 0, "duplicates": 1}
    a.wait_for_received(before + 1)
    assert a.hub.received == before + 1, "the refused and the replayed deliveries published nothing"
    unknown = httpx.post(f"{a.url}/webhooks/nowhere", content=body, headers=headers)
    assert unknown.status_code == 404
    garbage = httpx.post(url, content=b"{", headers=_hubspot_headers(url, b"{"))
    assert garbage.status_code == 400 and garbage.json()["errors"][0]["extensions"]["code"] == "BAD_PAYLOAD"
