"""The simulated ticket system, exercised over HTTP as a Zendesk Support v2 client would.

Expectations come from reading the seeded SQLite store directly, never from the server's own code.
Read-only tests share the session's running estate and one client (building an httpx client per test
costs more than the test); tests that read stats or inject faults take the resetting ``estate`` fixture.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from crmgraph.demo.layout import EstateCredentials
from crmgraph.demo.stores import tickets as ticket_store
from crmgraph.demo.ticket_api import build_ticket_api
from crmgraph.demo.wire import serving_in_thread

if TYPE_CHECKING:
    from tests.conftest import Estate

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

TICKET_FIELDS = {
    "id", "url", "external_id", "type", "subject", "raw_subject", "description", "priority", "status",
    "requester_id", "submitter_id", "assignee_id", "organization_id", "group_id", "tags", "via",
    "created_at", "updated_at", "due_at", "custom_fields", "is_public",
}  # fmt: skip
USER_FIELDS = {
    "id", "url", "name", "email", "phone", "external_id", "organization_id", "role", "time_zone", "locale",
    "tags", "created_at", "updated_at", "active", "verified", "shared", "suspended",
}  # fmt: skip
ORGANIZATION_FIELDS = {
    "id", "url", "name", "external_id", "domain_names", "details", "notes", "tags", "group_id",
    "shared_tickets", "shared_comments", "created_at", "updated_at",
}  # fmt: skip
COMMENT_FIELDS = {
    "id", "type", "author_id", "body", "html_body", "plain_body", "public", "created_at", "attachments",
    "via",
}  # fmt: skip
FIELDS = {"tickets": TICKET_FIELDS, "users": USER_FIELDS, "organizations": ORGANIZATION_FIELDS}
SINGULAR = {"tickets": "ticket", "users": "user", "organizations": "organization"}
COLLECTIONS = sorted(FIELDS)


@pytest.fixture(scope="module")
def db(running_estate: Estate) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{running_estate.layout.tickets_db}?mode=ro", uri=True)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def client(running_estate: Estate) -> Iterator[httpx.Client]:
    with running_estate.tickets() as tickets:
        yield tickets


@pytest.fixture(scope="module")
def anonymous(running_estate: Estate) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_estate.tickets_url, timeout=10) as bare:
        yield bare


def ids(conn: sqlite3.Connection, sql: str, *params: object) -> list[int]:
    return [row[0] for row in conn.execute(sql, params)]


def one(conn: sqlite3.Connection, sql: str, *params: object) -> Any:
    return conn.execute(sql, params).fetchone()[0]


def origin(client: httpx.Client) -> str:
    return str(client.base_url).rstrip("/")


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def walk(client: httpx.Client, path: str, items: str, params: dict[str, Any], max_pages: int) -> list[dict[str, Any]]:
    """Every record of a cursor-paged list, following ``links.next`` to the end."""
    response = client.get(path, params=params)
    records: list[dict[str, Any]] = []
    for _ in range(max_pages):
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {items, "meta", "links"}
        records += body[items]
        assert body["meta"]["has_more"] is (body["links"]["next"] is not None)
        if not body["meta"]["has_more"]:
            return records
        response = client.get(body["links"]["next"])
    raise AssertionError(f"still more after {max_pages} pages: the cursor does not advance")


def assert_error(response: httpx.Response, status: int, error: str, mentions: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "description"}
    assert body["error"] == error
    assert mentions in body["description"]


# --- one record ------------------------------------------------------------------------------------


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_a_record_has_every_zendesk_field_and_the_stored_values(
    collection: str, client: httpx.Client, db: sqlite3.Connection
) -> None:
    record_id, created_at, updated_at = db.execute(
        f"SELECT id, created_at, updated_at FROM {collection} ORDER BY id DESC LIMIT 1"
    ).fetchone()
    response = client.get(f"/api/v2/{collection}/{record_id}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {SINGULAR[collection]}
    record = body[SINGULAR[collection]]
    assert set(record) == FIELDS[collection]
    assert record["id"] == record_id
    assert record["url"] == f"{origin(client)}/api/v2/{collection}/{record_id}.json"
    assert (record["created_at"], record["updated_at"]) == (created_at, updated_at)
    assert TIMESTAMP.match(record["created_at"])
    assert isinstance(record["tags"], list)


def test_a_comment_has_every_zendesk_field_and_the_stored_values(client: httpx.Client, db: sqlite3.Connection) -> None:
    row = db.execute(
        "SELECT id, ticket_id, author_id, body, public, created_at FROM comments ORDER BY id LIMIT 1"
    ).fetchone()
    comments = client.get(f"/api/v2/tickets/{row[1]}/comments").json()["comments"]
    comment = next(comment for comment in comments if comment["id"] == row[0])
    assert set(comment) == COMMENT_FIELDS
    assert (comment["author_id"], comment["body"], comment["public"], comment["created_at"]) == (
        row[2], row[3], bool(row[4]), row[5],
    )  # fmt: skip
    assert (comment["type"], comment["attachments"], comment["via"]) == ("Comment", [], {"channel": "web"})


def test_a_ticket_carries_its_stored_values_in_zendesk_form(client: httpx.Client, db: sqlite3.Connection) -> None:
    row = db.execute(
        "SELECT id, subject, status, requester_id, organization_id, channel, tags FROM tickets "
        "ORDER BY tags = '[]', id LIMIT 1"
    ).fetchone()
    ticket = client.get(f"/api/v2/tickets/{row[0]}.json").json()["ticket"]
    assert ticket["subject"] == ticket["raw_subject"] == row[1]
    assert (ticket["status"], ticket["requester_id"], ticket["organization_id"]) == row[2:5]
    assert ticket["via"] == {"channel": row[5]}
    assert ticket["tags"] == json.loads(row[6])
    assert (ticket["custom_fields"], ticket["is_public"]) == ([], True)


def test_an_organization_lists_its_domain_names(client: httpx.Client, db: sqlite3.Connection) -> None:
    org_id = one(db, "SELECT id FROM organizations WHERE domain_names != '[]' ORDER BY id LIMIT 1")
    organization = client.get(f"/api/v2/organizations/{org_id}").json()["organization"]
    assert organization["domain_names"]
    assert all(isinstance(domain, str) for domain in organization["domain_names"])


@pytest.mark.parametrize(
    "path",
    ["/api/v2/tickets/{ticket}", "/api/v2/users/{user}", "/api/v2/organizations/{org}",
     "/api/v2/tickets/show_many?ids={ticket}", "/api/v2/tickets/{ticket}/comments",
     "/api/v2/users/{user}/tickets/requested", "/api/v2/organizations/{org}/tickets", "/api/v2/users"],
)  # fmt: skip
def test_the_json_suffix_answers_like_the_bare_path(path: str, client: httpx.Client, db: sqlite3.Connection) -> None:
    known = {
        "ticket": one(db, "SELECT min(id) FROM tickets"),
        "user": one(db, "SELECT min(requester_id) FROM tickets"),
        "org": one(db, "SELECT min(organization_id) FROM tickets"),
    }
    bare, _, query = path.format(**known).partition("?")
    plain = client.get(f"{bare}?{query}")
    suffixed = client.get(f"{bare}.json?{query}")
    assert plain.status_code == suffixed.status_code == 200
    # Links differ by the suffix of the URL they were asked on; the records do not.
    assert {k: v for k, v in plain.json().items() if k != "links"} == {
        k: v for k, v in suffixed.json().items() if k != "links"
    }


@pytest.mark.parametrize(
    "path",
    ["/api/v2/tickets/{missing}", "/api/v2/users/{missing}.json", "/api/v2/organizations/{missing}",
     "/api/v2/tickets/{missing}/comments", "/api/v2/users/{missing}/tickets/requested",
     "/api/v2/organizations/{missing}/tickets", "/api/v2/tickets/99999999999999999999999"],
)  # fmt: skip
def test_an_unknown_record_or_parent_is_record_not_found(
    path: str, client: httpx.Client, db: sqlite3.Connection
) -> None:
    missing = max(one(db, f"SELECT max(id) FROM {table}") for table in COLLECTIONS) + 1
    assert_error(client.get(path.format(missing=missing)), 404, "RecordNotFound", "Not found")


def test_an_unknown_endpoint_is_answered_in_zendesk_form(client: httpx.Client) -> None:
    assert_error(client.get("/api/v2/macros"), 404, "InvalidEndpoint")


# --- show_many -------------------------------------------------------------------------------------


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_show_many_answers_in_the_order_asked_and_leaves_out_unknown_ids(
    collection: str, client: httpx.Client, db: sqlite3.Connection
) -> None:
    known = ids(db, f"SELECT id FROM {collection} ORDER BY id DESC LIMIT 5")
    unknown = max(known) + 1
    asked = [known[2], unknown, known[0], known[4], known[1]]
    response = client.get(f"/api/v2/{collection}/show_many", params={"ids": ",".join(map(str, asked))})
    assert response.status_code == 200
    records = response.json()[collection]
    assert [record["id"] for record in records] == [known[2], known[0], known[4], known[1]]
    assert all(set(record) == FIELDS[collection] for record in records)


def test_show_many_of_a_hundred_tickets_is_one_request(estate: Estate, client: httpx.Client) -> None:
    response = client.get("/api/v2/tickets/show_many", params={"ids": ",".join(map(str, range(1, 101)))})
    assert response.status_code == 200
    stats = estate.stats("tickets")
    assert stats["total"] == 1
    assert stats["by_endpoint"]["GET /api/v2/tickets/show_many"]["by_status"] == {"200": 1}


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_show_many_refuses_more_than_a_hundred_ids(collection: str, client: httpx.Client) -> None:
    response = client.get(f"/api/v2/{collection}/show_many", params={"ids": ",".join(map(str, range(1, 102)))})
    assert_error(response, 400, "InvalidValue", "at most 100")


@pytest.mark.parametrize(
    ("ids_param", "mentions"),
    [("1,abc,3", "'abc'"), ("1,-2", "'-2'"), ("1.5", "'1.5'"), ("", "ids is required")],
)
def test_show_many_names_the_bad_id(ids_param: str, mentions: str, client: httpx.Client) -> None:
    assert_error(client.get("/api/v2/tickets/show_many", params={"ids": ids_param}), 400, "InvalidValue", mentions)


def test_show_many_without_ids_is_refused(client: httpx.Client) -> None:
    assert_error(client.get("/api/v2/users/show_many"), 400, "InvalidValue", "ids")


# --- cursor-paged lists ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    path: str
    items: str
    expected: list[int]
    page_size: int
    params: tuple[tuple[str, str], ...] = ()


def _everything(table: str) -> Callable[[sqlite3.Connection], Listed]:
    return lambda db: Listed(f"/api/v2/{table}", table, ids(db, f"SELECT id FROM {table} ORDER BY id"), 7)


def _busiest_organization(db: sqlite3.Connection) -> Listed:
    org = one(
        db,
        "SELECT organization_id FROM tickets WHERE organization_id IS NOT NULL "
        "GROUP BY organization_id ORDER BY count(*) DESC, organization_id LIMIT 1",
    )
    expected = ids(db, "SELECT id FROM tickets WHERE organization_id = ? ORDER BY id", org)
    return Listed(f"/api/v2/organizations/{org}/tickets", "tickets", expected, 4)


def _busiest_requester(db: sqlite3.Connection) -> Listed:
    user = one(db, "SELECT requester_id FROM tickets GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
    expected = ids(db, "SELECT id FROM tickets WHERE requester_id = ? ORDER BY id", user)
    return Listed(f"/api/v2/users/{user}/tickets/requested", "tickets", expected, 4)


def _most_discussed_ticket(db: sqlite3.Connection) -> Listed:
    ticket = one(db, "SELECT ticket_id FROM comments GROUP BY ticket_id ORDER BY count(*) DESC, ticket_id LIMIT 1")
    expected = ids(db, "SELECT id FROM comments WHERE ticket_id = ? ORDER BY created_at, id", ticket)
    return Listed(f"/api/v2/tickets/{ticket}/comments", "comments", expected, 2)


def _users_matching_text(db: sqlite3.Connection) -> Listed:
    expected = [
        user_id
        for user_id, name, email in db.execute("SELECT id, name, email FROM users ORDER BY id")
        if "an" in name.lower() or "an" in (email or "").lower()
    ]
    return Listed("/api/v2/users/search", "users", expected, 5, (("query", "an"),))


LISTS: dict[str, Callable[[sqlite3.Connection], Listed]] = {
    "all_tickets": _everything("tickets"),
    "all_users": _everything("users"),
    "all_organizations": _everything("organizations"),
    "tickets_of_the_busiest_organization": _busiest_organization,
    "tickets_requested_by_the_busiest_requester": _busiest_requester,
    "comments_of_the_most_discussed_ticket": _most_discussed_ticket,
    "users_found_by_free_text": _users_matching_text,
}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_paging_to_the_end_returns_every_record_once_in_order(
    name: str, client: httpx.Client, db: sqlite3.Connection
) -> None:
    listed = LISTS[name](db)
    assert len(listed.expected) > 2 * listed.page_size, "the seed no longer forces several pages"
    params = {"page[size]": listed.page_size, **dict(listed.params)}
    records = walk(client, listed.path, listed.items, params, len(listed.expected) // listed.page_size + 2)
    assert [record["id"] for record in records] == listed.expected


@pytest.mark.parametrize("name", ["all_users", "comments_of_the_most_discussed_ticket"])
def test_paging_back_from_the_last_page_returns_the_same_records(
    name: str, client: httpx.Client, db: sqlite3.Connection
) -> None:
    listed = LISTS[name](db)
    pages = len(listed.expected) // listed.page_size + 1
    body = client.get(listed.path, params={"page[size]": listed.page_size}).json()
    for _ in range(pages):
        if body["links"]["next"]:
            body = client.get(body["links"]["next"]).json()
    assert body["links"]["next"] is None
    seen = [record["id"] for record in body[listed.items]]
    for _ in range(pages):
        if body["links"]["prev"]:
            body = client.get(body["links"]["prev"]).json()
            seen = [record["id"] for record in body[listed.items]] + seen
    assert seen == listed.expected
    assert body["meta"]["has_more"] is False  # walking backwards, nothing lies before the first page


def test_a_page_reports_its_cursors_and_absolute_links(client: httpx.Client) -> None:
    body = client.get("/api/v2/tickets", params={"page[size]": 3}).json()
    assert len(body["tickets"]) == 3
    meta, links = body["meta"], body["links"]
    assert meta["has_more"] is True
    assert isinstance(meta["after_cursor"], str) and isinstance(meta["before_cursor"], str)
    assert links["prev"] is None
    assert links["next"].startswith(f"{origin(client)}/api/v2/tickets?")
    nxt = httpx.URL(links["next"])
    assert nxt.params["page[after]"] == meta["after_cursor"]
    assert nxt.params["page[size]"] == "3"


def test_a_list_is_a_hundred_records_a_page_by_default(client: httpx.Client, db: sqlite3.Connection) -> None:
    body = client.get("/api/v2/tickets").json()
    assert len(body["tickets"]) == min(100, one(db, "SELECT count(*) FROM tickets"))


def test_a_parent_without_children_has_an_empty_last_page(client: httpx.Client, db: sqlite3.Connection) -> None:
    org = one(db, "SELECT min(id) FROM organizations WHERE id NOT IN (SELECT organization_id FROM tickets "
                  "WHERE organization_id IS NOT NULL)")  # fmt: skip
    body = client.get(f"/api/v2/organizations/{org}/tickets").json()
    assert body == {
        "tickets": [],
        "meta": {"has_more": False, "after_cursor": None, "before_cursor": None},
        "links": {"next": None, "prev": None},
    }


@pytest.mark.parametrize(
    ("params", "mentions"),
    [({"page[size]": "101"}, "page[size]"), ({"page[size]": "0"}, "page[size]"),
     ({"page[size]": "ten"}, "page[size]"), ({"page[after]": "not-a-cursor"}, "page[after]"),
     ({"page[before]": "bm9wZQ"}, "page[before]")],
)  # fmt: skip
def test_bad_paging_parameters_are_refused_by_name(params: dict[str, str], mentions: str, client: httpx.Client) -> None:
    assert_error(client.get("/api/v2/users", params=params), 400, "InvalidPaginationParameter", mentions)


def _tampered(cursor: str) -> str:
    middle = len(cursor) // 2
    return cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]


def test_an_edited_cursor_is_refused(client: httpx.Client) -> None:
    cursor = client.get("/api/v2/tickets", params={"page[size]": 7}).json()["meta"]["after_cursor"]
    response = client.get("/api/v2/tickets", params={"page[size]": 7, "page[after]": _tampered(cursor)})
    assert_error(response, 400, "InvalidPaginationParameter", "page[after]")


def test_a_cursor_of_another_ordering_is_refused(client: httpx.Client, db: sqlite3.Connection) -> None:
    ticket = one(db, "SELECT ticket_id FROM comments GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    comments = client.get(f"/api/v2/tickets/{ticket}/comments", params={"page[size]": 1}).json()
    response = client.get("/api/v2/tickets", params={"page[after]": comments["meta"]["after_cursor"]})
    assert_error(response, 400, "InvalidPaginationParameter", "page[after]")


def test_after_and_before_together_are_refused(client: httpx.Client) -> None:
    cursor = client.get("/api/v2/users", params={"page[size]": 2}).json()["meta"]["after_cursor"]
    response = client.get("/api/v2/users", params={"page[after]": cursor, "page[before]": cursor})
    assert_error(response, 400, "InvalidPaginationParameter", "not both")


# Rows written in the same second are where a cursor on the timestamp alone would skip or repeat rows;
# the seed may hold none, so this store is built to have them.
SAME_SECOND = "2024-05-01T12:00:00Z"
SAME_SECOND_COMMENTS = [9, 3, 7, 1, 5]  # stored out of id order, on purpose
MARKUP_COMMENT = "Hello <b>you</b> & co\nline two\n\nSecond"


@pytest.fixture(scope="module")
def same_second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A ticket system on loopback over a store whose tickets and comments share timestamps."""
    path = tmp_path_factory.mktemp("same_second") / "tickets.sqlite"
    conn = ticket_store.connect(path)
    conn.execute(
        "INSERT INTO users (id, name, role, time_zone, locale, created_at, updated_at) "
        "VALUES (1, 'Ada', 'end-user', 'UTC', 'en-US', ?, ?)",
        (SAME_SECOND, SAME_SECOND),
    )
    conn.executemany(
        "INSERT INTO tickets (id, subject, description, status, requester_id, submitter_id, channel, "
        "created_at, updated_at) VALUES (?, 'Hi', 'Hi', 'open', 1, 1, 'web', ?, ?)",
        [(ticket, SAME_SECOND, SAME_SECOND) for ticket in (4, 2, 6, 1, 3, 5)],
    )
    conn.executemany(
        "INSERT INTO comments (id, ticket_id, author_id, body, created_at) VALUES (?, 1, 1, ?, ?)",
        [
            (10, MARKUP_COMMENT, "2024-05-01T11:59:59Z"),
            *((comment, "Hi", SAME_SECOND) for comment in SAME_SECOND_COMMENTS),
        ],
    )
    conn.executemany(
        "INSERT INTO organizations (id, name, created_at, updated_at) VALUES (?, 'Org', ?, ?)",
        [(org, stamp, stamp) for org, stamp in ((1, "2024-05-01T11:59:59Z"), (3, "2024-05-01T12:00:01Z"),
                                                *((org, SAME_SECOND) for org in (7, 2, 5, 4, 6)))],
    )  # fmt: skip
    conn.commit()
    conn.close()
    credentials = EstateCredentials()
    app = build_ticket_api(path, credentials.zendesk_email, credentials.zendesk_token)
    headers = {"Authorization": credentials.zendesk_basic}
    with serving_in_thread(app) as url, httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        yield client


def test_comments_of_the_same_second_are_paged_in_id_order(same_second: httpx.Client) -> None:
    records = walk(same_second, "/api/v2/tickets/1/comments", "comments", {"page[size]": 1}, max_pages=8)
    assert [record["id"] for record in records] == [10, *sorted(SAME_SECOND_COMMENTS)]


def test_a_comment_body_is_escaped_into_paragraphs(same_second: httpx.Client) -> None:
    comment = same_second.get("/api/v2/tickets/1/comments", params={"page[size]": 1}).json()["comments"][0]
    assert comment["body"] == comment["plain_body"] == MARKUP_COMMENT
    assert comment["html_body"] == "<p>Hello &lt;b&gt;you&lt;/b&gt; &amp; co<br>line two</p><p>Second</p>"


def test_tickets_updated_in_the_same_second_are_exported_once_each(same_second: httpx.Client) -> None:
    tickets, _ = _export(same_second, {"start_time": _unix(SAME_SECOND), "per_page": 1})
    assert [ticket["id"] for ticket in tickets] == [1, 2, 3, 4, 5, 6]


# --- user search -----------------------------------------------------------------------------------


def test_users_are_found_by_email_whatever_its_case(client: httpx.Client, db: sqlite3.Connection) -> None:
    rows = db.execute("SELECT id, email FROM users WHERE email IS NOT NULL ORDER BY id").fetchall()
    email = next(email for _, email in rows if email == email.strip() and email != email.upper())
    expected = [user_id for user_id, other in rows if other.lower() == email.lower()]
    body = client.get("/api/v2/users/search", params={"query": f"email:{email.upper()}"}).json()
    assert [user["id"] for user in body["users"]] == expected
    assert body["meta"]["has_more"] is False
    assert set(body["users"][0]) == USER_FIELDS


def test_users_are_found_by_part_of_their_name(client: httpx.Client, db: sqlite3.Connection) -> None:
    rows = db.execute("SELECT id, name FROM users ORDER BY id").fetchall()
    surname = next(name.split()[-1] for _, name in rows if " " in name)
    expected = [user_id for user_id, name in rows if surname.lower() in name.lower()]
    body = client.get("/api/v2/users/search", params={"query": f'name:"{surname.lower()}"'}).json()
    assert [user["id"] for user in body["users"]] == expected


def test_users_are_found_by_external_id(client: httpx.Client, db: sqlite3.Connection) -> None:
    external_id = one(db, "SELECT external_id FROM users WHERE external_id IS NOT NULL ORDER BY id LIMIT 1")
    expected = ids(db, "SELECT id FROM users WHERE external_id = ? ORDER BY id", external_id)
    body = client.get("/api/v2/users/search.json", params={"external_id": external_id}).json()
    assert [user["id"] for user in body["users"]] == expected


def test_a_search_that_matches_nobody_is_an_empty_page(client: httpx.Client) -> None:
    body = client.get("/api/v2/users/search", params={"query": "email:nobody@nowhere.invalid"}).json()
    assert body["users"] == []
    assert body["meta"]["has_more"] is False


@pytest.mark.parametrize(("params", "mentions"), [({}, "query"), ({"query": "email:"}, "query")])
def test_a_search_without_a_query_is_refused(params: dict[str, str], mentions: str, client: httpx.Client) -> None:
    assert_error(client.get("/api/v2/users/search", params=params), 400, "InvalidValue", mentions)


# --- incremental export ----------------------------------------------------------------------------


def _export(
    client: httpx.Client, params: dict[str, Any], max_pages: int = 100, table: str = "tickets"
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every record of a cursor-based incremental export, and its last answer (the one at end_of_stream)."""
    body = client.get(f"/api/v2/incremental/{table}/cursor", params=params).json()
    records = list(body[table])
    for _ in range(max_pages):
        if body["end_of_stream"]:
            return records, body
        body = client.get(body["after_url"]).json()
        records += body[table]
    raise AssertionError(f"no end_of_stream after {max_pages} pages: the cursor does not advance")


def _time_export(
    client: httpx.Client, params: dict[str, Any], max_pages: int = 100
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every page of the time-based organization export from ``start_time``, following ``next_page``."""
    pages = [client.get("/api/v2/incremental/organizations", params=params).json()]
    for _ in range(max_pages):
        if pages[-1]["end_of_stream"]:
            return [org for page in pages for org in page["organizations"]], pages
        pages.append(client.get(pages[-1]["next_page"]).json())
    raise AssertionError(f"no end_of_stream after {max_pages} pages: the export does not advance")


def _unix(timestamp: str) -> int:
    return int(datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def test_the_incremental_export_from_the_epoch_returns_every_ticket_by_update_time(
    client: httpx.Client, db: sqlite3.Connection
) -> None:
    tickets, last = _export(client, {"start_time": 0, "per_page": 9})
    assert [ticket["id"] for ticket in tickets] == ids(db, "SELECT id FROM tickets ORDER BY updated_at, id")
    assert all(set(ticket) == TICKET_FIELDS for ticket in tickets)
    assert (last["before_cursor"], last["before_url"]) == (None, None)
    assert last["after_url"].endswith(f"cursor={last['after_cursor']}&per_page=9")


def test_the_incremental_export_starts_at_start_time_inclusive(client: httpx.Client, db: sqlite3.Connection) -> None:
    median = one(db, "SELECT updated_at FROM tickets ORDER BY updated_at LIMIT 1 OFFSET (SELECT count(*) / 2 "
                     "FROM tickets)")  # fmt: skip
    tickets, _ = _export(client, {"start_time": _unix(median), "per_page": 10})
    expected = ids(db, "SELECT id FROM tickets WHERE updated_at >= ? ORDER BY updated_at, id", median)
    assert [ticket["id"] for ticket in tickets] == expected


def test_the_user_export_from_the_epoch_returns_every_user_by_update_time(
    client: httpx.Client, db: sqlite3.Connection
) -> None:
    users, last = _export(client, {"start_time": 0, "per_page": 1000}, table="users")
    assert [user["id"] for user in users] == ids(db, "SELECT id FROM users ORDER BY updated_at, id")
    assert all(set(user) == USER_FIELDS for user in users)
    after = f"{origin(client)}/api/v2/incremental/users/cursor.json?cursor={last['after_cursor']}&per_page=1000"
    assert last["after_url"] == after
    paged, _ = _export(client, {"start_time": 0, "per_page": 7}, table="users")
    assert paged == users


def test_the_organization_export_gives_every_organization_by_update_time_some_twice(
    client: httpx.Client, db: sqlite3.Connection
) -> None:
    organizations, pages = _time_export(client, {"start_time": 0, "per_page": 9})
    expected = ids(db, "SELECT id FROM organizations ORDER BY updated_at, id")
    assert list(dict.fromkeys(org["id"] for org in organizations)) == expected
    assert all(set(org) == ORGANIZATION_FIELDS for org in organizations)
    for page, following in itertools.pairwise(pages):
        assert page["count"] == len(page["organizations"]) >= 9
        assert page["end_time"] == _unix(page["organizations"][-1]["updated_at"])
        assert page["next_page"] == (
            f"{origin(client)}/api/v2/incremental/organizations.json?start_time={page['end_time']}&per_page=9"
        )
        # The next page starts again with the last second of this one: a client drops those by id.
        assert following["organizations"][0] == page["organizations"][-1]
    assert pages[-1]["end_of_stream"] is True and not any(page["end_of_stream"] for page in pages[:-1])


def test_an_organization_export_page_ends_with_its_whole_last_second(same_second: httpx.Client) -> None:
    organizations, pages = _time_export(same_second, {"start_time": 0, "per_page": 2})
    first, one_second, last = pages
    assert [org["id"] for org in first["organizations"]] == [1, 2, 4, 5, 6, 7]  # every record of SAME_SECOND
    assert [org["id"] for org in one_second["organizations"]] == [2, 4, 5, 6, 7]
    # A page of one second only hands on the second after it; asked for again it would never end.
    assert one_second["next_page"].endswith(f"start_time={_unix(SAME_SECOND) + 1}&per_page=2")
    assert [org["id"] for org in last["organizations"]] == [3] and last["end_of_stream"] is True
    assert sorted(dict.fromkeys(org["id"] for org in organizations)) == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    ("path", "params", "error", "mentions"),
    [("/api/v2/incremental/organizations", {}, "InvalidValue", "start_time"),
     ("/api/v2/incremental/organizations", {"start_time": "0", "per_page": "1001"}, "InvalidPaginationParameter",
      "per_page"),
     ("/api/v2/incremental/users/cursor", {"start_time": "soon"}, "InvalidValue", "start_time"),
     ("/api/v2/incremental/users/cursor", {"cursor": "bm9wZQ"}, "InvalidPaginationParameter", "cursor")],
)  # fmt: skip
def test_bad_user_and_organization_export_parameters_are_refused_by_name(
    path: str, params: dict[str, str], error: str, mentions: str, client: httpx.Client
) -> None:
    assert_error(client.get(path, params=params), 400, error, mentions)


def test_polling_past_the_end_of_the_stream_returns_nothing_new(client: httpx.Client) -> None:
    _, last = _export(client, {"start_time": 0})
    again = client.get(last["after_url"]).json()
    assert again["tickets"] == []
    assert again["end_of_stream"] is True
    assert again["after_cursor"] == last["after_cursor"]


@pytest.mark.parametrize(
    ("params", "error", "mentions"),
    [({}, "InvalidValue", "start_time"), ({"start_time": "yesterday"}, "InvalidValue", "start_time"),
     ({"start_time": "-5"}, "InvalidValue", "start_time"),
     ({"start_time": "0", "per_page": "1001"}, "InvalidPaginationParameter", "per_page"),
     ({"cursor": "bm9wZQ"}, "InvalidPaginationParameter", "cursor")],
)  # fmt: skip
def test_bad_export_parameters_are_refused_by_name(
    params: dict[str, str], error: str, mentions: str, client: httpx.Client
) -> None:
    assert_error(client.get("/api/v2/incremental/tickets/cursor", params=params), 400, error, mentions)


# --- authentication and injected faults ------------------------------------------------------------

ENDPOINTS = [
    "/api/v2/tickets/1", "/api/v2/users/1.json", "/api/v2/organizations/1",
    "/api/v2/tickets/show_many?ids=1,2", "/api/v2/users/show_many?ids=1",
    "/api/v2/organizations/show_many?ids=1",
    "/api/v2/tickets", "/api/v2/users", "/api/v2/organizations.json",
    "/api/v2/organizations/1/tickets", "/api/v2/users/1/tickets/requested", "/api/v2/tickets/1/comments",
    "/api/v2/users/search?query=a", "/api/v2/incremental/tickets/cursor?start_time=0",
    "/api/v2/incremental/users/cursor?start_time=0", "/api/v2/incremental/organizations.json?start_time=0",
]  # fmt: skip
BAD_CREDENTIALS: dict[str, Callable[[Estate], dict[str, str]]] = {
    "none": lambda estate: {},
    "wrong_token": lambda estate: basic(f"{estate.credentials.zendesk_email}/token", "not-the-token"),
    "wrong_email": lambda estate: basic("someone@else.test/token", estate.credentials.zendesk_token),
    "password_instead_of_token": lambda estate: basic(
        estate.credentials.zendesk_email, estate.credentials.zendesk_token),
    "bearer": lambda estate: {"Authorization": f"Bearer {estate.credentials.zendesk_token}"},
}  # fmt: skip


@pytest.mark.parametrize("credentials", sorted(BAD_CREDENTIALS))
@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_refuses_a_request_without_the_api_token(
    path: str, credentials: str, running_estate: Estate, anonymous: httpx.Client
) -> None:
    response = anonymous.get(path, headers=BAD_CREDENTIALS[credentials](running_estate))
    assert_error(response, 401, "Couldn't authenticate you")
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_an_injected_rate_limit_answers_as_zendesk_does(estate: Estate, client: httpx.Client) -> None:
    estate.faults("tickets", rate_limit_per_s=0.01)  # one request, then a wait of about 100 s
    assert client.get("/api/v2/tickets", params={"page[size]": 1}).status_code == 200
    response = client.get("/api/v2/tickets", params={"page[size]": 1})
    retry_after = response.headers["Retry-After"]
    assert_error(response, 429, "TooManyRequests", f"retry after {retry_after} seconds")
    assert int(retry_after) >= 1


def test_an_injected_failure_answers_as_zendesk_does(estate: Estate, client: httpx.Client) -> None:
    estate.faults("tickets", error_rate=1.0)
    assert_error(client.get("/api/v2/tickets/1"), 500, "InternalError")
