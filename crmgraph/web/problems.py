"""Refusals of a request at the HTTP layer, and the JSON body they are answered with.

The body has the shape of a GraphQL response without ``data`` (the GraphQL-over-HTTP specification's
answer to a request error), so that a GraphQL client shows the message::

    {"errors": [{"message": "...", "extensions": {"code": "BODY_TOO_LARGE", "part": "body", "limit": 1048576}}]}

``part`` names the part of the request at fault (``body``, ``headers``, ``query``, ``variables``, ...);
``expected`` says what would have been accepted; ``limit`` is the configured value a request exceeded.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import Response

from crmgraph.policy.principal import Unauthenticated

JSON = "application/json"


class HttpRefusal(Exception):
    """A request refused before (or instead of) GraphQL execution, with the HTTP status to answer."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        part: str,
        expected: str | None = None,
        limit: int | float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.part = part
        self.expected = expected
        self.limit = limit
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        extensions: dict[str, Any] = {"code": self.code, "part": self.part}
        if self.expected is not None:
            extensions["expected"] = self.expected
        if self.limit is not None:
            extensions["limit"] = self.limit
        return orjson.dumps({"errors": [{"message": self.message, "extensions": extensions}]})

    def response(self, media_type: str = JSON, *, close: bool = False) -> Response:
        """The answer, as a Starlette response; ``close`` ends the connection after it (the rest of the
        request was not read)."""
        headers = dict(self.headers)
        if close:
            headers["connection"] = "close"
        return Response(self.body(), status_code=self.status, media_type=media_type, headers=headers)

    def raw(self, media_type: str = JSON) -> bytes:
        """The whole HTTP/1.1 answer as bytes, for the connection layer (no ASGI app runs there); it always
        closes the connection."""
        body = self.body()
        head = [
            f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}",
            f"content-type: {media_type}",
            f"content-length: {len(body)}",
            "connection: close",
            *(f"{name}: {value}" for name, value in self.headers.items()),
        ]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


CREDENTIALS = "Authorization: Bearer <JWT>, or an API key (Authorization: ApiKey cg_..., X-Api-Key)"


def unauthenticated(refused: Unauthenticated) -> HttpRefusal:
    """The 401 every endpoint answers a request whose credentials failed (RFC 6750's challenge included)."""
    return HttpRefusal(
        401,
        "UNAUTHENTICATED",
        f"Authentication failed: {refused.reason}.",
        part="headers.authorization",
        expected=CREDENTIALS,
        headers={"WWW-Authenticate": refused.challenge()},
    )
