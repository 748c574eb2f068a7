"""OpenTelemetry tracing: spans exported over OTLP/HTTP to a real receiver on loopback, and trace context
sent on to the legacy systems.

The receiver decodes what the facade's exporter sends with OpenTelemetry's own protobuf definitions, so
the test sees the spans as a collector would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crmgraph.adapters.sdk.calls import operation, use_tracer
from crmgraph.adapters.sdk.http import HttpSource
from crmgraph.config import ConfigErrors, parse_config
from crmgraph.demo.wire import serving_in_thread
from crmgraph.schema.ids import encode_id
from tests.conftest import Estate
from tests.facade import facade_config, serve_facade
from tests.test_graph import _active_everywhere

SERVER, CLIENT = 2, 3  # Span.SpanKind in OTLP
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
QUERY = """query TracedCustomer($id: ID!) { customer(id: $id) {
  name contacts(first: 3) { nodes { name } } orders(first: 3) { nodes { number } }
  tickets(first: 3) { nodes { subject } }
} }"""


@dataclass
class ReceivedSpan:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]


def _value(any_value: Any) -> Any:
    return getattr(any_value, any_value.WhichOneof("value")) if any_value.WhichOneof("value") else None


class OtlpReceiver:
    """An OTLP/HTTP traces endpoint that keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.app = Starlette(routes=[Route("/v1/traces", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        for resource_spans in export.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                self.spans += [
                    ReceivedSpan(
                        span.name, span.kind, span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex(),
                        {kv.key: _value(kv.value) for kv in span.attributes},
                    )
                    for span in scope_spans.spans
                ]  # fmt: skip
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")


@pytest.fixture
def receiver() -> Iterator[tuple[OtlpReceiver, str]]:
    found = OtlpReceiver()
    with serving_in_thread(found.app) as url:
        yield found, url


def test_an_operation_and_each_of_its_upstream_calls_are_spans_in_the_callers_trace(
    estate: Estate, linked_identity: str, receiver: tuple[OtlpReceiver, str]
) -> None:
    customer = encode_id("Customer", str(_active_everywhere(estate, linked_identity)))
    collector, url = receiver
    config = facade_config(
        estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity,
        tracing={"exporter": "otlp", "endpoint": f"{url}/v1/traces", "service_name": "crmgraph-test"},
    )  # fmt: skip
    body = {"query": QUERY, "variables": {"id": customer}, "extensions": {"explain": True}}
    with serve_facade(config) as facade:
        answer = httpx.post(
            f"{facade.url}/graphql", json=body, headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
        ).json()
    # Leaving serve_facade stopped the app, which flushed every buffered span to the receiver.
    assert "errors" not in answer, answer.get("errors")
    calls = answer["extensions"]["upstream"]["calls"]
    (root,) = [span for span in collector.spans if span.kind == SERVER]
    assert (root.name, root.trace_id, root.parent_span_id) == ("query TracedCustomer", CALLER_TRACE, CALLER_SPAN)
    assert root.attributes["graphql.operation.name"] == "TracedCustomer"
    in_trace = [span for span in collector.spans if span.kind == CLIENT and span.trace_id == CALLER_TRACE]
    assert all(span.parent_span_id == root.span_id for span in in_trace)
    # Calls outside any request (the SQL adapter checking its mapping at start-up) are traces of their own.
    others = [span for span in collector.spans if span.kind == CLIENT and span.trace_id != CALLER_TRACE]
    assert all(span.parent_span_id == "" and "INSPECT" in span.name for span in others), others
    children = in_trace
    spanned = sorted(
        (s.attributes["crmgraph.source"], s.attributes["crmgraph.operation"], s.attributes["crmgraph.keys"])
        for s in children
    )
    assert spanned == sorted((c["source"], c["operation"], c["keys"]) for c in calls)
    assert {s.attributes["crmgraph.source"] for s in children} >= {"crm", "erp", "tickets"}


def test_without_tracing_configured_nothing_is_exported(
    estate: Estate, linked_identity: str, receiver: tuple[OtlpReceiver, str]
) -> None:
    collector, _ = receiver
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity)
    with serve_facade(config) as facade:
        assert "errors" not in facade.query(QUERY, {"id": encode_id("Customer", "1")})
    assert collector.spans == []


def _echo() -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(dict(request.headers))

    return Starlette(routes=[Route("/echo", echo, methods=["GET"])])


def test_an_upstream_request_carries_the_trace_context_of_its_call_span() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    async def call(url: str) -> Any:
        source = HttpSource("legacy", url)
        try:
            with operation("fetch party", 1):
                return await source.get_json("/echo")
        finally:
            await source.close()

    with serving_in_thread(_echo()) as url:
        untraced = asyncio.run(call(url))
        use_tracer(provider.get_tracer("test"))
        try:
            traced = asyncio.run(call(url))
        finally:
            use_tracer(None)
    assert "traceparent" not in untraced
    (span,) = exporter.get_finished_spans()
    context = span.get_span_context()
    assert traced["traceparent"] == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert span.name == "legacy fetch party" and span.attributes is not None
    assert (span.attributes["crmgraph.request"], span.attributes["http.response.status_code"]) == ("GET /echo", 200)


@pytest.mark.parametrize(
    ("tracing", "path"),
    [
        ({"exporter": "jaeger"}, "tracing.exporter"),
        ({"exporter": "otlp", "sample_ratio": 1.5}, "tracing.sample_ratio"),
        ({"exporter": "otlp", "endpont": "http://127.0.0.1:4318"}, "tracing.endpont"),
    ],
)
def test_a_wrong_tracing_setting_names_its_key(tracing: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigErrors) as raised:
        parse_config(json.dumps({"sources": {"crm": {"adapter": "hubspot"}}, "tracing": tracing}))  # JSON is YAML
    assert [problem.path for problem in raised.value.problems] == [path]
