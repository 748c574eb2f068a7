"""The control plane of a simulated system: request stats, fault injection, and ``/_control``.

``instrument(product_app, ...)`` wraps a system's Starlette app. Requests under ``/_control`` go to the
control API; every other request is counted by route template and final status, then passes through the
active :class:`~crmgraph.demo.faults.FaultPlan` before (maybe) reaching the product app.

Control API (not part of the imitated product):

- ``GET  /_control/stats``   requests received since the last reset, by endpoint and status;
- ``POST /_control/reset``   zero the stats;
- ``GET  /_control/faults``  the active fault plan;
- ``POST /_control/faults``  replace it (``{}`` clears every fault);
- ``/_control/webhooks``     subscriptions to the system's change notifications (:mod:`crmgraph.demo.webhooks`).

A product names its write routes in ``app.state.write_routes`` (``"PATCH /route/template"`` labels), and a
handler that committed a change says how many records it wrote with :func:`note_write`: the stats count
committed writes apart from requests, so a test can tell "one request" from "one upstream write", and a
fault plan can aim at writes.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from crmgraph.demo.faults import FaultInjector, FaultPlan, MalformedKind
from crmgraph.demo.wire import AbortConnection, ASGIApp, Message, Receive, Scope, Send, TruncateBody

if TYPE_CHECKING:
    from crmgraph.demo.webhooks import WebhookHub

# Builds the product's own error answer: (status, retry_after seconds or None) -> Response.
ErrorResponder = Callable[[int, int | None], Response]

HTML_ERROR_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    b"</center><hr><center>nginx</center></body></html>"
)


WRITES_KEY = "crmgraph.demo.writes"  # in the ASGI scope: records committed by this request


def note_write(scope: Scope, records: int) -> None:
    """Called by a product handler once its change is committed: ``records`` were created or changed."""
    scope[WRITES_KEY] = scope.get(WRITES_KEY, 0) + records


def json_response(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, headers=headers, media_type="application/json")


def parse_fault_plan(raw: bytes) -> FaultPlan | Response:
    """The plan in a ``POST /_control/faults`` body, or a 422 answer naming every field at fault."""
    try:
        return FaultPlan.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
            for err in exc.errors(include_url=False)
        ]
        return json_response({"error": "invalid fault plan", "problems": problems}, status=422)


class RequestStats:
    """Counts requests by ``"METHOD /route/template"`` and final status (or ``reset`` / ``truncated``)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.since = datetime.now(UTC)
        self.counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.writes: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def record(self, endpoint: str, outcome: str) -> None:
        self.counts[endpoint][outcome] += 1

    def record_write(self, endpoint: str, records: int, answered: bool) -> None:
        """A committed write: ``answered`` is False when a fault kept its answer from the client."""
        counter = self.writes[endpoint]
        counter["committed"] += 1
        counter["records"] += records
        if not answered:
            counter["unanswered"] += 1

    def snapshot(self, system: str) -> dict[str, object]:
        by_endpoint = {
            endpoint: {"total": outcomes.total(), "by_status": dict(sorted(outcomes.items()))}
            for endpoint, outcomes in sorted(self.counts.items())
        }
        return {
            "system": system,
            "since": self.since.isoformat(),
            "total": sum(outcomes.total() for outcomes in self.counts.values()),
            "by_endpoint": by_endpoint,
            "writes": {
                "committed": sum(c["committed"] for c in self.writes.values()),
                "records": sum(c["records"] for c in self.writes.values()),
                "by_endpoint": {
                    endpoint: {key: counter[key] for key in ("committed", "records", "unanswered")}
                    for endpoint, counter in sorted(self.writes.items())
                },
            },
        }


def endpoint_label(app: Starlette, scope: Scope) -> str:
    """The route template a request matches, so that ``/tickets/1`` and ``/tickets/2`` count together."""
    route = matching_route(app, scope)
    return f"{scope['method']} {route.path if route else '(no route)'}"


def matching_route(app: Starlette, scope: Scope) -> Route | None:
    for route in app.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL and isinstance(route, Route):
            return route
    return None


# A timer of the event loop fires at the poller's next whole millisecond, so a plain sleep ends up to a
# millisecond late. The last stretch of a wait is spent yielding to the loop instead.
_TIMER_SLACK_S = 0.0015


async def _until(moment: float) -> None:
    """Return at ``moment`` (the loop's clock), to a tenth of a millisecond rather than to one.

    The fault plan's latency is the system's response time: the answer leaves that long after the request
    arrived, the simulated system's own work included. Added on top, that work (on one core shared by every
    simulated system) and the timer's lateness made a 20 ms latency cost a client 21.5 to 22 ms.
    """
    loop = asyncio.get_running_loop()
    # A deliberate wait on the clock (no event to wait for), its last stretch in turns of the loop.
    while (left := moment - loop.time()) > 0:  # noqa: ASYNC110
        await asyncio.sleep(left - _TIMER_SLACK_S if left > _TIMER_SLACK_S else 0)


class Instrumented:
    """The ASGI app a simulated system actually serves."""

    def __init__(
        self, product: Starlette, system: str, error_responder: ErrorResponder, webhooks: WebhookHub | None = None
    ) -> None:
        self.product = product
        self.system = system
        self.error_responder = error_responder
        self.webhooks = webhooks
        self.write_routes: frozenset[str] = getattr(product.state, "write_routes", frozenset())
        self.stats = RequestStats()
        self.faults = FaultInjector()
        self.control = Starlette(
            routes=[
                Route("/_control/stats", self._stats, methods=["GET"]),
                Route("/_control/reset", self._reset, methods=["POST"]),
                Route("/_control/faults", self._get_faults, methods=["GET"]),
                Route("/_control/faults", self._set_faults, methods=["POST"]),
                *(webhooks.routes() if webhooks is not None else []),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.product(scope, receive, send)
            return
        if scope["path"].startswith("/_control"):
            await self.control(scope, receive, send)
            return
        await self._product_request(scope, receive, send)

    async def _product_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = matching_route(self.product, scope)
        endpoint = f"{scope['method']} {route.path if route else '(no route)'}"
        is_write = endpoint in self.write_routes
        faults = self.faults
        if is_write and faults.drops_write():
            await self._dropped_write(endpoint, scope, receive)
            return
        if not faults.applies(is_write):
            await self._undisturbed(endpoint, scope, receive, send)
            return
        if faults.plan.down:
            self.stats.record(endpoint, "reset")
            raise AbortConnection
        retry_after = faults.retry_after()
        loop = asyncio.get_running_loop()
        answer_at = loop.time() + faults.delay_s()
        status_seen: list[int] = []

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
                await _until(answer_at)
            await send(message)

        try:
            if retry_after is not None:
                await self.error_responder(429, retry_after)(scope, receive, counting_send)
            elif faults.fails():
                await self.error_responder(500, None)(scope, receive, counting_send)
            elif (kind := faults.malformation()) is not None:
                await self._malformed(kind, scope, receive, counting_send)
            else:
                await self.product(scope, receive, counting_send)
        except TruncateBody:
            self.stats.record(endpoint, "truncated")
            self._count_write(endpoint, scope, answered=False)
            raise
        self.stats.record(endpoint, str(status_seen[0]) if status_seen else "no_response")
        self._count_write(endpoint, scope, answered=True)

    def _count_write(self, endpoint: str, scope: Scope, answered: bool) -> None:
        records = scope.get(WRITES_KEY)
        if records is not None:
            self.stats.record_write(endpoint, records, answered)

    async def _undisturbed(self, endpoint: str, scope: Scope, receive: Receive, send: Send) -> None:
        status_seen: list[int] = []

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
            await send(message)

        await self.product(scope, receive, counting_send)
        self.stats.record(endpoint, str(status_seen[0]) if status_seen else "no_response")
        self._count_write(endpoint, scope, answered=True)

    async def _dropped_write(self, endpoint: str, scope: Scope, receive: Receive) -> None:
        """Carry the write out, then lose its answer: the client cannot know whether it happened."""

        async def discard(message: Message) -> None:
            return None

        await self.product(scope, receive, discard)
        self.stats.record(endpoint, "dropped")
        self._count_write(endpoint, scope, answered=False)
        if self.faults.plan.write_drop_mode == "hang":
            # Silent until the client gives up (its timeout), then reset as a dead middlebox would.
            await asyncio.sleep(self.faults.plan.write_hang_s)
        raise AbortConnection

    async def _malformed(self, kind: MalformedKind, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer with a broken version of what the product would have said."""
        if kind is MalformedKind.HTML_PAGE:
            page = Response(HTML_ERROR_PAGE, status_code=502, media_type="text/html")
            await page(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.product(scope, receive, capture)
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if kind is MalformedKind.CUT_TRANSFER:
            headers.append((b"content-length", str(max(len(body), 2)).encode()))
            await send({"type": "http.response.start", "status": start.get("status", 200), "headers": headers})
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            raise TruncateBody
        broken = body[: len(body) // 2] if kind is MalformedKind.TRUNCATED_JSON else b'{"results": [<!-- oops'
        headers.append((b"content-length", str(len(broken)).encode()))
        await send({"type": "http.response.start", "status": start.get("status", 200), "headers": headers})
        await send({"type": "http.response.body", "body": broken})

    async def _stats(self, request: Request) -> Response:
        snapshot = self.stats.snapshot(self.system)
        if self.webhooks is not None:
            snapshot["webhooks"] = self.webhooks.summary()
        return json_response(snapshot)

    async def _reset(self, request: Request) -> Response:
        self.stats.reset()
        if self.webhooks is not None:
            self.webhooks.reset()
        return json_response({"reset": True, "since": self.stats.since.isoformat()})

    async def _get_faults(self, request: Request) -> Response:
        return json_response(self.faults.plan.model_dump(mode="json"))

    async def _set_faults(self, request: Request) -> Response:
        plan = parse_fault_plan(await request.body())
        if isinstance(plan, Response):
            return plan
        self.faults.set(plan)
        return json_response(plan.model_dump(mode="json"))


def instrument(
    product: Starlette, system: str, error_responder: ErrorResponder, webhooks: WebhookHub | None = None
) -> ASGIApp:
    return Instrumented(product, system, error_responder, webhooks)
