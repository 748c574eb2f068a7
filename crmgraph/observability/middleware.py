"""The ASGI middleware around every HTTP request: request id, access log line, request metrics."""

from __future__ import annotations

import logging
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crmgraph.observability.logs import access_log
from crmgraph.observability.metrics import Metrics
from crmgraph.observability.request import REQUEST_ID_HEADER, RequestRecord, accept_request_id, current_request

# Polled by load balancers and scrapers: their lines would drown the rest, so they log at debug.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, routes: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes  # label values for the request counter: known routes only, never raw paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = accept_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        record = RequestRecord(rid, scope["method"], scope["path"], self.metrics)
        scope.setdefault("state", {})["request_id"] = rid  # request.state.request_id
        status = 500  # what the client gets if the app fails before answering
        finished = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # Written before the last byte leaves, so a client that got its answer finds the line.
                finished = True
                self._finish(record, status)
            await send(message)

        token = current_request.set(record)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if not finished:
                self._finish(record, status)
            current_request.reset(token)

    def _finish(self, record: RequestRecord, status: int) -> None:
        duration_ms = round((time.perf_counter() - record.started) * 1000, 2)
        route = record.path if record.path in self.routes else "other"
        self.metrics.labeled(self.metrics.http_requests, record.method, route, str(status)).inc()
        level = logging.DEBUG if record.path in QUIET_PATHS else logging.INFO
        access_log.log(
            level,
            "request",
            extra={
                "request_id": record.request_id,
                "method": record.method,
                "path": record.path,
                "status": status,
                "duration_ms": duration_ms,
                "operation": record.operation,
                "outcome": record.outcome,
                "upstream_calls": record.upstream_calls,
            },
        )
