"""The simulated ticket system's writes against a running server: Zendesk v2 shapes and errors, safe updates,
the incremental export seeing each change, webhooks signed as Zendesk signs them, and write counters.

Every test writes to the writable estate (a copy of the seeded one), never to the shared estate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import Estate
from tests.webhook_receiver import Delivery, webhook_receiver

SECRET = "zendesk-signing-secret"


@pytest.fixture
def zd(writable_estate: Estate) -> Any:
    with writable_estate.tickets() as client:
        yield client


def agent_id(zd: httpx.Client) -> int:
    users = zd.get("/api/v2/users.json", params={"page[size]": 100}).json()["users"]
    return int(next(u["id"] for u in users if u["role"] == "agent"))


def open_ticket(zd: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"subject": "Printer on fire", "comment": {"body": "It is on fire."},
            "requester": {"name": "Jo Doe", "email": f"jo.{uuid.uuid4().hex[:8]}@example.com"}, **fields}  # fmt: skip
    response = zd.post("/api/v2/tickets.json", json={"ticket": body})
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()["ticket"]
    return ticket


def zendesk_valid(delivery: Delivery, secret: str) -> bool:
    """Zendesk's documented check: base64(HMAC-SHA256(secret, timestamp + body))."""
    timestamp = delivery.headers["X-Zendesk-Webhook-Signature-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + delivery.body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(expected).decode(), delivery.headers["X-Zendesk-Webhook-Signature"])


def test_a_created_ticket_is_answered_201_with_its_audit_and_read_back(zd: httpx.Client) -> None:
    response = zd.post(
        "/api/v2/tickets.json",
        json={"ticket": {"subject": "Invoice wrong", "comment": {"body": "Line 2 is wrong."}, "priority": "high",
                         "tags": ["billing"], "requester": {"name": "Kim", "email": "kim.writes@example.com"}}},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    ticket, audit = response.json()["ticket"], response.json()["audit"]
    assert response.headers["location"] == ticket["url"]
    assert (ticket["status"], ticket["priority"], ticket["tags"]) == ("new", "high", ["billing"])
    assert ticket["description"] == "Line 2 is wrong." and ticket["via"] == {"channel": "api"}
    assert audit["ticket_id"] == ticket["id"] and audit["events"][0]["type"] == "Comment"
    assert zd.get(f"/api/v2/tickets/{ticket['id']}").json()["ticket"] == ticket
    requester = zd.get(f"/api/v2/users/{ticket['requester_id']}").json()["user"]
    assert requester["email"] == "kim.writes@example.com" and requester["role"] == "end-user"
    comments = zd.get(f"/api/v2/tickets/{ticket['id']}/comments").json()["comments"]
    assert [c["body"] for c in comments] == ["Line 2 is wrong."]


def test_a_requester_known_by_email_is_not_created_again(zd: httpx.Client) -> None:
    email = f"same.{uuid.uuid4().hex[:8]}@example.com"
    first = open_ticket(zd, requester={"name": "A", "email": email})
    second = open_ticket(zd, requester={"name": "A", "email": email.upper()})
    assert first["requester_id"] == second["requester_id"]


def test_a_ticket_zendesk_would_refuse_is_record_invalid_with_details_by_field(zd: httpx.Client) -> None:
    response = zd.post("/api/v2/tickets.json", json={"ticket": {"subject": "x", "priority": "asap", "status": "done"}})
    assert response.status_code == 422
    body = response.json()
    assert (body["error"], body["description"]) == ("RecordInvalid", "Record validation errors")
    assert set(body["details"]) == {"description", "priority", "status"}, "no requester: the API user asks"
    assert all(entry["description"] for entries in body["details"].values() for entry in entries)


def test_an_update_changes_status_assignee_priority_and_tags_and_adds_a_private_note(zd: httpx.Client) -> None:
    ticket = open_ticket(zd)
    agent = agent_id(zd)
    response = zd.put(
        f"/api/v2/tickets/{ticket['id']}.json",
        json={"ticket": {"status": "pending", "assignee_id": agent, "priority": "urgent", "tags": ["vip", "fire"],
                         "comment": {"body": "Called the fire brigade.", "public": False, "author_id": agent}}},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    updated = response.json()["ticket"]
    assert (updated["status"], updated["assignee_id"], updated["priority"], updated["tags"]) == (
        "pending", agent, "urgent", ["vip", "fire"],
    )  # fmt: skip
    assert updated["updated_at"] > ticket["updated_at"]
    comments = zd.get(f"/api/v2/tickets/{ticket['id']}/comments").json()["comments"]
    assert [(c["body"], c["public"], c["author_id"]) for c in comments][-1] == (
        "Called the fire brigade.",
        False,
        agent,
    )


def test_an_assignee_who_is_not_an_agent_is_refused(zd: httpx.Client) -> None:
    ticket = open_ticket(zd)
    response = zd.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"assignee_id": ticket["requester_id"]}})
    assert response.status_code == 422 and "assignee" in response.json()["details"]


def test_an_update_of_an_unknown_ticket_is_record_not_found(zd: httpx.Client) -> None:
    response = zd.put("/api/v2/tickets/999999999.json", json={"ticket": {"status": "open"}})
    assert response.status_code == 404 and response.json()["error"] == "RecordNotFound"


def test_a_closed_ticket_cannot_be_updated(zd: httpx.Client) -> None:
    ticket = open_ticket(zd)
    assert zd.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"status": "closed"}}).status_code == 200
    response = zd.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"status": "open"}})
    assert response.status_code == 422 and "status" in response.json()["details"]


def test_a_safe_update_with_the_stamp_it_read_succeeds_and_a_stale_one_is_an_update_conflict(zd: httpx.Client) -> None:
    ticket = open_ticket(zd)
    read = ticket["updated_at"]
    first = zd.put(
        f"/api/v2/tickets/{ticket['id']}.json",
        json={"ticket": {"priority": "low", "safe_update": True, "updated_stamp": read}},
    )
    assert first.status_code == 200, first.text
    stale = zd.put(
        f"/api/v2/tickets/{ticket['id']}.json",
        json={"ticket": {"priority": "high", "safe_update": True, "updated_stamp": read}},
    )
    assert stale.status_code == 409 and stale.json()["error"] == "UpdateConflict"
    assert zd.get(f"/api/v2/tickets/{ticket['id']}").json()["ticket"]["priority"] == "low"
    unsafe = zd.put(
        f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": {"priority": "high", "updated_stamp": read}}
    )
    assert unsafe.status_code == 200  # without safe_update the stamp is not checked, as in Zendesk


def test_every_change_shows_in_the_incremental_export_once_with_its_new_updated_at(zd: httpx.Client) -> None:
    start = int(time.time()) - 1
    ticket = open_ticket(zd)
    updated = zd.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"status": "open"}}).json()["ticket"]
    export = zd.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": start}).json()
    mine = [t for t in export["tickets"] if t["id"] == ticket["id"]]
    assert [(t["status"], t["updated_at"]) for t in mine] == [("open", updated["updated_at"])]
    resumed = zd.get("/api/v2/incremental/tickets/cursor.json", params={"cursor": export["after_cursor"]}).json()
    assert resumed["tickets"] == [] and resumed["end_of_stream"]
    zd.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"comment": {"body": "any news?"}}})
    later = zd.get("/api/v2/incremental/tickets/cursor.json", params={"cursor": export["after_cursor"]}).json()
    assert [t["id"] for t in later["tickets"]] == [ticket["id"]]


def test_ticket_changes_reach_a_subscriber_signed_as_zendesk_signs_them(
    zd: httpx.Client, writable_estate: Estate
) -> None:
    with webhook_receiver() as receiver:
        registered = httpx.post(
            f"{writable_estate.tickets_url}/_control/webhooks", json={"url": receiver.url, "secret": SECRET}
        )
        assert registered.status_code == 201
        ticket = open_ticket(zd)
        zd.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"status": "solved", "comment": {"body": "Fixed."}}})
        deliveries = receiver.wait_for(4)
    assert all(zendesk_valid(d, SECRET) for d in deliveries)
    assert not zendesk_valid(deliveries[0], "another-secret")
    stamp = datetime.strptime(deliveries[0].headers["X-Zendesk-Webhook-Signature-Timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(stamp.replace(tzinfo=UTC).timestamp() - time.time()) < 60
    events = [json.loads(d.body) for d in deliveries]
    assert [e["type"] for e in events] == [
        "zen:event-type:ticket.created",
        "zen:event-type:ticket.comment_added",
        "zen:event-type:ticket.status_changed",
        "zen:event-type:ticket.comment_added",
    ]
    assert all(e["subject"] == f"zen:ticket:{ticket['id']}" and e["detail"]["id"] == str(ticket["id"]) for e in events)
    assert events[2]["event"] == {"current": "SOLVED", "previous": "NEW"}
    assert events[3]["event"]["comment"]["body"] == "Fixed." and len({e["id"] for e in events}) == 4


def test_a_ticket_with_its_first_comment_and_new_requester_is_one_write_of_three_records(
    zd: httpx.Client, writable_estate: Estate
) -> None:
    ticket = open_ticket(zd)
    zd.get(f"/api/v2/tickets/{ticket['id']}")
    zd.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"priority": "nope"}})  # refused: not a write
    writes = writable_estate.stats("tickets")["writes"]
    assert writes["committed"] == 1 and writes["records"] == 3
    assert writes["by_endpoint"] == {"POST /api/v2/tickets.json": {"committed": 1, "records": 3, "unanswered": 0}}


def test_a_dropped_answer_leaves_the_ticket_created(zd: httpx.Client, writable_estate: Estate) -> None:
    subject = f"Lost answer {uuid.uuid4().hex}"
    writable_estate.faults("tickets", write_drop_rate=1.0)
    with pytest.raises(httpx.TransportError):
        zd.post(
            "/api/v2/tickets.json",
            json={"ticket": {"subject": subject, "comment": {"body": "x"},
                             "requester": {"email": "lost.answer@example.com"}}},
        )  # fmt: skip
    writable_estate.faults("tickets")
    export = zd.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": int(time.time()) - 60}).json()
    assert subject in [t["subject"] for t in export["tickets"]]
    assert writable_estate.stats("tickets")["writes"]["by_endpoint"]["POST /api/v2/tickets.json"]["unanswered"] == 1
