"""One facade's observability: its metrics and readiness, the routes that show them, and their hooks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crmgraph.adapters.sdk.calls import call_observers
from crmgraph.adapters.sdk.resilience import policy_observers
from crmgraph.cache.read_through import cache_observers
from crmgraph.observability.health import Readiness
from crmgraph.observability.metrics import Metrics


class Observability:
    def __init__(self, adapters: Callable[[], Mapping[str, Any]]) -> None:
        self.metrics = Metrics(adapters)
        self.readiness = Readiness(adapters)
        self.operator: Callable[[Request], bool] = lambda request: True

    def start(self) -> None:
        """Subscribe to upstream calls (from the lifespan, once the adapters are open)."""
        call_observers.extend((self.metrics.observe_call, self.readiness.observe_call))
        cache_observers.append(self.metrics.observe_cache)
        policy_observers.append(self.metrics.observe_policy)

    def stop(self) -> None:
        for observer in (self.metrics.observe_call, self.readiness.observe_call):
            if observer in call_observers:
                call_observers.remove(observer)
        if self.metrics.observe_cache in cache_observers:
            cache_observers.remove(self.metrics.observe_cache)
        if self.metrics.observe_policy in policy_observers:
            policy_observers.remove(self.metrics.observe_policy)

    def routes(self, operator: Callable[[Request], bool] = lambda request: True) -> list[Route]:
        """``/metrics`` and ``/readyz``; ``operator`` says whether a request may read their details (the
        metrics; each source's report): others get a 403 from ``/metrics`` and ``/readyz``'s status alone."""
        self.operator = operator
        return [
            Route("/metrics", self.metrics_endpoint, methods=["GET"]),
            Route("/readyz", self.readyz_endpoint, methods=["GET"]),
        ]

    async def metrics_endpoint(self, request: Request) -> Response:
        if not self.operator(request):
            return JSONResponse(
                {
                    "errors": [
                        {
                            "message": "Metrics are for operators: an address in server.operators.addresses or "
                            "a principal with a role in server.operators.roles.",
                            "extensions": {"code": "OPERATOR_ONLY", "part": "client"},
                        }
                    ]
                },
                status_code=403,
            )
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def readyz_endpoint(self, request: Request) -> Response:
        report = await self.readiness.report()
        status_code = 200 if report["status"] == "ready" else 503
        if not self.operator(request):
            # A load balancer needs the status; which source fails, and why, is for operators.
            return JSONResponse({"status": report["status"]}, status_code=status_code)
        return JSONResponse(report, status_code=status_code)
