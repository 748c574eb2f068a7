"""``POST /webhooks/{source}``: change notifications from the systems of record, checked and published.

A delivery is answered

- 404 when no webhook is configured for the source, 401 (``BAD_SIGNATURE``) when it is unsigned, signed
  with another secret, changed on the way or stale, 400 (``BAD_PAYLOAD``) when it is not what the product
  sends: nothing of it is published;
- 200 with how many events were new and how many were heard before (a retry, a replay: published once);
- 503 when the event bus cannot take the events, so that the sender retries later (their delivery ids are
  forgotten again, or the retry would be taken for a duplicate).

Published events make every instance forget the cache entries they touch and reach the subscriptions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.events.change import ChangeEvent
from crmgraph.events.deliveries import DeliveryLog
from crmgraph.events.signatures import BadSignature, check_hubspot, check_mautic, check_zendesk
from crmgraph.events.webhook_payloads import BadPayload, hubspot_events, mautic_events, zendesk_events
from crmgraph.events.webhook_settings import WebhooksConfig

log = logging.getLogger("crmgraph.webhooks")


class Publisher(Protocol):
    async def publish(self, events: Sequence[ChangeEvent]) -> Any: ...


class WebhookRuntime(Protocol):
    @property
    def adapters(self) -> dict[str, Adapter]: ...

    @property
    def deliveries(self) -> DeliveryLog | None: ...

    @property
    def events(self) -> Publisher | None: ...


def _refused(status: int, code: str, message: str) -> Response:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status)


class WebhookEndpoint:
    def __init__(self, runtime: Callable[[], WebhookRuntime], config: WebhooksConfig) -> None:
        self.runtime = runtime
        self.config = config

    async def handle(self, request: Request) -> Response:
        source = request.path_params["source"]
        settings = self.config.sources.get(source)
        runtime = self.runtime()
        adapter = runtime.adapters.get(source)
        if settings is None or adapter is None:
            return _refused(404, "NOT_FOUND", f"no webhook is configured for {source!r} (webhooks.sources)")
        body = await request.body()
        kind = settings.format or adapter.kind
        try:
            self._check(kind, settings.secret, request, body)
        except BadSignature as refused:
            log.warning("webhook of %s refused: %s", source, refused)
            return _refused(401, "BAD_SIGNATURE", f"refused: {refused}")
        try:
            pairs = self._events(kind, source, body)
        except BadPayload as bad:
            return _refused(400, "BAD_PAYLOAD", f"not a {kind} webhook delivery: {bad}")
        deliveries = runtime.deliveries
        new_ids = {d for d, _ in pairs} if deliveries is None else await deliveries.first_time(
            source, [d for d, _ in pairs])  # fmt: skip
        events = [event for delivery, event in pairs if delivery in new_ids]
        try:
            if events:
                if runtime.events is None:
                    raise RuntimeError("no event hub")
                await runtime.events.publish(events)
        except Exception:
            log.exception("the events of a %s webhook could not be published; the sender will retry", source)
            if deliveries is not None:
                await deliveries.forget(source, sorted(new_ids))
            return _refused(503, "EVENTS_UNAVAILABLE", "the event bus is unavailable; retry later")
        return JSONResponse({"accepted": len(events), "duplicates": len(pairs) - len(events)})

    def _check(self, kind: str, secret: str, request: Request, body: bytes) -> None:
        max_age = self.config.max_age_s
        if kind == "hubspot":
            url = str(request.url)
            if self.config.public_url:  # behind a proxy: the URL the sender called, which it signed
                query = f"?{request.url.query}" if request.url.query else ""
                url = self.config.public_url.rstrip("/") + request.url.path + query
            check_hubspot(secret, request.method, url, body, request.headers, max_age_s=max_age)
        elif kind == "zendesk":
            check_zendesk(secret, body, request.headers, max_age_s=max_age)
        elif kind == "mautic":
            check_mautic(secret, body, request.headers, max_age_s=max_age)
        else:
            raise BadSignature(f"crmgraph reads no webhooks of {kind} sources")

    @staticmethod
    def _events(kind: str, source: str, body: bytes) -> list[tuple[str, ChangeEvent]]:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BadPayload("the body is not JSON") from None
        read = {"hubspot": hubspot_events, "zendesk": zendesk_events, "mautic": mautic_events}[kind]
        return read(source, parsed)
