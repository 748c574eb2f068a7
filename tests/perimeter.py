"""The app in front of the demo estate with perimeter settings, asked in-process (httpx's ASGI transport,
lifespan run), so that a test can choose the client's address and run two instances side by side."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt

from crmgraph.app import build_app
from crmgraph.config import Config
from tests.conftest import Estate
from tests.facade import facade_config

SECRET = "perimeter-tests-hs256-secret-0123456789"
ISSUER = "crmgraph-tests"


def token(subject: str, *roles: str) -> dict[str, str]:
    """An ``Authorization`` header for ``subject`` with ``roles``."""
    now = int(time.time())
    claims = {"sub": subject, "roles": list(roles), "iss": ISSUER, "aud": "crmgraph", "iat": now, "exp": now + 600}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


def perimeter_config(estate: Estate, identity_url: str, **sections: dict[str, Any]) -> Config:
    """The tests' facade configuration with ``sections`` merged over it (``server={"production": True}``),
    JWTs signed with :data:`SECRET` accepted, and the anonymous role an admin unless ``auth`` says otherwise."""
    base = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, identity_url)
    raw = base.model_dump(mode="json")
    raw["auth"] = {
        "jwt": {"hs256_secret": SECRET, "issuer": ISSUER, "audience": "crmgraph"},
        "anonymous_role": "admin",
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return Config.model_validate(raw)


@asynccontextmanager
async def asgi_client(config: Config, address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app built from ``config``, its requests coming from ``address``."""
    app = build_app(config)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://facade.test") as client,
    ):
        yield client


def graphql_body(query: str, **extra: Any) -> dict[str, Any]:
    return {"query": query, **extra}


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The one error of a refusal's body."""
    (error,) = response.json()["errors"]
    result: dict[str, Any] = error
    return result
