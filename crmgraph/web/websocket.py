"""GraphQL over WebSocket (graphql-transport-ws): who the connection is, decided at ``connection_init``.

Browsers cannot set headers on a WebSocket upgrade, so the credentials may come in the ``connection_init``
payload, as graphql-transport-ws clients send them (``{"Authorization": "Bearer ..."}`` or
``{"headers": {"Authorization": ...}}``); without them, the upgrade request's own headers count (other
clients). The principal is authenticated once, by the same :class:`~crmgraph.policy.authenticate.Authenticator`
as HTTP requests; a connection it refuses is closed with 4403 before any operation runs, and the refusal
is recorded in the audit trail. The principal's roles are decided once for the connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.websockets import WebSocket

from crmgraph.context import RequestContext
from crmgraph.policy.principal import Principal
from crmgraph.policy.roles import PolicyConfig, decide

# The credentials a connection_init payload may carry, as header names (lower case).
CREDENTIAL_HEADERS = ("authorization", "x-api-key")


def credentials_of(params: Mapping[str, Any] | None, upgrade_headers: Mapping[str, str]) -> dict[str, str]:
    """The headers to authenticate a connection by: the payload's credentials when it has any, else the
    upgrade request's."""
    given: dict[str, str] = {}
    for source in (params or {}, (params or {}).get("headers") or {}):
        if not isinstance(source, Mapping):
            continue
        for name, value in source.items():
            if isinstance(name, str) and name.lower() in CREDENTIAL_HEADERS and isinstance(value, str):
                given[name.lower()] = value
    if given:
        return given
    return {name: upgrade_headers[name] for name in CREDENTIAL_HEADERS if name in upgrade_headers}


def admit(context: RequestContext, principal: Principal, policy: PolicyConfig) -> None:
    """The connection's principal and access, for every operation it runs."""
    context.principal = principal
    context.access = decide(principal, policy)
    context.actor = principal.subject
    context.explain = False


def closer(websocket: WebSocket) -> Callable[[int, str], Awaitable[None]]:
    async def close(code: int, reason: str) -> None:
        await websocket.close(code=code, reason=reason)

    return close
