"""Prometheus metrics of one facade instance, in a registry of its own (never the global one).

=========================================================  =======================================
``crmgraph_graphql_operations_total{operation,outcome}``   GraphQL operations; outcome ok, partial
                                                           (data with errors) or error (no data)
``crmgraph_graphql_operation_duration_seconds{operation}`` their latency
``crmgraph_upstream_calls_total{source,operation,outcome}`` round trips to legacy systems; outcome is
                                                           the HTTP status, ``ok`` (SQL), the error code, or ``error``
``crmgraph_upstream_call_duration_seconds{source,operation}`` their latency
``crmgraph_upstream_call_keys{source,operation}``          keys carried by one call (batch size)
``crmgraph_cache_hits_total{source,entity}``               keys answered from the cache
``crmgraph_cache_misses_total{source,entity}``             keys the cache could not answer fresh
``crmgraph_cache_stale_served_total{source,entity}``       keys answered stale because the source failed
``crmgraph_breaker_state{source,state}``                   1 for the breaker's current state, else 0
``crmgraph_upstream_wait_seconds{source,reason}``          waits before a call left: ``rate_limit`` (the
                                                           client-side limit), ``pause`` (after a 429), ``slot``
``crmgraph_upstream_refused_total{source,reason}``         calls failed without reaching the system:
                                                           ``circuit_open``, ``deadline``, ``paused``, ``rate_limit``
``crmgraph_upstream_retries_total{source,code}``           keys asked again, by the code of the failure
``crmgraph_http_requests_total{method,route,status}``      HTTP requests by route (not raw path)
=========================================================  =======================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from crmgraph.adapters.sdk.calls import UpstreamCall
from crmgraph.adapters.sdk.resilience import PolicyEvent
from crmgraph.cache.read_through import CacheOutcome

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
KEY_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)
BREAKER_STATES = ("closed", "half_open", "open")
# Operation names come from clients: past this many distinct names, new ones are counted as "other".
MAX_OPERATION_NAMES = 200


def breaker_state(adapter: Any) -> str | None:
    """The adapter's breaker state as a lower-case name, or ``None`` if it has no breaker."""
    state = getattr(getattr(adapter, "breaker", None), "state", None)
    if state is None:
        return None
    name = getattr(state, "value", state)  # an Enum or a plain string
    return str(name).lower().replace("-", "_")


class _BreakerCollector(Collector):
    """Reads breaker states at scrape time, so there is nothing to keep in sync."""

    def __init__(self, adapters: Callable[[], Mapping[str, Any]]) -> None:
        self.adapters = adapters

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "crmgraph_breaker_state", "Circuit breaker state per source (1 = current)", labels=["source", "state"]
        )
        for source, adapter in self.adapters().items():
            current = breaker_state(adapter)
            if current is None:
                continue
            for state in dict.fromkeys((*BREAKER_STATES, current)):
                family.add_metric([source, state], 1.0 if state == current else 0.0)
        yield family


class Metrics:
    def __init__(self, adapters: Callable[[], Mapping[str, Any]] = dict) -> None:
        self.registry = CollectorRegistry()
        self._operation_names: set[str] = set()
        # Each labelled child found once: prometheus-client's labels() checks and joins the values on every call,
        # and a customer 360 counts some thirty cache outcomes. The label values are bounded (sources,
        # entities, operations up to MAX_OPERATION_NAMES, outcomes, routes).
        self._children: dict[tuple[object, ...], Any] = {}
        self.operations = Counter(
            "crmgraph_graphql_operations",
            "GraphQL operations by name and outcome",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.operation_seconds = Histogram(
            "crmgraph_graphql_operation_duration_seconds",
            "GraphQL operation latency",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_calls = Counter(
            "crmgraph_upstream_calls",
            "Upstream calls by source, operation and outcome",
            ["source", "operation", "outcome"],
            registry=self.registry,
        )
        self.upstream_seconds = Histogram(
            "crmgraph_upstream_call_duration_seconds",
            "Upstream call latency",
            ["source", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_keys = Histogram(
            "crmgraph_upstream_call_keys",
            "Keys carried by one upstream call",
            ["source", "operation"],
            buckets=KEY_BUCKETS,
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "crmgraph_cache_hits", "Keys answered from the cache", ["source", "entity"], registry=self.registry
        )
        self.cache_misses = Counter(
            "crmgraph_cache_misses",
            "Keys the cache could not answer fresh",
            ["source", "entity"],
            registry=self.registry,
        )
        self.cache_stale = Counter(
            "crmgraph_cache_stale_served",
            "Keys answered from stale cache because their source failed",
            ["source", "entity"],
            registry=self.registry,
        )
        self.http_requests = Counter(
            "crmgraph_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.policy_waits = Histogram(
            "crmgraph_upstream_wait_seconds",
            "Time calls waited before going upstream: for the client-side rate limit, a 429 pause, a free slot",
            ["source", "reason"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.policy_refusals = Counter(
            "crmgraph_upstream_refused",
            "Calls failed without reaching the system: circuit open, deadline passed, paused, rate limit",
            ["source", "reason"],
            registry=self.registry,
        )
        self.retries = Counter(
            "crmgraph_upstream_retries",
            "Keys asked again after a retryable failure, by the failure's code",
            ["source", "code"],
            registry=self.registry,
        )
        self.registry.register(_BreakerCollector(adapters))

    def observe_call(self, call: UpstreamCall) -> None:
        """A :data:`~crmgraph.adapters.sdk.calls.call_observers` hook."""
        operation = call.operation or "other"
        self.labeled(self.upstream_calls, call.source, operation, call.outcome).inc()
        self.labeled(self.upstream_seconds, call.source, operation).observe(call.milliseconds / 1000)
        self.labeled(self.upstream_keys, call.source, operation).observe(call.keys)

    def observe_policy(self, event: PolicyEvent) -> None:
        """A :data:`~crmgraph.adapters.sdk.resilience.policy_observers` hook."""
        if event.kind == "wait":
            self.labeled(self.policy_waits, event.source, event.reason).observe(event.seconds)
        elif event.kind == "refused":
            self.labeled(self.policy_refusals, event.source, event.reason).inc()
        else:
            self.labeled(self.retries, event.source, event.reason).inc()

    def observe_operation(self, name: str | None, outcome: str, seconds: float) -> None:
        label = self._operation_label(name)
        self.labeled(self.operations, label, outcome).inc()
        self.labeled(self.operation_seconds, label).observe(seconds)

    def observe_cache(self, outcome: CacheOutcome) -> None:
        """A :data:`~crmgraph.cache.read_through.cache_observers` hook."""
        for counter, count in ((self.cache_hits, outcome.hits), (self.cache_misses, outcome.misses),
                               (self.cache_stale, outcome.stale)):  # fmt: skip
            if count:
                self.labeled(counter, outcome.source, outcome.entity).inc(count)

    def labeled(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, kept."""
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def _operation_label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        name = name[:100]
        if name not in self._operation_names:
            if len(self._operation_names) >= MAX_OPERATION_NAMES:
                return "other"
            self._operation_names.add(name)
        return name
