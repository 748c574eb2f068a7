"""CSRF protection, as Apollo Router and Apollo Server do it: a request a browser could send cross-site
without asking first must prove it was not sent that way.

A browser sends a cross-origin request without a CORS preflight only when it is a "simple" one: GET, or
POST with no ``Content-Type`` or one of ``text/plain``, ``application/x-www-form-urlencoded``,
``multipart/form-data``, and only CORS-safelisted headers (Fetch standard, "CORS-safelisted request
header"). Such a request reaches the server with the user's ambient credentials (cookies of a login proxy
in front of the facade, cached HTTP authentication) whatever the CORS policy says; only reading the answer
is prevented. So a simple request must carry one of :data:`PREFLIGHT_HEADERS`, with any non-empty value:
a header no page can add without a preflight, which the CORS allow-list then decides. POSTs of JSON
(every client's default) pass as they are; GETs need the header. ``Authorization`` is no proof: a browser
attaches cached HTTP authentication on its own.
"""

from __future__ import annotations

from starlette.requests import Request

from crmgraph.web.problems import HttpRefusal

PREFLIGHT_HEADERS = (
    "graphql-require-preflight",
    "x-crmgraph-csrf",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)
SIMPLE_CONTENT_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})


def is_simple(request: Request) -> bool:
    """Whether a browser could have sent ``request`` cross-origin without a preflight."""
    if request.method == "GET" or request.method == "HEAD":
        return True
    content_type = request.headers.get("content-type")
    if content_type is None:
        return True
    return content_type.split(";", 1)[0].strip().lower() in SIMPLE_CONTENT_TYPES


def check_preflight(request: Request) -> None:
    """Refuse a simple request that carries no preflight header (400, ``CSRF_PREFLIGHT_REQUIRED``)."""
    if not is_simple(request):
        return
    headers = request.headers
    if any(headers.get(name, "").strip() for name in PREFLIGHT_HEADERS):
        return
    raise HttpRefusal(
        400,
        "CSRF_PREFLIGHT_REQUIRED",
        "This request could have been sent by another site without the browser asking first; send it with "
        "a `GraphQL-Require-Preflight: 1` header (or POST it as application/json).",
        part="headers",
        expected="a non-empty GraphQL-Require-Preflight, X-Crmgraph-Csrf, Apollo-Require-Preflight or "
        "X-Apollo-Operation-Name header",
    )
