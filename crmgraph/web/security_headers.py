"""Security headers on every HTTP answer of the app, and the Content-Security-Policy of the GraphiQL page.

Every answer (GraphQL, refusals, operator endpoints, assets) gets headers that stop a browser from
sniffing a JSON answer into a script or a page, framing the facade (clickjacking), leaking the URL in a
``Referer``, or embedding the answers in another origin's page; an answer that already names one keeps
its own (the GraphiQL page brings its own CSP). Nothing here costs more than appending a few header
pairs. The connection layer's own refusals (:mod:`crmgraph.web.protocol`: 408, 414, 431) are written
before any app runs and carry none: they are plain JSON and close the connection.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# An API answer is data: it may load nothing, run nothing, and be framed by nobody.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"content-security-policy", API_CSP.encode()),
)

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def page_csp(html: str) -> str:
    """The CSP of a page served with its assets by the facade (GraphiQL): scripts and styles from the
    facade itself and the page's own inline ones (by hash, so nothing injected runs), requests to the
    facade only. Inline style *attributes* are allowed: GraphiQL and CodeMirror position panes with them,
    and a style cannot run code."""
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        hashes[kind].append(f"'sha256-{digest}'")
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' {' '.join(hashes['script'])}".rstrip(),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(pair for pair in HEADERS if pair[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
