"""A small purpose-built REST API for the ``rest`` adapter's tests, served for real on loopback.

Mautic-shaped where Mautic is the model (``{"total": "23", "contacts": {"47": {...}}}``, ``start``/``limit``,
``search=ids:1,2,3``, ``where[0][col]=dateModified&where[0][expr]=gte&where[0][val]=...``, campaign membership
rows with ``lead_id``), plus the other paging styles: page number (``/paged``), cursor (``/cursored``) and an
RFC 8288 ``Link`` header (``/linked``). Every route sits under ``/{auth}/``, which says how it must be signed:
``open``, ``bearer``, ``basic``, ``header`` (X-Api-Key), ``query`` (?api_key=) or ``oauth`` (a token from
``POST /oauth/token``, short-lived, counted). ``/_stats`` counts requests by route.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN, USER, PASSWORD, KEY = "s3cret-token", "api", "pa55", "k-123"
CLIENT_ID, CLIENT_SECRET = "crmgraph", "client-secret"
COUNTRIES = ["Germany", "France", "United Kingdom", "Spain"]
CONTACTS = 23


@dataclass
class State:
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    token_lifetime_s: int = 3600
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    tokens_issued: int = 0
    broken: set[int] = field(default_factory=set)  # contacts answered with an unreadable dateModified

    def reset(self) -> None:
        self.contacts = {i: _contact(i) for i in range(1, CONTACTS + 1)}
        self.calls.clear()
        self.tokens.clear()
        self.tokens_issued, self.token_lifetime_s, self.broken = 0, 3600, set()


def _contact(i: int) -> dict[str, Any]:
    return {
        "id": i, "name": f"Lead {i}", "email": f"lead{i}@example.com" if i % 5 else "",
        "country": COUNTRIES[i % 4], "points": str(i * 3), "stage": "MQL" if i % 2 else None,
        "dateAdded": f"2024-01-{i:02d} 09:00:00", "dateModified": f"2024-02-{i:02d} 10:30:00",
        "tags": [{"tag": "newsletter"}] + ([{"tag": "vip"}] if i % 7 == 0 else []),
    }  # fmt: skip


def _authorized(state: State, request: Request, kind: str) -> bool:
    header = request.headers.get("authorization", "")
    if kind == "open":
        return True
    if kind == "bearer":
        return header == f"Bearer {TOKEN}"
    if kind == "basic":
        return header == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    if kind == "header":
        return request.headers.get("x-api-key") == KEY
    if kind == "query":
        return request.query_params.get("api_key") == KEY
    if kind == "oauth":
        expiry = state.tokens.get(header.removeprefix("Bearer "))
        return expiry is not None and time.monotonic() < expiry
    return False


def build_rest_api(state: State) -> Starlette:
    def shown(i: int) -> dict[str, Any]:
        contact = dict(state.contacts[i])
        return contact | ({"dateModified": "last tuesday"} if i in state.broken else {})

    def selected(request: Request) -> list[int]:
        params = request.query_params
        chosen = sorted(state.contacts)
        if (search := params.get("search", "")).startswith("ids:"):
            wanted = {int(x) for x in search[4:].split(",") if x.isdigit()}
            chosen = [i for i in chosen if i in wanted]
        if params.get("where[0][col]") == "dateModified" and params.get("where[0][expr]") == "gte":
            since = params["where[0][val]"]
            chosen = sorted((i for i in chosen if state.contacts[i]["dateModified"] >= since),
                            key=lambda i: (state.contacts[i]["dateModified"], i))  # fmt: skip
        return chosen

    async def contacts(request: Request) -> Response:  # Mautic: start/limit, keyed object, a string total
        chosen = selected(request)
        start, limit = int(request.query_params.get("start", 0)), min(int(request.query_params.get("limit", 30)), 30)
        page = chosen[start : start + limit]
        return JSONResponse({"total": str(len(chosen)), "contacts": {str(i): shown(i) for i in page} or []})

    async def contact(request: Request) -> Response:
        i = request.path_params["id"]
        if i not in state.contacts:
            return JSONResponse({"errors": [{"message": "Item was not found.", "code": 404}]}, 404)
        return JSONResponse({"contact": shown(i)})

    async def members(request: Request) -> Response:  # campaign membership: rows naming the lead
        campaign = request.path_params["id"]
        if campaign not in (1, 2):
            return JSONResponse({"errors": [{"message": "Item was not found.", "code": 404}]}, 404)
        rows = [{"lead_id": str(i), "campaign_id": str(campaign)} for i in sorted(state.contacts) if i % campaign == 0]
        start, limit = int(request.query_params.get("start", 0)), int(request.query_params.get("limit", 30))
        return JSONResponse({"total": str(len(rows)), "contacts": rows[start : start + limit]})

    async def paged(request: Request) -> Response:  # page number, a numeric total
        chosen = sorted(state.contacts)
        page, size = int(request.query_params.get("page", 1)), int(request.query_params.get("per_page", 10))
        return JSONResponse({"data": [shown(i) for i in chosen[(page - 1) * size : page * size]],
                             "total_count": len(chosen)})  # fmt: skip

    async def cursored(request: Request) -> Response:  # an opaque cursor in the answer
        after, size = int(request.query_params.get("after", 0)), int(request.query_params.get("size", 10))
        page = [i for i in sorted(state.contacts) if i > after][:size]
        more = bool(page) and page[-1] < max(state.contacts)
        return JSONResponse({"items": [shown(i) for i in page], "next": str(page[-1]) if more else None})

    async def linked(request: Request) -> Response:  # RFC 8288 Link: rel="next"
        page, size = int(request.query_params.get("page", 1)), int(request.query_params.get("per_page", 10))
        chosen = sorted(state.contacts)
        body = [shown(i) for i in chosen[(page - 1) * size : page * size]]
        headers = {}
        if page * size < len(chosen):
            url = request.url.include_query_params(page=page + 1, per_page=size)
            headers["Link"] = f'<{url}>; rel="next", <{request.url.include_query_params(page=1)}>; rel="first"'
        return JSONResponse(body, headers=headers)

    async def touches(request: Request) -> Response:  # many parents in one call: ?contacts=1,2,3
        wanted = [int(x) for x in request.query_params.get("contacts", "").split(",") if x.isdigit()]
        return JSONResponse({"events": [
            {"id": f"{i}-{n}", "contact_id": i, "type": "email.sent" if n else "form.submitted",
             "timestamp": 1_700_000_000_000 + i * 1000 + n, "campaign": n or None}
            for i in wanted if i in state.contacts for n in range(i % 3)
        ]})  # fmt: skip

    async def create(request: Request) -> Response:
        body = (await request.json()).get("contact", {})
        return _save(state, max(state.contacts) + 1, body, 201)

    async def edit(request: Request) -> Response:
        i = request.path_params["id"]
        if i not in state.contacts:
            return JSONResponse({"errors": [{"message": "Item was not found.", "code": 404}]}, 404)
        return _save(state, i, state.contacts[i] | (await request.json()).get("contact", {}), 200)

    async def token(request: Request) -> Response:
        form = {name: values[0] for name, values in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "client_credentials" or (form.get("client_id"), form.get("client_secret")) != (
            CLIENT_ID, CLIENT_SECRET,
        ):  # fmt: skip
            return JSONResponse({"error": "invalid_client"}, 401)
        issued = secrets.token_hex(8)
        state.tokens[issued] = time.monotonic() + state.token_lifetime_s
        state.tokens_issued += 1
        return JSONResponse({"access_token": issued, "token_type": "Bearer", "expires_in": state.token_lifetime_s})

    async def stats(request: Request) -> Response:
        return JSONResponse(dict(state.calls))

    api = [
        Route("/api/contacts", contacts), Route("/api/contacts/new", create, methods=["POST"]),
        Route("/api/contacts/{id:int}", contact), Route("/api/contacts/{id:int}/edit", edit, methods=["PATCH"]),
        Route("/api/campaigns/{id:int}/contacts", members), Route("/api/paged", paged),
        Route("/api/cursored", cursored), Route("/api/linked", linked), Route("/api/touches", touches),
    ]  # fmt: skip
    routes = [Route("/oauth/token", token, methods=["POST"]), Route("/_stats", stats)]
    for route in api:
        routes.append(Route("/{auth}" + route.path, _guarded(state, route), methods=list(route.methods or ["GET"])))
    return Starlette(routes=routes)


def _guarded(state: State, route: Route) -> Any:
    async def endpoint(request: Request) -> Response:
        if not _authorized(state, request, request.path_params["auth"]):
            return JSONResponse({"error": "unauthorized"}, 401)
        state.calls[f"{request.method} {route.path}"] += 1
        response: Response = await route.endpoint(request)
        return response

    return endpoint


def _save(state: State, i: int, body: dict[str, Any], status: int) -> Response:
    problems = []
    if "@" not in str(body.get("email") or "@"):
        problems.append({"field": "email", "message": "is not a valid e-mail address"})
    if not body.get("name"):
        problems.append({"field": "name", "message": "is required"})
    if problems:
        return JSONResponse({"errors": problems}, 422)
    stamp = "2024-03-01 12:00:00"
    state.contacts[i] = _contact(i) | {"dateModified": stamp} | {k: v for k, v in body.items() if k != "id"}
    return JSONResponse({"contact": state.contacts[i]}, status)
