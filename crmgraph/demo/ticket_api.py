"""The simulated ticket system: a subset of the Zendesk Support v2 API over the ticket store.

Endpoints (each also answers with a ``.json`` suffix, as Zendesk does):

- ``GET /api/v2/{tickets|users|organizations}/{id}``            one record, or 404 ``RecordNotFound``;
- ``GET /api/v2/{tickets|users|organizations}/show_many?ids=``  up to 100 records in the order asked,
  unknown ids left out;
- ``GET /api/v2/{tickets|users|organizations}``                 everything, by id;
- ``GET /api/v2/organizations/{id}/tickets``, ``/api/v2/users/{id}/tickets/requested``,
  ``/api/v2/tickets/{id}/comments``                             one parent's children (no batch form);
- ``GET /api/v2/users/search?query=`` or ``?external_id=``      ``email:``, ``name:`` or free text;
- ``GET /api/v2/search/export?query=type:ticket organization:1 organization:2&filter[type]=ticket``
                                                                the tickets of several organizations
                                                                (:mod:`crmgraph.demo.ticket_search`);
- ``GET /api/v2/incremental/{tickets|users}/cursor?start_time=``  cursor-based exports, by ``(updated_at, id)``;
- ``GET /api/v2/incremental/organizations?start_time=``         the time-based export of organizations;
- ``GET /api/v2/ticket_metrics``, ``/ticket_metrics/{id}``, ``/tickets/{id}/metrics``  ticket metric sets, also
  side-loaded by ``include=metric_sets`` on the ticket export and ``tickets/show_many``
  (:mod:`crmgraph.demo.ticket_metrics`).

Writes (ticket create and update, comments) are in :mod:`crmgraph.demo.ticket_writes`.

Lists use Zendesk's cursor pagination (:mod:`crmgraph.demo.ticket_paging`); the exports, up to 1,000
records a page, are in :mod:`crmgraph.demo.ticket_exports`. Every request needs basic
auth of ``{email}/token:{api_token}``. Errors are ``{"error": <code>, "description": <text>}``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from crmgraph.demo.instruments import json_response
from crmgraph.demo.stores.tickets import connect
from crmgraph.demo.ticket_errors import (
    ApiError,
    api_error_response,
    error_body,
    not_found,
    render_error,
    ticket_error,
    unauthenticated,
)
from crmgraph.demo.ticket_exports import cursor_export, time_export, wants_metric_sets
from crmgraph.demo.ticket_metrics import ensure_schema, metric_sets
from crmgraph.demo.ticket_paging import (
    BY_CREATED,
    BY_ID,
    KeySpec,
    Listing,
    fetch_page,
    page_body,
    parse_page_request,
)
from crmgraph.demo.ticket_params import MAX_SQLITE_INTEGER, parse_ids, user_search
from crmgraph.demo.ticket_records import (
    Renderer,
    comment_record,
    organization_record,
    ticket_record,
    user_record,
)
from crmgraph.demo.ticket_search import search_export
from crmgraph.demo.ticket_writes import TicketWrites
from crmgraph.demo.webhook_wires import ZENDESK_WIRE
from crmgraph.demo.webhooks import WebhookHub

__all__ = ["build_ticket_api", "ticket_error"]

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Collection:
    table: str  # also the plural in URLs and bodies
    singular: str
    render: Renderer


TICKETS = Collection("tickets", "ticket", ticket_record)
USERS = Collection("users", "user", user_record)
ORGANIZATIONS = Collection("organizations", "organization", organization_record)
COMMENTS = Collection("comments", "comment", comment_record)


class RequireApiToken:
    """Refuse every request without Zendesk API-token basic auth, before routing (as the product does)."""

    def __init__(self, app: ASGIApp, email: str, api_token: str) -> None:
        self.app = app
        self.user = f"{email}/token".lower()
        self.api_token = api_token.encode()

    def _authorized(self, scope: Scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, encoded = header.partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        # Zendesk matches the email whatever its case; the token must match exactly.
        same_user = user.decode("utf-8", "replace").lower() == self.user
        return hmac.compare_digest(password, self.api_token) and same_user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            await render_error(unauthenticated())(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class TicketApi:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _row(self, table: str, record_id: int) -> sqlite3.Row | None:
        if record_id > MAX_SQLITE_INTEGER:
            return None
        row: sqlite3.Row | None = self.conn.execute(f"SELECT * FROM {table} WHERE id = ?", (record_id,)).fetchone()
        return row

    def _require(self, table: str, record_id: int) -> None:
        if self._row(table, record_id) is None:
            raise not_found()

    def show(self, collection: Collection) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            row = self._row(collection.table, request.path_params["id"])
            if row is None:
                raise not_found()
            return json_response({collection.singular: collection.render(row, _base(request))})

        return endpoint

    def show_many(self, collection: Collection) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            ids = parse_ids(request.query_params)
            marks = ", ".join("?" * len(ids))
            sql = f"SELECT * FROM {collection.table} WHERE id IN ({marks})"
            found = {row["id"]: row for row in self.conn.execute(sql, ids)}
            base = _base(request)
            rows = [found[i] for i in ids if i in found]
            body: dict[str, object] = {collection.table: [collection.render(row, base) for row in rows]}
            if collection is TICKETS and wants_metric_sets(request):
                body["metric_sets"] = metric_sets(self.conn, rows, base)
            return json_response(body)

        return endpoint

    async def ticket_metrics(self, request: Request) -> Response:
        """``GET /ticket_metrics``: every ticket's metric set, cursor-paged in ticket id order."""
        listing = Listing("tickets", BY_ID)
        page = fetch_page(self.conn, listing, parse_page_request(request.query_params, listing.spec))
        records = metric_sets(self.conn, page.rows, _base(request))
        return json_response(page_body(request.url, "ticket_metrics", records, page))

    async def ticket_metric(self, request: Request) -> Response:
        """``GET /ticket_metrics/{id}`` or ``/tickets/{id}/metrics`` (a metric set's id is its ticket's)."""
        row = self._row("tickets", request.path_params["id"])
        if row is None:
            raise not_found()
        return json_response({"ticket_metric": metric_sets(self.conn, [row], _base(request))[0]})

    def listing(
        self,
        collection: Collection,
        build: Callable[[Request], Listing],
        parent: str | None = None,
    ) -> Endpoint:
        """A cursor-paged list; ``parent`` names the table whose ``{id}`` must exist (404 otherwise)."""

        async def endpoint(request: Request) -> Response:
            if parent is not None:
                self._require(parent, request.path_params["id"])
            listing = build(request)
            page = fetch_page(self.conn, listing, parse_page_request(request.query_params, listing.spec))
            base = _base(request)
            records = [collection.render(row, base) for row in page.rows]
            return json_response(page_body(request.url, collection.table, records, page))

        return endpoint


def _by_parent(table: str, column: str, spec: KeySpec) -> Callable[[Request], Listing]:
    return lambda request: Listing(table, spec, f"{column} = ?", [request.path_params["id"]])


def _everything(table: str) -> Callable[[Request], Listing]:
    return lambda request: Listing(table, BY_ID)


def _tickets_listed(request: Request) -> Listing:
    """``GET /tickets``: every ticket, or those whose ``external_id`` is the one given (Zendesk's List Tickets
    filter, which an integration uses to find the ticket it made)."""
    external_id = request.query_params.get("external_id")
    if external_id is None:
        return Listing("tickets", BY_ID)
    return Listing("tickets", BY_ID, "external_id = ?", (external_id,))


def _users_found(request: Request) -> Listing:
    where, params = user_search(request.query_params)
    return Listing("users", BY_ID, where, params)


# The seed's groups (crmgraph.demo.seed.ticket_projection.GROUPS), as Zendesk's groups API lists them.
GROUPS = ((20_000_001, "First line"), (20_000_002, "Billing"), (20_000_003, "Logistics"))
GROUPS_SINCE = "2020-01-01T00:00:00Z"


async def _groups(request: Request) -> Response:
    """``GET /api/v2/groups``: every group (the demo's three fit one page)."""
    groups = [{"id": number, "url": f"{request.base_url}api/v2/groups/{number}.json", "name": name,
               "description": "", "default": number == GROUPS[0][0], "deleted": False, "is_public": True,
               "created_at": GROUPS_SINCE, "updated_at": GROUPS_SINCE} for number, name in GROUPS]  # fmt: skip
    return json_response({"groups": groups, "next_page": None, "previous_page": None, "count": len(groups)})


def _routes(path: str, endpoint: Endpoint, method: str = "GET") -> list[Route]:
    """The route and its ``.json`` twin: Zendesk clients use both spellings."""
    return [Route(path, endpoint, methods=[method]), Route(f"{path}.json", endpoint, methods=[method])]


async def _unknown_endpoint(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return json_response(error_body("MethodNotAllowed", "This endpoint does not take that method"), 405)
    return json_response(error_body("InvalidEndpoint", "Not found"), exc.status_code)


def build_ticket_api(db_path: Path, email: str, api_token: str, webhooks: WebhookHub | None = None) -> Starlette:
    """The product app (without ``/_control``, which :func:`crmgraph.demo.instruments.instrument` adds);
    changes are announced through ``webhooks`` (a hub of its own when none is given)."""
    api = TicketApi(connect(db_path))
    ensure_schema(api.conn)  # where the demo keeps when a write solved a ticket
    hub = webhooks or WebhookHub(ZENDESK_WIRE)
    writes = TicketWrites(api.conn, hub, email)
    v2 = "/api/v2"
    write_routes = [
        *_routes(f"{v2}/tickets", writes.create, "POST"),
        *_routes(f"{v2}/tickets/{{id:int}}", writes.update, "PUT"),
    ]
    routes = [
        *write_routes,
        *_routes(
            f"{v2}/incremental/tickets/cursor",
            cursor_export(api.conn, "tickets", ticket_record, side_loads_metrics=True),
        ),
        *_routes(f"{v2}/ticket_metrics", api.ticket_metrics),
        *_routes(f"{v2}/ticket_metrics/{{id:int}}", api.ticket_metric),
        *_routes(f"{v2}/tickets/{{id:int}}/metrics", api.ticket_metric),
        *_routes(f"{v2}/incremental/users/cursor", cursor_export(api.conn, "users", user_record)),
        *_routes(f"{v2}/incremental/organizations", time_export(api.conn, "organizations", organization_record)),
        *_routes(f"{v2}/users/search", api.listing(USERS, _users_found)),
        *_routes(f"{v2}/search/export", search_export(api.conn)),
        *_routes(f"{v2}/groups", _groups),
    ]
    for collection in (TICKETS, USERS, ORGANIZATIONS):
        base = f"{v2}/{collection.table}"
        listed = _tickets_listed if collection is TICKETS else _everything(collection.table)
        routes += [
            *_routes(f"{base}/show_many", api.show_many(collection)),
            *_routes(f"{base}/{{id:int}}", api.show(collection)),
            *_routes(base, api.listing(collection, listed)),
        ]
    routes += [
        *_routes(
            f"{v2}/organizations/{{id:int}}/tickets",
            api.listing(TICKETS, _by_parent("tickets", "organization_id", BY_ID), parent="organizations"),
        ),
        *_routes(
            f"{v2}/users/{{id:int}}/tickets/requested",
            api.listing(TICKETS, _by_parent("tickets", "requester_id", BY_ID), parent="users"),
        ),
        *_routes(
            f"{v2}/tickets/{{id:int}}/comments",
            api.listing(COMMENTS, _by_parent("comments", "ticket_id", BY_CREATED), parent="tickets"),
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequireApiToken, email=email, api_token=api_token)],
        exception_handlers={ApiError: api_error_response, HTTPException: _unknown_endpoint},
    )
    app.state.store = api.conn
    app.state.webhooks = hub
    app.state.write_routes = frozenset(f"{next(iter(r.methods or ()))} {r.path}" for r in write_routes)
    return app
