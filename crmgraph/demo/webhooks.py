"""Outgoing change notifications of a simulated system: subscriptions, signed deliveries, retries, a log.

The real products call their subscribers back; this hub does the same for the demo systems. A product
route that changed something calls :meth:`WebhookHub.publish` with one event per change; the hub queues
the events for every subscription that wants their kind and returns at once, and one sender task per
subscription POSTs them in order, signed as the imitated product signs (the ``Wire`` it was built with:
HubSpot batches up to 100 events in a JSON array, Zendesk sends one event per request).

A delivery that does not answer 2xx in time is tried again after ``retry_base_s``, doubling each time, up to
``max_attempts``; then it is given up and the sender moves on. Subscriptions are registered and every
attempt is shown through the control API (see :meth:`WebhookHub.routes`); the product never learns of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crmgraph.demo.instruments import json_response

LOG_SIZE = 1_000  # attempts kept for GET /_control/webhooks/deliveries


class SubscriptionRequest(BaseModel):
    """The body of ``POST /_control/webhooks``."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://", description="Where the events are POSTed.")
    secret: str = Field(min_length=1, description="The app secret (HubSpot) or signing secret (Zendesk).")
    events: list[str] = Field(default_factory=list, description="Event kinds wanted; empty means every kind.")
    max_attempts: int = Field(5, ge=1, le=20, description="Tries of one delivery before it is given up.")
    retry_base_s: float = Field(1.0, ge=0, le=300, description="Wait before the second try; doubles after.")
    timeout_s: float = Field(5.0, gt=0, le=60, description="How long one try waits for the subscriber.")


@dataclass(frozen=True)
class Event:
    kind: str  # HubSpot's subscriptionType (contact.creation), Zendesk's type (zen:event-type:ticket.created)
    payload: dict[str, object]


@dataclass
class Subscription:
    id: int
    spec: SubscriptionRequest
    pending: deque[Event] = field(default_factory=deque)
    sender: asyncio.Task[None] | None = None

    def wants(self, kind: str) -> bool:
        return not self.spec.events or kind in self.spec.events

    def public(self) -> dict[str, object]:
        # The secret is write-only, as in the products' own settings pages.
        return {"id": self.id, **self.spec.model_dump(exclude={"secret"}), "pending": len(self.pending)}


@dataclass(frozen=True)
class Wire:
    """How one product calls a subscriber: the events per request, the body, and the signing headers."""

    batch_limit: int
    # (events of this request, subscription, attempt number starting at 1) -> body
    encode: Callable[[list[Event], Subscription, int], bytes]
    # (secret, method, url, body) -> headers, signed when sent (a retry is signed afresh)
    sign: Callable[[str, str, str, bytes], dict[str, str]]


class WebhookHub:
    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.subscriptions: dict[int, Subscription] = {}
        self._ids = itertools.count(1)
        self._client: httpx.AsyncClient | None = None
        self.reset()

    def reset(self) -> None:
        """Zero the counters and the log (``POST /_control/reset``); subscriptions stay."""
        self.counts: Counter[str] = Counter()
        self.log: deque[dict[str, object]] = deque(maxlen=LOG_SIZE)

    def publish(self, events: list[Event]) -> None:
        """Queue ``events`` for every subscription that wants them; deliveries happen in the background."""
        self.counts["events"] += len(events)
        for subscription in self.subscriptions.values():
            wanted = [event for event in events if subscription.wants(event.kind)]
            if not wanted:
                continue
            subscription.pending.extend(wanted)
            if subscription.sender is None or subscription.sender.done():
                subscription.sender = asyncio.get_running_loop().create_task(self._send_all(subscription))

    async def _send_all(self, subscription: Subscription) -> None:
        while subscription.pending:
            count = min(self.wire.batch_limit, len(subscription.pending))
            batch = [subscription.pending.popleft() for _ in range(count)]
            await self._deliver(subscription, batch)

    async def _deliver(self, subscription: Subscription, batch: list[Event]) -> None:
        spec = subscription.spec
        for attempt in range(1, spec.max_attempts + 1):
            if subscription.id not in self.subscriptions:
                return  # unsubscribed meanwhile
            if await self._attempt(subscription, batch, attempt):
                self.counts["delivered"] += 1
                return
            if attempt < spec.max_attempts:
                await asyncio.sleep(spec.retry_base_s * 2 ** (attempt - 1))
        self.counts["given_up"] += 1

    async def _attempt(self, subscription: Subscription, batch: list[Event], attempt: int) -> bool:
        spec = subscription.spec
        body = self.wire.encode(batch, subscription, attempt)
        headers = {"Content-Type": "application/json", **self.wire.sign(spec.secret, "POST", spec.url, body)}
        if self._client is None:
            self._client = httpx.AsyncClient()
        started = time.monotonic()
        outcome: int | str
        try:
            response = await self._client.post(spec.url, content=body, headers=headers, timeout=spec.timeout_s)
            outcome = response.status_code
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        ok = isinstance(outcome, int) and 200 <= outcome < 300
        self.counts["attempts"] += 1
        self.counts["ok" if ok else "failed_attempts"] += 1
        self.log.append(
            {
                "subscription": subscription.id,
                "attempt": attempt,
                "outcome": outcome,
                "ok": ok,
                "kinds": [event.kind for event in batch],
                "events": len(batch),
                "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            }
        )
        return ok

    def summary(self) -> dict[str, object]:
        pending = sum(len(s.pending) for s in self.subscriptions.values())
        keys = ("events", "attempts", "ok", "failed_attempts", "delivered", "given_up")
        return {**{key: self.counts[key] for key in keys}, "pending": pending, "subscriptions": len(self.subscriptions)}

    async def close(self) -> None:
        for subscription in self.subscriptions.values():
            if subscription.sender is not None:
                subscription.sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await subscription.sender
        if self._client is not None:
            await self._client.aclose()

    # The control API --------------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route("/_control/webhooks", self._list, methods=["GET"]),
            Route("/_control/webhooks", self._subscribe, methods=["POST"]),
            Route("/_control/webhooks", self._unsubscribe_all, methods=["DELETE"]),
            Route("/_control/webhooks/deliveries", self._deliveries, methods=["GET"]),
            Route("/_control/webhooks/{id:int}", self._unsubscribe, methods=["DELETE"]),
        ]

    async def _list(self, request: Request) -> Response:
        subscriptions = [s.public() for s in self.subscriptions.values()]
        return json_response({"subscriptions": subscriptions, "deliveries": self.summary()})

    async def _subscribe(self, request: Request) -> Response:
        try:
            spec = SubscriptionRequest.model_validate_json(await request.body() or b"{}")
        except ValidationError as exc:
            problems = [
                {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
                for err in exc.errors(include_url=False)
            ]
            return json_response({"error": "invalid subscription", "problems": problems}, status=422)
        subscription = Subscription(next(self._ids), spec)
        self.subscriptions[subscription.id] = subscription
        return json_response(subscription.public(), status=201)

    def _drop(self, subscription_id: int) -> bool:
        subscription = self.subscriptions.pop(subscription_id, None)
        if subscription is not None and subscription.sender is not None:
            subscription.sender.cancel()
        return subscription is not None

    async def _unsubscribe(self, request: Request) -> Response:
        if not self._drop(request.path_params["id"]):
            return json_response({"error": "no such subscription"}, status=404)
        return Response(status_code=204)

    async def _unsubscribe_all(self, request: Request) -> Response:
        for subscription_id in list(self.subscriptions):
            self._drop(subscription_id)
        return Response(status_code=204)

    async def _deliveries(self, request: Request) -> Response:
        wanted = request.query_params.get("subscription")
        log = [entry for entry in self.log if wanted is None or str(entry["subscription"]) == wanted]
        return json_response({"deliveries": log, "summary": self.summary()})
