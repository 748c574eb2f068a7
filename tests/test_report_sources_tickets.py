"""Tickets for reports: the ticket system's metric sets (Zendesk's ``ticket_metrics`` and the ``metric_sets``
side-load) and the zendesk adapter's ticket scan, change feed and fetch with the service times, against the
running ticket simulator. Expectations come from the store read directly."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from crmgraph.adapters.sdk.testing import run_with
from crmgraph.adapters.zendesk import ZendeskAdapter
from crmgraph.records import Record, TicketRecord

if TYPE_CHECKING:
    from tests.conftest import Estate

SOURCE = "tickets"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def adapter(estate: Estate) -> ZendeskAdapter:
    return ZendeskAdapter(
        SOURCE,
        {
            "url": estate.tickets_url,
            "email": estate.credentials.zendesk_email,
            "token": estate.credentials.zendesk_token,
        },
    )


@pytest.fixture(scope="module")
def expected(running_estate: Estate) -> dict[int, dict[str, Any]]:
    """Per seeded ticket: created, solved_at, the first reply and the number of replies, from the store."""
    conn = sqlite3.connect(f"file:{running_estate.layout.tickets_db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        tickets = conn.execute("SELECT * FROM tickets ORDER BY id").fetchall()
        comments = conn.execute(
            "SELECT c.ticket_id, c.created_at, c.public, u.role FROM comments c JOIN users u ON u.id = c.author_id"
        ).fetchall()
    finally:
        conn.close()
    replies: dict[int, list[datetime]] = {}
    created = {t["id"]: moment(t["created_at"]) for t in tickets}
    for c in comments:
        if c["public"] and c["role"] in ("agent", "admin") and moment(c["created_at"]) > created[c["ticket_id"]]:
            replies.setdefault(c["ticket_id"], []).append(moment(c["created_at"]))
    return {
        t["id"]: {
            "created": created[t["id"]],
            "solved_at": moment(t["updated_at"]) if t["status"] in ("solved", "closed") else None,
            "first_reply": min(replies[t["id"]]) if t["id"] in replies else None,
            "replies": len(replies.get(t["id"], [])),
            "group_id": t["group_id"],
            "type": t["type"],
        }
        for t in tickets
    }


def all_metric_sets(estate: Estate) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params = {"page[size]": "100"}
    with estate.tickets() as api:
        while True:
            body = api.get("/api/v2/ticket_metrics", params=params).json()
            found += body["ticket_metrics"]
            if not body["meta"]["has_more"]:
                return found
            params["page[after]"] = body["meta"]["after_cursor"]


def test_every_ticket_has_a_metric_set_as_zendesk_documents_it(
    running_estate: Estate, expected: dict[int, dict[str, Any]]
) -> None:
    sets = all_metric_sets(running_estate)
    assert [s["ticket_id"] for s in sets] == list(expected)
    for metrics in sets:
        truth = expected[metrics["ticket_id"]]
        reply = metrics["reply_time_in_minutes"]["calendar"]
        if truth["first_reply"] is None:
            assert reply is None
        else:
            assert reply == int((truth["first_reply"] - truth["created"]).total_seconds() // 60)
        assert metrics["replies"] == truth["replies"]
        solved = metrics["solved_at"]
        assert (moment(solved) if solved else None) == truth["solved_at"]
        full = metrics["full_resolution_time_in_minutes"]["calendar"]
        assert full == (None if solved is None else int((moment(solved) - truth["created"]).total_seconds() // 60))
        assert metrics["reply_time_in_minutes"]["business"] == reply
        assert {"id", "url", "created_at", "updated_at", "reopens", "first_resolution_time_in_minutes"} <= set(metrics)
    assert any(s["reply_time_in_minutes"]["calendar"] for s in sets)
    assert any(s["solved_at"] for s in sets) and any(s["solved_at"] is None for s in sets)


def test_one_ticket_s_metrics_and_the_side_loads_agree_with_the_list(running_estate: Estate) -> None:
    by_ticket = {s["ticket_id"]: s for s in all_metric_sets(running_estate)}
    ids = list(by_ticket)[:30]
    with running_estate.tickets() as api:
        one = api.get(f"/api/v2/tickets/{ids[0]}/metrics").json()["ticket_metric"]
        same = api.get(f"/api/v2/ticket_metrics/{ids[0]}").json()["ticket_metric"]
        missing = api.get("/api/v2/tickets/999999999/metrics")
        many = api.get("/api/v2/tickets/show_many", params={"ids": ",".join(map(str, ids)), "include": "metric_sets"})
        plain = api.get("/api/v2/tickets/show_many", params={"ids": ",".join(map(str, ids))})
        export = api.get("/api/v2/incremental/tickets/cursor", params={"start_time": "0", "include": "metric_sets"})
    assert one == same == by_ticket[ids[0]]
    assert missing.status_code == 404
    assert {s["ticket_id"]: s for s in many.json()["metric_sets"]} == {i: by_ticket[i] for i in ids}
    assert "metric_sets" not in plain.json()
    exported = export.json()
    assert [s["ticket_id"] for s in exported["metric_sets"]] == [t["id"] for t in exported["tickets"]]
    assert all(s == by_ticket[s["ticket_id"]] for s in exported["metric_sets"])


def _service_times_hold(record: TicketRecord, truth: dict[str, Any]) -> None:
    assert record.group_id == (str(truth["group_id"]) if truth["group_id"] else None)
    assert record.kind == truth["type"]
    assert record.solved_at == truth["solved_at"]
    if truth["first_reply"] is None:
        assert record.first_reply_at is None
    else:
        assert record.first_reply_at is not None
        assert timedelta(0) <= truth["first_reply"] - record.first_reply_at < timedelta(minutes=1)


def test_scanning_tickets_gives_every_ticket_with_its_service_times(
    estate: Estate, expected: dict[int, dict[str, Any]]
) -> None:
    async def scan_all(tickets: ZendeskAdapter) -> list[Record]:
        records: list[Record] = []
        cursor: str | None = None
        while True:
            page = await tickets.scan("ticket", cursor, size=500)
            records += page.records
            if page.next_cursor is None:
                return records
            cursor = page.next_cursor

    estate.reset("tickets")
    records, log = run_with(lambda: adapter(estate), scan_all)
    assert sorted(int(r.source_id) for r in records) == sorted(expected)
    for record in records:
        assert isinstance(record, TicketRecord)
        _service_times_hold(record, expected[int(record.source_id)])
    assert {call.request for call in log.calls} == {"GET /api/v2/incremental/tickets/cursor"}
    assert estate.stats("tickets")["total"] == len(log.calls)


def test_tickets_by_id_carry_their_service_times(estate: Estate, expected: dict[int, dict[str, Any]]) -> None:
    ids = [str(i) for i in list(expected)[-60:]]
    results, log = run_with(lambda: adapter(estate), lambda tickets: tickets.fetch("ticket", ids))
    for key, record in zip(ids, results, strict=True):
        assert isinstance(record, TicketRecord)
        _service_times_hold(record, expected[int(key)])
    assert len(log.calls) == 1


@pytest.fixture
def tickets_api(writable_estate: Estate) -> Iterator[Any]:
    with writable_estate.tickets() as api:
        yield api


def test_a_write_that_solves_a_ticket_is_when_it_was_solved(
    writable_estate: Estate, tickets_api: Any, expected: dict[int, dict[str, Any]]
) -> None:
    open_id = next(i for i, t in expected.items() if t["solved_at"] is None)
    solved_id = next(i for i, t in expected.items() if t["solved_at"] is not None and i != open_id)
    since = datetime.now(UTC) - timedelta(seconds=1)
    solving = tickets_api.put(f"/api/v2/tickets/{open_id}", json={"ticket": {"status": "solved"}})
    assert solving.status_code == 200, solving.text
    solved_stamp = solving.json()["ticket"]["updated_at"]
    # A later comment moves updated_at, not the solve; nor does one on a ticket the seed solved.
    comment = {"ticket": {"comment": {"body": "Anything else?", "public": False}}}
    for ticket_id in (open_id, solved_id):
        assert tickets_api.put(f"/api/v2/tickets/{ticket_id}", json=comment).status_code == 200
    metrics = {i: tickets_api.get(f"/api/v2/tickets/{i}/metrics").json()["ticket_metric"] for i in (open_id, solved_id)}
    assert metrics[open_id]["solved_at"] == solved_stamp
    assert moment(metrics[solved_id]["solved_at"]) == expected[solved_id]["solved_at"]

    async def changed(tickets: ZendeskAdapter) -> list[Record]:
        page = await tickets.changes("ticket", since, None, size=1000)
        return page.records

    records, _ = run_with(lambda: adapter(writable_estate), changed)
    by_id = {r.source_id: r for r in records if isinstance(r, TicketRecord)}
    assert by_id[str(open_id)].solved_at == moment(solved_stamp)
    assert by_id[str(solved_id)].solved_at == expected[solved_id]["solved_at"]
