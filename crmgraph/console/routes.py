"""The console's routes: the page at ``/``, its assets, and the demo sign-in's two endpoints.

    GET  /                         the console (one page; its views are addressed by the URL's fragment)
    GET  /console/assets/...       its scripts, styles and the vendored Chart.js (installed with the package)
    GET  /console/demo-roles       {"roles": [{role, description}], "unavailable": why-not or null}
    POST /console/demo-token       {"role": "sales_rep"} -> {role, subject, token, claims}; 404 when off

Everything else the console shows it asks ``/graphql`` for, with the signed-in token: it can show nothing
the role could not query itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from crmgraph.config import Config
from crmgraph.console.demo_sign_in import DemoSignIn, DemoSignInUnavailable
from crmgraph.identity.store import IdentityStore
from crmgraph.web.security_headers import page_csp

STATIC_DIR = Path(__file__).parent / "static"
ASSET_PATH = "/console/assets"
MAX_TOKEN_REQUEST = 1024  # {"role": "..."}: anything longer is not a sign-in


def console_routes(config: Config, identity: Callable[[], IdentityStore]) -> list[Route | Mount]:
    """The console's routes for ``config`` (none when ``console.enabled`` is off); ``identity`` gives the
    running identity store (the sales rep's demo token names its busiest owner)."""
    if not config.console.enabled:
        return []
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    headers = {"content-security-policy": page_csp(page), "cache-control": "no-cache"}
    sign_in = DemoSignIn(config, identity)

    async def console_page(request: Request) -> Response:
        return HTMLResponse(page, headers=headers)

    async def demo_roles(request: Request) -> Response:
        roles = [{"role": found.role, "description": found.description} for found in sign_in.roles()]
        return JSONResponse({"roles": roles, "unavailable": sign_in.unavailable()})

    async def demo_token(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_TOKEN_REQUEST:
            return _problem(413, 'the body is too long for a sign-in ({"role": NAME})')
        try:
            role = orjson.loads(body).get("role")
        except (orjson.JSONDecodeError, AttributeError):
            return _problem(400, 'the body must be a JSON object: {"role": NAME}')
        if not isinstance(role, str):
            return _problem(400, '"role" must be the name of a demo role')
        try:
            issued = sign_in.issue(role)
        except DemoSignInUnavailable as exc:
            return _problem(404, str(exc))
        except KeyError:
            offered = ", ".join(found.role for found in sign_in.roles())
            return _problem(400, f"{role!r} is not a demo role here (expected one of: {offered})")
        return JSONResponse(
            {"role": issued.role, "subject": issued.subject, "token": issued.token, "claims": issued.claims},
            headers={"cache-control": "no-store"},
        )

    return [
        Route("/", console_page, methods=["GET"]),
        Route("/console/demo-roles", demo_roles, methods=["GET"]),
        Route("/console/demo-token", demo_token, methods=["POST"]),
        Mount(ASSET_PATH, app=StaticFiles(directory=STATIC_DIR), name="console-assets"),
    ]


def _problem(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)
