"""Observability: Prometheus metrics, JSON access logs with request ids, readiness of every source."""

from __future__ import annotations

from crmgraph.observability.endpoints import Observability
from crmgraph.observability.logs import JsonFormatter, configure_logging
from crmgraph.observability.metrics import Metrics
from crmgraph.observability.middleware import ObservabilityMiddleware
from crmgraph.observability.operations import OperationMetrics
from crmgraph.observability.request import REQUEST_ID_HEADER, request_id

__all__ = [
    "REQUEST_ID_HEADER",
    "JsonFormatter",
    "Metrics",
    "Observability",
    "ObservabilityMiddleware",
    "OperationMetrics",
    "configure_logging",
    "request_id",
]
