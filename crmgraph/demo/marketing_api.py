"""The simulated marketing automation system: a subset of Mautic's REST API over the marketing store.

Reads (every path under ``/api``; lists are ``{"total": "<n>", "<plural>": {"<id>": {...}, ...}}``, the
total a string and the records keyed by id in the order asked; parameters in :mod:`marketing_query`):

- ``GET /api/contacts`` and ``/api/contacts/{id}``; ``?minimal=true`` leaves out the field groups (``fields``
  then holds ``all`` only);
- ``GET /api/contacts/{id}/companies``, ``/campaigns``, ``/segments`` (the contact's memberships);
- ``GET /api/companies`` and ``/api/companies/{id}``; ``GET /api/campaigns`` and ``/api/campaigns/{id}``
  (each with the demo's ``budget``: Mautic keeps no cost); ``GET /api/campaigns/{id}/contacts`` (paged by
  ``start``/``limit``, a list of memberships); ``GET /api/segments``, ``/api/emails``, ``/api/stages``,
  ``/api/users`` (the owners: the CRM's owners under the same e-mail) and each by id;
- ``GET /api/contacts/activity`` and ``/api/contacts/{id}/activity``: the timeline (:mod:`marketing_timeline`).

Writes (contacts, campaign membership) are in :mod:`marketing_writes`. Every request needs HTTP basic auth
of a Mautic user; errors are ``{"errors": [{"code", "message", "details"}]}`` (:mod:`marketing_errors`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from crmgraph.demo.instruments import json_response
from crmgraph.demo.marketing_errors import (
    ApiError,
    api_error_response,
    marketing_error,
    not_found,
    render_error,
    unauthorized,
    unknown_endpoint,
)
from crmgraph.demo.marketing_query import MAX_SQLITE_INTEGER, ListSpec, parse_query
from crmgraph.demo.marketing_records import (
    Catalog,
    campaign_record,
    company_record,
    contact_record,
    email_record,
    segment_record,
)
from crmgraph.demo.marketing_specs import CAMPAIGNS, COMPANIES, CONTACTS, EMAILS, SEGMENTS, STAGES
from crmgraph.demo.marketing_timeline import Timeline
from crmgraph.demo.marketing_writes import MarketingWrites
from crmgraph.demo.stores.marketing import connect
from crmgraph.demo.webhook_wires import MAUTIC_WIRE
from crmgraph.demo.webhooks import WebhookHub

__all__ = ["build_marketing_api", "marketing_error"]

Endpoint = Callable[[Request], Awaitable[Response]]
Render = Callable[[list[sqlite3.Row], Request], list[dict[str, object]]]


class RequireBasicAuth:
    """Refuse every request without the Mautic user's basic auth, before routing (as Mautic does)."""

    def __init__(self, app: ASGIApp, user: str, password: str) -> None:
        self.app = app
        self.expected = f"{user}:{password}".encode()

    def _authorized(self, scope: Scope) -> bool:
        scheme, _, encoded = dict(scope["headers"]).get(b"authorization", b"").partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self.expected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            await render_error(unauthorized())(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _minimal(request: Request) -> bool:
    return request.query_params.get("minimal", "").lower() in ("1", "true")


class MarketingApi:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.catalog = Catalog.read(conn)

    def row(self, table: str, record_id: int) -> sqlite3.Row:
        found = None
        if record_id <= MAX_SQLITE_INTEGER:
            found = self.conn.execute(f"SELECT * FROM {table} WHERE id = ?", (record_id,)).fetchone()
        if found is None:
            raise not_found()
        row: sqlite3.Row = found
        return row

    def contacts(self, rows: list[sqlite3.Row], request: Request) -> list[dict[str, object]]:
        """Contacts with their primary companies, found in one query for the whole page."""
        ids = [row["id"] for row in rows]
        marks = ", ".join("?" * len(ids))
        primary = {
            contact_id: (company_id, name)
            for contact_id, company_id, name in self.conn.execute(
                "SELECT cc.contact_id, c.id, c.name FROM contact_companies cc JOIN companies c ON c.id = cc.company_id"
                f" WHERE cc.is_primary = 1 AND cc.contact_id IN ({marks})",
                ids,
            )
        }
        minimal = _minimal(request)
        return [contact_record(row, self.catalog, primary.get(row["id"]), minimal=minimal) for row in rows]

    def listing(self, key: str, spec: ListSpec, render: Render) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            query = parse_query(request.query_params, spec)
            (total,) = self.conn.execute(
                f"SELECT count(*) FROM {spec.table} WHERE {query.where}", query.args
            ).fetchone()
            rows = self.conn.execute(
                f"SELECT * FROM {spec.table} WHERE {query.where} ORDER BY {query.order} LIMIT ? OFFSET ?",
                [*query.args, query.limit, query.start],
            ).fetchall()
            records = render(rows, request)
            return json_response({"total": str(total), key: {str(r["id"]): r for r in records}})

        return endpoint

    def show(self, key: str, table: str, render: Render) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            (record,) = render([self.row(table, request.path_params["id"])], request)
            return json_response({key: record})

        return endpoint

    async def contact_companies(self, request: Request) -> Response:
        contact = self.row("contacts", request.path_params["id"])
        rows = self.conn.execute(
            "SELECT cc.*, c.name, c.city, c.country FROM contact_companies cc JOIN companies c ON c.id = cc.company_id"
            " WHERE cc.contact_id = ? ORDER BY cc.is_primary DESC, c.id",
            (contact["id"],),
        ).fetchall()
        companies = [
            {
                "company_id": str(r["company_id"]),
                "date_associated": r["date_added"],
                "is_primary": str(r["is_primary"]),
                "companyname": r["name"],
                "companycity": r["city"],
                "companycountry": r["country"],
            }
            for r in rows
        ]
        return json_response({"total": len(companies), "companies": companies})

    async def contact_campaigns(self, request: Request) -> Response:
        contact = self.row("contacts", request.path_params["id"])
        rows = self.conn.execute(
            "SELECT m.*, c.name FROM campaign_leads m JOIN campaigns c ON c.id = m.campaign_id"
            " WHERE m.lead_id = ? ORDER BY c.id",
            (contact["id"],),
        ).fetchall()
        campaigns = {
            str(r["campaign_id"]): {
                "id": r["campaign_id"],
                "name": r["name"],
                "dateAdded": r["date_added"],
                "manuallyRemoved": bool(r["manually_removed"]),
                "manuallyAdded": bool(r["manually_added"]),
                "listMembership": [],
            }
            for r in rows
        }
        return json_response({"total": len(campaigns), "campaigns": campaigns})

    async def contact_segments(self, request: Request) -> Response:
        contact = self.row("contacts", request.path_params["id"])
        rows = self.conn.execute(
            "SELECT m.*, s.name, s.alias FROM segment_leads m JOIN segments s ON s.id = m.segment_id"
            " WHERE m.lead_id = ? ORDER BY s.id",
            (contact["id"],),
        ).fetchall()
        lists = {
            str(r["segment_id"]): {
                "id": r["segment_id"],
                "name": r["name"],
                "alias": r["alias"],
                "dateAdded": r["date_added"],
                "manuallyAdded": bool(r["manually_added"]),
                "manuallyRemoved": False,
            }
            for r in rows
        }
        return json_response({"total": len(lists), "lists": lists})

    async def campaign_contacts(self, request: Request) -> Response:
        campaign = self.row("campaigns", request.path_params["id"])
        query = parse_query(request.query_params, CAMPAIGNS)  # start and limit
        (total,) = self.conn.execute(
            "SELECT count(*) FROM campaign_leads WHERE campaign_id = ?", (campaign["id"],)
        ).fetchone()
        rows = self.conn.execute(
            "SELECT * FROM campaign_leads WHERE campaign_id = ? ORDER BY lead_id LIMIT ? OFFSET ?",
            (campaign["id"], query.limit, query.start),
        ).fetchall()
        contacts = [
            {
                "campaign_id": str(r["campaign_id"]),
                "lead_id": str(r["lead_id"]),
                "date_added": r["date_added"].replace("T", " ")[:19],
                "manually_removed": str(r["manually_removed"]),
                "manually_added": str(r["manually_added"]),
                "date_last_exited": None,
                "rotation": "1",
            }
            for r in rows
        ]
        return json_response({"total": str(total), "contacts": contacts})

    def users(self, rows: list[sqlite3.Row], request: Request) -> list[dict[str, object]]:
        return [self.catalog.user(row["id"]) for row in rows]

    def campaigns(self, rows: list[sqlite3.Row], request: Request) -> list[dict[str, object]]:
        return [campaign_record(row, self.catalog) for row in rows]

    def companies(self, rows: list[sqlite3.Row], request: Request) -> list[dict[str, object]]:
        return [company_record(row, self.catalog) for row in rows]


def _each(render: Callable[[sqlite3.Row], dict[str, object]]) -> Render:
    return lambda rows, request: [render(row) for row in rows]


def _stage(row: sqlite3.Row) -> dict[str, object]:
    return {"id": row["id"], "name": row["name"], "weight": row["weight"], "isPublished": True}


def build_marketing_api(db_path: Path, user: str, password: str, webhooks: WebhookHub | None = None) -> Starlette:
    """The product app (without ``/_control``, which :func:`crmgraph.demo.instruments.instrument` adds);
    changes are announced through ``webhooks`` (a hub of its own when none is given)."""
    api = MarketingApi(connect(db_path))
    hub = webhooks or WebhookHub(MAUTIC_WIRE)
    writes = MarketingWrites(api.conn, api.catalog, hub)
    timeline = Timeline(api.conn)
    write_routes = [
        Route("/api/contacts/new", writes.create, methods=["POST"]),
        Route("/api/contacts/{id:int}/edit", writes.edit, methods=["PATCH", "PUT"]),
        Route("/api/campaigns/{id:int}/contact/{contact_id:int}/add", writes.add_to_campaign, methods=["POST"]),
    ]
    collections: list[tuple[str, str, ListSpec, Render]] = [
        ("contacts", "contact", CONTACTS, api.contacts),
        ("companies", "company", COMPANIES, api.companies),
        ("campaigns", "campaign", CAMPAIGNS, api.campaigns),
        ("lists", "list", SEGMENTS, _each(segment_record)),
        ("emails", "email", EMAILS, _each(email_record)),
        ("stages", "stage", STAGES, _each(_stage)),
        ("users", "user", ListSpec("users", {"id": "id", "email": "email"}, frozenset(), ("email",)), api.users),
    ]
    routes = [
        *write_routes,
        Route("/api/contacts/activity", timeline.everyone),
        Route("/api/contacts/{id:int}/activity", timeline.contact),
        Route("/api/contacts/{id:int}/companies", api.contact_companies),
        Route("/api/contacts/{id:int}/campaigns", api.contact_campaigns),
        Route("/api/contacts/{id:int}/segments", api.contact_segments),
        Route("/api/campaigns/{id:int}/contacts", api.campaign_contacts),
    ]
    for plural, singular, spec, render in collections:
        path = "segments" if plural == "lists" else plural
        routes += [
            Route(f"/api/{path}", api.listing(plural, spec, render)),
            Route(f"/api/{path}/{{id:int}}", api.show(singular, spec.table, render)),
        ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequireBasicAuth, user=user, password=password)],
        exception_handlers={ApiError: api_error_response, HTTPException: unknown_endpoint},
    )
    app.state.store = api.conn
    app.state.webhooks = hub
    app.state.write_routes = frozenset(
        f"{method} {route.path}" for route in write_routes for method in sorted(route.methods or ()) if method != "HEAD"
    )
    return app
