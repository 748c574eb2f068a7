"""The ``zendesk`` adapter against the running ticket system of the demo estate.

Expectations come from the seeded SQLite store, read directly; call counts come from both sides: the
adapter's :class:`CallLog` and the requests the ticket system says it received. A few tests need
answers the simulator never gives (a record crmgraph cannot map, a cursor that does not move); they
replace the network with an ``httpx.MockTransport``.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import orjson
import pytest

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.calls import CallLog
from crmgraph.adapters.sdk.testing import AdapterContract, ContractSamples
from crmgraph.adapters.sdk.testing.contract import run_with
from crmgraph.adapters.zendesk import ZendeskAdapter
from crmgraph.errors import (
    ClientError,
    ConfigError,
    SourceError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamUnavailable,
)
from crmgraph.records import (
    CommentRecord,
    PartyRecord,
    PersonRecord,
    Record,
    TicketPriority,
    TicketRecord,
    TicketStatus,
)

if TYPE_CHECKING:
    from tests.conftest import Estate

T = TypeVar("T")
SOURCE = "tickets"
SHOW_MANY_TICKETS = "GET /api/v2/tickets/show_many"
ORG_TICKETS = "GET /api/v2/organizations/{id:int}/tickets"
COMMENTS = "GET /api/v2/tickets/{id:int}/comments"
SEARCH_EXPORT = "GET /api/v2/search/export"
STATUSES = {
    "new": TicketStatus.NEW,
    "open": TicketStatus.OPEN,
    "pending": TicketStatus.PENDING,
    "hold": TicketStatus.ON_HOLD,
    "solved": TicketStatus.SOLVED,
    "closed": TicketStatus.CLOSED,
}


@pytest.fixture(scope="module")
def db(running_estate: Estate) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{running_estate.layout.tickets_db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()


def settings(estate: Estate, **extra: Any) -> dict[str, Any]:
    credentials = estate.credentials
    return {"url": estate.tickets_url, "email": credentials.zendesk_email, "token": credentials.zendesk_token} | extra


def run(estate: Estate, scenario: Callable[[Adapter], Awaitable[T]], **extra: Any) -> tuple[T, CallLog]:
    """Open a fresh adapter inside ``asyncio.run``, run ``scenario`` with a call log, close it."""
    return run_with(lambda: ZendeskAdapter(SOURCE, settings(estate, **extra)), scenario)


def received(estate: Estate) -> dict[str, int]:
    """Requests the ticket system received since the last reset, by endpoint."""
    by_endpoint: dict[str, Any] = estate.stats("tickets")["by_endpoint"]
    return {endpoint: counts["total"] for endpoint, counts in by_endpoint.items()}


def ids(conn: sqlite3.Connection, sql: str, *params: object) -> list[str]:
    return [str(row[0]) for row in conn.execute(sql, params)]


def instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None  # the store writes "...Z": UTC


def ref(value: int | None) -> str | None:
    return str(value) if value is not None else None


def xrefs(external_id: str | None) -> tuple[tuple[str, str], ...]:
    return (("crm", external_id),) if external_id else ()


def expected_ticket(row: sqlite3.Row) -> TicketRecord:
    return TicketRecord(
        SOURCE, str(row["id"]), subject=row["subject"], description=row["description"],
        status=STATUSES[row["status"]],
        priority=TicketPriority(row["priority"].upper()) if row["priority"] else None,
        party_id=ref(row["organization_id"]), requester_id=ref(row["requester_id"]),
        assignee_id=ref(row["assignee_id"]), channel=row["channel"], tags=tuple(orjson.loads(row["tags"])),
        created_at=instant(row["created_at"]), updated_at=instant(row["updated_at"]),
        group_id=ref(row["group_id"]), kind=row["type"],
    )  # fmt: skip


def expected_party(row: sqlite3.Row) -> PartyRecord:
    domains = orjson.loads(row["domain_names"])
    return PartyRecord(
        SOURCE, str(row["id"]), name=row["name"], domain=domains[0] if domains else None, address=row["details"],
        tags=tuple(orjson.loads(row["tags"])), created_at=instant(row["created_at"]),
        updated_at=instant(row["updated_at"]), xrefs=xrefs(row["external_id"]),
    )  # fmt: skip


def expected_person(row: sqlite3.Row) -> PersonRecord:
    return PersonRecord(
        SOURCE, str(row["id"]), name=row["name"], email=row["email"], phone=row["phone"],
        party_id=ref(row["organization_id"]), created_at=instant(row["created_at"]),
        updated_at=instant(row["updated_at"]), xrefs=xrefs(row["external_id"]),
    )  # fmt: skip


def expected_comments(conn: sqlite3.Connection, ticket_id: str) -> list[CommentRecord]:
    rows = conn.execute("SELECT * FROM comments WHERE ticket_id = ? ORDER BY created_at, id", (int(ticket_id),))
    return [
        CommentRecord(SOURCE, str(row["id"]), ticket_id=ticket_id, author_id=ref(row["author_id"]), body=row["body"],
                      public=bool(row["public"]), created_at=datetime.fromisoformat(row["created_at"]))
        for row in rows
    ]  # fmt: skip


def busiest(conn: sqlite3.Connection, column: str) -> tuple[str, int]:
    row = conn.execute(
        f"SELECT {column}, COUNT(*) FROM tickets WHERE {column} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    ).fetchone()
    return str(row[0]), int(row[1])


# --- by id ----------------------------------------------------------------------------------------------


def test_tickets_of_fifty_tickets_by_id_cost_one_show_many(estate: Estate, db: sqlite3.Connection) -> None:
    rows = db.execute("SELECT * FROM tickets ORDER BY id DESC LIMIT 50").fetchall()
    estate.reset("tickets")
    results, log = run(estate, lambda adapter: adapter.fetch("ticket", [str(row["id"]) for row in rows]))
    # The service metrics that come with a ticket read by id: tests/test_report_sources_tickets.py.
    without_metrics = [
        replace(r, first_reply_at=None, solved_at=None) if isinstance(r, TicketRecord) else r for r in results
    ]
    assert without_metrics == [expected_ticket(row) for row in rows]
    assert log.count(SOURCE) == 1
    assert received(estate) == {SHOW_MANY_TICKETS: 1}


def test_every_organization_and_user_maps_to_the_stored_values(estate: Estate, db: sqlite3.Connection) -> None:
    organizations = db.execute("SELECT * FROM organizations ORDER BY id").fetchall()
    users = db.execute("SELECT * FROM users ORDER BY id").fetchall()

    async def scenario(adapter: Adapter) -> tuple[list[Any], list[Any]]:
        parties = await adapter.fetch("party", [str(row["id"]) for row in organizations])
        return parties, await adapter.fetch("person", [str(row["id"]) for row in users])

    (parties, persons), log = run(estate, scenario)
    assert parties == [expected_party(row) for row in organizations]
    assert persons == [expected_person(row) for row in users]
    assert any(party.xrefs for party in parties), "the demo links some organizations to CRM companies"
    assert log.count(SOURCE) == math.ceil(len(organizations) / 100) + math.ceil(len(users) / 100)


def test_fetch_aligns_unknown_duplicate_and_impossible_ids(estate: Estate, db: sqlite3.Connection) -> None:
    first, second = ids(db, "SELECT id FROM tickets ORDER BY id LIMIT 2")
    asked = [second, "999999999", first, second, f"00{first}", "abc", "", "-3", "9" * 30]
    estate.reset("tickets")
    results, log = run(estate, lambda adapter: adapter.fetch("ticket", asked))
    assert [r.source_id if isinstance(r, Record) else r for r in results] == [second, None, first, second] + [None] * 5
    assert results[0] == results[3]
    assert log.count(SOURCE) == 1 and received(estate) == {SHOW_MANY_TICKETS: 1}


def test_ids_zendesk_cannot_hold_cost_no_call(estate: Estate) -> None:
    results, log = run(estate, lambda adapter: adapter.fetch("party", ["x1", "0", "1.5", "18446744073709551616"]))
    assert results == [None] * 4
    assert log.count() == 0


def test_two_hundred_and_one_ids_cost_three_show_many_calls(estate: Estate, db: sqlite3.Connection) -> None:
    known = ids(db, "SELECT id FROM tickets ORDER BY id LIMIT 150")
    asked = known + [str(900_000_000 + n) for n in range(201 - len(known))]
    estate.reset("tickets")
    results, log = run(estate, lambda adapter: adapter.fetch("ticket", asked))
    assert sum(isinstance(result, TicketRecord) for result in results) == len(known)
    assert log.count(SOURCE) == 3 and max(call.keys for call in log.calls) == 100
    assert received(estate) == {SHOW_MANY_TICKETS: 3}


# --- related ----------------------------------------------------------------------------------------------


def test_comments_of_n_tickets_cost_one_call_per_distinct_ticket(estate: Estate, db: sqlite3.Connection) -> None:
    tickets = ids(db, "SELECT id FROM tickets ORDER BY id LIMIT 12")
    keys = [*tickets, tickets[0], tickets[5], tickets[0]]
    estate.reset("tickets")
    results, log = run(estate, lambda adapter: adapter.fetch_related("comment", "ticket", keys))
    assert results == [expected_comments(db, key) for key in keys]
    assert all(results), "every seeded ticket has comments"
    assert log.count(SOURCE) == 12
    assert received(estate) == {COMMENTS: 12}


def test_tickets_of_every_organization_match_the_store_at_one_search_per_hundred(
    estate: Estate, db: sqlite3.Connection
) -> None:
    organizations = ids(db, "SELECT id FROM organizations ORDER BY id")
    estate.reset("tickets")
    results, log = run(estate, lambda adapter: adapter.fetch_related("ticket", "party", organizations))
    for key, tickets in zip(organizations, results, strict=True):
        rows = db.execute("SELECT * FROM tickets WHERE organization_id = ? ORDER BY id", (int(key),)).fetchall()
        assert tickets == [expected_ticket(row) for row in rows]
    # One export search per hundred organizations, a page per thousand of their tickets.
    pages = 0
    for start in range(0, len(organizations), 100):
        chunk = [int(key) for key in organizations[start : start + 100]]
        held = db.execute(
            f"SELECT COUNT(*) FROM tickets WHERE organization_id IN ({','.join('?' * len(chunk))})", chunk
        ).fetchone()[0]
        pages += max(1, math.ceil(held / 1000))
    assert log.count(SOURCE) == pages < len(organizations) / 10
    assert received(estate) == {SEARCH_EXPORT: pages}


def test_a_search_of_organizations_pages_to_the_end_of_their_tickets(estate: Estate, db: sqlite3.Connection) -> None:
    organizations = ids(
        db,
        "SELECT organization_id FROM tickets WHERE organization_id IS NOT NULL"
        " GROUP BY organization_id ORDER BY COUNT(*) DESC LIMIT 3",
    )
    stored = {
        key: ids(db, "SELECT id FROM tickets WHERE organization_id = ? ORDER BY id", int(key)) for key in organizations
    }
    total = sum(len(found) for found in stored.values())
    estate.reset("tickets")
    results, log = run(
        estate, lambda adapter: adapter.fetch_related("ticket", "party", organizations), search_page_size=7
    )
    assert [[ticket.source_id for ticket in tickets] for tickets in results] == [stored[key] for key in organizations]
    assert log.count(SOURCE) == math.ceil(total / 7)
    assert set(received(estate)) == {SEARCH_EXPORT}


def test_organizations_holding_more_than_max_related_are_read_from_their_own_listings(
    estate: Estate, db: sqlite3.Connection
) -> None:
    organizations = ids(
        db,
        "SELECT organization_id FROM tickets WHERE organization_id IS NOT NULL"
        " GROUP BY organization_id ORDER BY COUNT(*) DESC LIMIT 2",
    )
    stored = {
        key: ids(db, "SELECT id FROM tickets WHERE organization_id = ? ORDER BY id", int(key)) for key in organizations
    }
    estate.reset("tickets")
    results, _ = run(estate, lambda adapter: adapter.fetch_related("ticket", "party", organizations), max_related=3)
    assert [[ticket.source_id for ticket in tickets] for tickets in results] == [
        stored[key][:3] for key in organizations
    ]
    assert set(received(estate)) == {SEARCH_EXPORT, ORG_TICKETS}


def test_the_busiest_organizations_tickets_are_paged_to_the_end(estate: Estate, db: sqlite3.Connection) -> None:
    organization, count = busiest(db, "organization_id")
    stored = ids(db, "SELECT id FROM tickets WHERE organization_id = ? ORDER BY id", int(organization))
    assert count > 5, "the busiest organization needs several pages of five"
    estate.reset("tickets")
    results, log = run(estate, lambda adapter: adapter.fetch_related("ticket", "party", [organization]), page_size=5)
    [tickets] = results
    assert isinstance(tickets, list) and [ticket.source_id for ticket in tickets] == stored
    assert log.count(SOURCE) == math.ceil(count / 5)
    assert received(estate) == {ORG_TICKETS: math.ceil(count / 5)}


def test_max_related_cuts_a_whale_and_stops_paging(
    estate: Estate, db: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    organization, _ = busiest(db, "organization_id")
    stored = ids(db, "SELECT id FROM tickets WHERE organization_id = ? ORDER BY id", int(organization))
    estate.reset("tickets")
    with caplog.at_level(logging.WARNING, logger="crmgraph.adapters.zendesk.adapter"):
        results, log = run(
            estate, lambda adapter: adapter.fetch_related("ticket", "party", [organization]), page_size=3, max_related=4
        )
    [tickets] = results
    assert isinstance(tickets, list) and [ticket.source_id for ticket in tickets] == stored[:4]
    assert log.count(SOURCE) == 2, "a page of three, then a page of the one still wanted"
    assert received(estate) == {ORG_TICKETS: 2}
    assert "max_related" in caplog.text


def test_tickets_requested_by_a_person_match_the_store(estate: Estate, db: sqlite3.Connection) -> None:
    requesters = ids(db, "SELECT requester_id FROM tickets GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT 5")
    results, log = run(estate, lambda adapter: adapter.fetch_related("ticket", "person", requesters), page_size=4)
    for key, tickets in zip(requesters, results, strict=True):
        rows = db.execute("SELECT * FROM tickets WHERE requester_id = ? ORDER BY id", (int(key),)).fetchall()
        assert tickets == [expected_ticket(row) for row in rows]
    assert log.count(SOURCE) == sum(
        max(1, math.ceil(len(result) / 4)) for result in results if isinstance(result, list)
    )


def test_a_parent_that_does_not_exist_has_no_related_records(estate: Estate) -> None:
    results, log = run(estate, lambda adapter: adapter.fetch_related("comment", "ticket", ["999999999", "abc", "0"]))
    assert results == [[], [], []]
    assert log.count(SOURCE) == 1, "only the possible id is asked for, and its 404 means no such ticket"


def test_persons_are_found_by_email_whatever_its_case(estate: Estate, db: sqlite3.Connection) -> None:
    email = db.execute("SELECT email FROM users WHERE email IS NOT NULL AND role = 'end-user' LIMIT 1").fetchone()[0]
    matching = db.execute("SELECT * FROM users WHERE email = ? COLLATE NOCASE ORDER BY id", (email,)).fetchall()
    keys = [email.upper(), "nobody@nowhere.invalid", email.upper(), "not an email", ""]
    estate.reset("tickets")
    results, log = run(estate, lambda adapter: adapter.fetch_related("person", "email", keys))
    assert results == [
        [expected_person(row) for row in matching],
        [],
        [expected_person(row) for row in matching],
        [],
        [],
    ]
    assert log.count(SOURCE) == 2, "one search per distinct plausible address"
    assert received(estate) == {"GET /api/v2/users/search": 2}


# --- scan -----------------------------------------------------------------------------------------------


async def scan_all(adapter: Adapter, entity: str, size: int) -> list[Record]:
    records: list[Record] = []
    cursor: str | None = None
    while True:
        page = await adapter.scan(entity, cursor, size)
        records += page.records
        if page.next_cursor is None:
            return records
        assert page.next_cursor != cursor
        cursor = page.next_cursor


def test_a_scan_of_users_pages_through_the_incremental_export_by_update_time(
    estate: Estate, db: sqlite3.Connection
) -> None:
    rows = db.execute("SELECT * FROM users ORDER BY updated_at, id").fetchall()
    estate.reset("tickets")
    records, log = run(estate, lambda adapter: scan_all(adapter, "person", 9))
    # The support team's own accounts are read (pages count them) but are nobody's people.
    assert any(row["role"] == "agent" for row in rows)
    assert records == [expected_person(row) for row in rows if row["role"] == "end-user"]
    assert log.count(SOURCE) == math.ceil(len(rows) / 9) == received(estate)["GET /api/v2/incremental/users/cursor"]


def test_a_scan_of_organizations_gives_each_once_though_the_export_repeats_a_pages_last_second(
    estate: Estate, db: sqlite3.Connection
) -> None:
    rows = db.execute("SELECT * FROM organizations ORDER BY updated_at, id").fetchall()
    estate.reset("tickets")
    records, log = run(estate, lambda adapter: scan_all(adapter, "party", 7))
    assert records == [expected_party(row) for row in rows]
    assert any(record.address for record in records if isinstance(record, PartyRecord))
    # Each page after the first starts with the last second of the one before: six new records a page here.
    calls = received(estate)[f"GET {ORG_EXPORT}"]
    assert log.count(SOURCE) == calls and math.ceil(len(rows) / 7) <= calls <= math.ceil(len(rows) / 6) + 1


@pytest.mark.parametrize(("entity", "table"), [("party", "organizations"), ("person", "users")])
def test_a_scan_reads_up_to_a_thousand_records_a_call(
    entity: str, table: str, estate: Estate, db: sqlite3.Connection
) -> None:
    stored = int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    assert stored < 1000
    staff = int(db.execute("SELECT COUNT(*) FROM users WHERE role != 'end-user'").fetchone()[0])
    records, log = run(estate, lambda adapter: scan_all(adapter, entity, 5000))
    assert len(records) == stored - (staff if table == "users" else 0) and log.count(SOURCE) == 1


# --- faults ---------------------------------------------------------------------------------------------


def everything_at_once(ticket_ids: list[str]) -> Callable[[Adapter], Awaitable[list[Any]]]:
    async def scenario(adapter: Adapter) -> list[Any]:
        by_id = await adapter.fetch("ticket", ticket_ids)
        comments = await adapter.fetch_related("comment", "ticket", ticket_ids)
        by_email = await adapter.fetch_related("person", "email", ["someone@example.com"])
        return [*by_id, *comments, *by_email]

    return scenario


def assert_every_key_failed(results: list[Any], kind: type[SourceError]) -> None:
    for result in results:
        assert isinstance(result, kind), result
        assert result.source == SOURCE


@pytest.mark.parametrize(
    ("fault", "kind"), [({"down": True}, UpstreamUnavailable), ({"error_rate": 1}, UpstreamUnavailable)]
)
def test_a_failing_system_gives_every_key_a_typed_error_and_raises_nothing(
    fault: dict[str, Any], kind: type[SourceError], estate: Estate, db: sqlite3.Connection
) -> None:
    tickets = ids(db, "SELECT id FROM tickets ORDER BY id LIMIT 3")
    estate.faults("tickets", **fault)
    results, _ = run(estate, everything_at_once(tickets))
    assert len(results) == 3 + 3 + 1
    assert_every_key_failed(results, kind)
    assert all(result.retryable for result in results)


@pytest.mark.parametrize(
    ("malformation", "kind"),
    [
        ("truncated_json", UpstreamBadResponse),
        ("invalid_json", UpstreamBadResponse),
        # httpx words a body cut short "peer closed connection without sending complete message body",
        # which HttpSource reads as "closed before answering" (unavailable): either way a typed error.
        ("cut_transfer", SourceError),
        ("html_page", UpstreamUnavailable),  # a proxy's 502 page: the system behind it is not answering
    ],
)
def test_a_malformed_answer_gives_every_key_a_typed_error(
    malformation: str, kind: type[SourceError], estate: Estate, db: sqlite3.Connection
) -> None:
    tickets = ids(db, "SELECT id FROM tickets ORDER BY id LIMIT 3")
    estate.faults("tickets", malformed_rate=1, malformed_kinds=[malformation])
    results, _ = run(estate, everything_at_once(tickets))
    assert_every_key_failed(results, kind)


def test_a_rate_limited_fan_out_fails_only_the_keys_refused(estate: Estate, db: sqlite3.Connection) -> None:
    tickets = ids(db, "SELECT id FROM tickets ORDER BY id LIMIT 6")
    # One request now, the next in a hundred seconds: exactly one of the six calls gets through.
    estate.faults("tickets", rate_limit_per_s=0.01)
    results, _ = run(estate, lambda adapter: adapter.fetch_related("comment", "ticket", tickets))
    answered = [result for result in results if isinstance(result, list)]
    refused = [result for result in results if not isinstance(result, list)]
    assert len(answered) == 1 and answered[0]
    assert_every_key_failed(refused, UpstreamRateLimited)
    assert all(isinstance(r, UpstreamRateLimited) and (r.retry_after or 0) >= 1 for r in refused)


def test_a_fault_while_paging_fails_the_key_rather_than_cutting_its_list(
    estate: Estate, db: sqlite3.Connection
) -> None:
    organization, _ = busiest(db, "organization_id")
    estate.faults("tickets", rate_limit_per_s=0.01)  # the first page passes, the second is refused
    results, log = run(estate, lambda adapter: adapter.fetch_related("ticket", "party", [organization]), page_size=5)
    assert isinstance(results[0], UpstreamRateLimited)
    assert log.count(SOURCE) == 2


def test_a_wrong_token_is_a_rejection_that_is_not_retried(estate: Estate, db: sqlite3.Connection) -> None:
    tickets = ids(db, "SELECT id FROM tickets ORDER BY id LIMIT 2")
    results, _ = run(estate, everything_at_once(tickets), token="not-the-token")
    assert_every_key_failed(results, UpstreamRejected)
    assert not any(result.retryable for result in results)


def test_a_scan_of_a_system_that_is_down_raises_a_typed_error(estate: Estate) -> None:
    estate.faults("tickets", down=True)
    with pytest.raises(UpstreamUnavailable) as raised:
        run(estate, lambda adapter: adapter.scan("party"))
    assert raised.value.source == SOURCE


# --- answers the simulator never gives --------------------------------------------------------------------


def ticket_json(ticket_id: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": ticket_id, "subject": "Late delivery", "description": "Late delivery.", "status": "open",
        "priority": "high", "requester_id": 7, "assignee_id": None, "organization_id": 3, "tags": ["vip"],
        "via": {"channel": "email"}, "created_at": "2024-03-05T10:15:00Z", "updated_at": "2024-03-06T08:00:00Z",
    } | changes  # fmt: skip


def comment_json(comment_id: int, **changes: Any) -> dict[str, Any]:
    return {"id": comment_id, "author_id": 7, "plain_body": "Thanks", "body": "Thanks", "public": True,
            "created_at": "2024-03-05T10:15:00Z"} | changes  # fmt: skip


def with_answers(answer: Callable[[httpx.Request], dict[str, Any]], scenario: Callable[[Adapter], Awaitable[T]]) -> T:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer(request)))
    settings = {"url": "https://acme.zendesk.example", "email": "a@b.example", "token": "t"}
    result, _ = run_with(lambda: ZendeskAdapter(SOURCE, settings, transport=transport), scenario)
    return result


def test_a_ticket_that_cannot_be_mapped_fails_only_its_own_key() -> None:
    body = {"tickets": [ticket_json(1), ticket_json(2, status="escalated"), ticket_json(4, created_at="yesterday")]}
    results = with_answers(lambda request: body, lambda adapter: adapter.fetch("ticket", ["1", "2", "3", "4"]))
    assert isinstance(results[0], TicketRecord) and results[0].status is TicketStatus.OPEN
    assert isinstance(results[1], UpstreamBadResponse) and "escalated" in results[1].message
    assert results[2] is None
    assert isinstance(results[3], UpstreamBadResponse) and "created_at" in results[3].message


def test_a_record_without_an_id_makes_the_missing_keys_errors_not_absences() -> None:
    body = {"tickets": [ticket_json(1), {k: v for k, v in ticket_json(2).items() if k != "id"}]}
    results = with_answers(lambda request: body, lambda adapter: adapter.fetch("ticket", ["1", "2", "x"]))
    assert isinstance(results[0], TicketRecord)
    assert isinstance(results[1], UpstreamBadResponse)
    assert results[2] is None, "an id Zendesk cannot hold is still simply absent"


def test_a_comment_that_cannot_be_mapped_fails_its_tickets_list_only() -> None:
    def answer(request: httpx.Request) -> dict[str, Any]:
        broken = request.url.path.endswith("/2/comments")
        comments = [comment_json(10), comment_json(11, public="yes" if broken else True)]
        return {"comments": comments, "meta": {"has_more": False}}

    results = with_answers(answer, lambda adapter: adapter.fetch_related("comment", "ticket", ["1", "2"]))
    assert isinstance(results[0], list) and [c.source_id for c in results[0]] == ["10", "11"]
    assert isinstance(results[1], UpstreamBadResponse)


def test_a_cursor_that_does_not_move_is_a_bad_response_not_an_endless_loop() -> None:
    def answer(request: httpx.Request) -> dict[str, Any]:
        return {"tickets": [ticket_json(1)], "meta": {"has_more": True, "after_cursor": "same"}}

    results = with_answers(answer, lambda adapter: adapter.fetch_related("ticket", "party", ["3"]))
    assert isinstance(results[0], UpstreamBadResponse)


def test_the_next_page_is_asked_of_the_configured_host_whatever_links_next_says() -> None:
    asked: list[httpx.URL] = []

    def answer(request: httpx.Request) -> dict[str, Any]:
        asked.append(request.url)
        more = "page[after]" not in request.url.params
        meta = {"has_more": more, "after_cursor": "c2" if more else None}
        links = {"next": "https://attacker.example/steal" if more else None}
        return {"tickets": [ticket_json(2 if more else 3)], "meta": meta, "links": links}

    results = with_answers(answer, lambda adapter: adapter.fetch_related("ticket", "party", ["3"]))
    assert isinstance(results[0], list) and [t.source_id for t in results[0]] == ["2", "3"]
    assert [url.host for url in asked] == ["acme.zendesk.example"] * 2
    assert asked[1].params["page[after]"] == "c2"


ORG_EXPORT = "/api/v2/incremental/organizations"


def organization_json(org_id: int, updated_at: str) -> dict[str, Any]:
    return {"id": org_id, "name": f"Org {org_id}", "external_id": None, "domain_names": [], "details": None,
            "tags": [], "created_at": "2024-01-01T00:00:00Z", "updated_at": updated_at}  # fmt: skip


def unix(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())


def test_an_organization_export_that_repeats_its_last_second_gives_each_organization_once() -> None:
    """As Zendesk's time-based export does: each page restarts at the second the page before ended with."""
    stamps = {1: "2024-01-01T00:00:01Z", 2: "2024-01-01T00:00:02Z", 3: "2024-01-01T00:00:02Z",
              4: "2024-01-01T00:00:03Z", 5: "2024-01-01T00:00:04Z"}  # fmt: skip
    asked: list[httpx.URL] = []

    def answer(request: httpx.Request) -> dict[str, Any]:
        asked.append(request.url)
        start = int(request.url.params["start_time"])
        page = [org for org, stamp in stamps.items() if unix(stamp) >= start][:3]
        end = unix(stamps[page[-1]])
        return {"organizations": [organization_json(org, stamps[org]) for org in page], "count": len(page),
                "end_time": end, "end_of_stream": page[-1] == 5,
                "next_page": f"https://elsewhere.example{ORG_EXPORT}.json?start_time={end}"}  # fmt: skip

    records = with_answers(answer, lambda adapter: scan_all(adapter, "party", 3))
    assert [record.source_id for record in records] == ["1", "2", "3", "4", "5"]
    assert [url.params["start_time"] for url in asked] == ["0", str(unix(stamps[3])), str(unix(stamps[4]))]
    assert {url.host for url in asked} == {"acme.zendesk.example"}  # never where next_page points


def test_an_organization_export_that_does_not_move_is_a_bad_response_not_an_endless_loop() -> None:
    def answer(request: httpx.Request) -> dict[str, Any]:
        stamp = "2024-01-01T00:00:01Z"
        return {"organizations": [organization_json(1, stamp)], "count": 1, "end_time": unix(stamp),
                "end_of_stream": False,
                "next_page": f"https://acme.zendesk.example{ORG_EXPORT}.json?start_time={unix(stamp)}"}  # fmt: skip

    with pytest.raises(UpstreamBadResponse, match="does not move"):
        with_answers(answer, lambda adapter: scan_all(adapter, "party", 100))


@pytest.mark.parametrize("cursor", ["bm9wZQ", "NQ==", "WzEsIDJd", "WyJ4IiwgW11d"])  # nope, 5, [1, 2], ["x", []]
def test_a_scan_cursor_never_given_out_is_refused(cursor: str) -> None:
    with pytest.raises(ClientError, match="not a cursor"):
        with_answers(lambda request: {}, lambda adapter: adapter.scan("party", cursor, 10))


# --- configuration --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "mentions"),
    [
        ({"token": None}, "sources.tickets.token"),
        ({"url": 5}, "sources.tickets.url"),
        ({"page_size": 101}, "page_size"),
        ({"max_related": 0}, "max_related"),
    ],
)
def test_bad_settings_are_refused_by_name(change: dict[str, Any], mentions: str) -> None:
    base = {"url": "https://acme.zendesk.example", "email": "a@b.example", "token": "t"}
    config = {key: value for key, value in (base | change).items() if value is not None}
    with pytest.raises(ConfigError, match=mentions):
        ZendeskAdapter(SOURCE, config)


def test_external_id_source_names_the_system_an_xref_points_into(estate: Estate, db: sqlite3.Connection) -> None:
    row = db.execute("SELECT id, external_id FROM organizations WHERE external_id IS NOT NULL LIMIT 1").fetchone()
    results, _ = run(estate, lambda adapter: adapter.fetch("party", [str(row["id"])]), external_id_source="hubspot")
    assert isinstance(results[0], PartyRecord) and results[0].xrefs == (("hubspot", row["external_id"]),)
    results, _ = run(estate, lambda adapter: adapter.fetch("party", [str(row["id"])]), external_id_source="")
    assert isinstance(results[0], PartyRecord) and results[0].xrefs == ()


# --- the shared contract suite --------------------------------------------------------------------------


class TestZendeskAdapterPassesTheContractSuite(AdapterContract):
    @pytest.fixture
    def make_adapter(self, estate: Estate) -> Callable[[], Adapter]:
        return lambda: ZendeskAdapter(SOURCE, settings(estate))

    @pytest.fixture
    def make_unreachable_adapter(self, estate: Estate) -> Callable[[], Adapter]:
        return lambda: ZendeskAdapter(SOURCE, settings(estate, url="http://127.0.0.1:9"))

    @pytest.fixture
    def contract_samples(self, db: sqlite3.Connection) -> ContractSamples:
        busiest_first = "SELECT {0} FROM tickets WHERE {0} IS NOT NULL GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT 5"
        return ContractSamples(
            known_ids={
                "party": ids(db, "SELECT id FROM organizations ORDER BY id LIMIT 5"),
                "person": ids(db, "SELECT id FROM users WHERE role = 'end-user' ORDER BY id LIMIT 5"),
                "ticket": ids(db, "SELECT id FROM tickets ORDER BY id LIMIT 5"),
            },
            related_keys={
                ("ticket", "party"): ids(db, busiest_first.format("organization_id")),
                ("ticket", "person"): ids(db, busiest_first.format("requester_id")),
                ("comment", "ticket"): ids(db, "SELECT id FROM tickets ORDER BY id LIMIT 5"),
                ("person", "email"): ids(db, "SELECT email FROM users WHERE email IS NOT NULL ORDER BY id LIMIT 5"),
            },
            scan_totals={
                "party": int(db.execute("SELECT COUNT(*) FROM organizations").fetchone()[0]),
                "person": int(db.execute("SELECT COUNT(*) FROM users WHERE role = 'end-user'").fetchone()[0]),
            },
        )
