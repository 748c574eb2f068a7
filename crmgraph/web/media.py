"""Which media type a GraphQL answer is written in, from the request's ``Accept`` header.

GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/#sec-Accept) gives two:
``application/graphql-response+json``, whose status codes say whether the request was valid (4xx when it
was not), and ``application/json``, the legacy one, answered 200 whenever GraphQL ran at all. "If the
client does not supply an Accept header, the server SHOULD treat the request as if it had
``Accept: application/json``"; a wildcard is answered with ``application/json`` too, since a client that
names no GraphQL media type may not know the newer one's status codes.
"""

from __future__ import annotations

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
SUPPORTED = f"{GRAPHQL_RESPONSE}, {JSON}"


def _ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            ranges.append((media.lower(), quality))
    return ranges


def negotiate(accept: str | None) -> str | None:
    """The media type to answer with, or None when the client accepts neither (406)."""
    if accept is None or not accept.strip():
        return JSON
    best: tuple[float, int, str] | None = None
    for media, quality in _ranges(accept):
        if quality <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            candidate = (quality, 2, GRAPHQL_RESPONSE)  # named explicitly: preferred on a tie
        elif media == JSON:
            candidate = (quality, 1, JSON)
        elif media in ("*/*", "application/*"):
            candidate = (quality, 0, JSON)
        else:
            continue
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best is not None else None
