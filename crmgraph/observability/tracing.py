"""OpenTelemetry tracing, when ``tracing.exporter`` is set: a span per GraphQL operation and per upstream call.

The operation's span continues the caller's trace when the request carries a W3C ``traceparent``; each
upstream call is a child span (source, SDK operation, key count, outcome), and HTTP adapters send its
trace context on to the legacy system. The provider is the app's own, not OpenTelemetry's global one,
so that several apps in one process (tests) do not fight over it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from strawberry.extensions import SchemaExtension

from crmgraph import __version__
from crmgraph.adapters.sdk.calls import current_tracer, use_tracer
from crmgraph.config import TracingConfig

TRACER_NAME = "crmgraph"


def start_tracing(config: TracingConfig) -> TracerProvider | None:
    """Build the provider the configuration asks for and trace with it; None when tracing is off."""
    if config.exporter == "none":
        return None
    resource = Resource.create({"service.name": config.service_name, "service.version": __version__})
    provider = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)))
    provider.add_span_processor(BatchSpanProcessor(_exporter(config)))
    use_tracer(provider.get_tracer(TRACER_NAME, __version__))
    return provider


def stop_tracing(provider: TracerProvider | None) -> None:
    """Send what is still buffered and stop tracing."""
    use_tracer(None)
    if provider is not None:
        provider.shutdown()


def _exporter(config: TracingConfig) -> SpanExporter:
    if config.exporter == "console":
        return ConsoleSpanExporter()
    # Imported here: the OTLP exporter pulls in protobuf, which a deployment without tracing never needs.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=config.endpoint, headers=dict(config.headers))


class OperationTracing(SchemaExtension):
    """One SERVER span per GraphQL operation, named like ``query Customer360``; upstream calls nest in it."""

    def on_operation(self) -> Iterator[None]:
        tracer = current_tracer()
        if tracer is None:
            yield
            return
        parent = getattr(self.execution_context.context, "trace_context", None)
        span = tracer.start_span("graphql", context=parent, kind=trace.SpanKind.SERVER)
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield
        finally:
            _finish(span, self.execution_context)
            otel_context.detach(token)
            span.end()


def _finish(span: trace.Span, execution: Any) -> None:
    kind = execution.operation_type.value if execution.operation_type is not None else "graphql"
    name = execution.operation_name
    span.update_name(f"{kind} {name}" if name else kind)
    span.set_attribute("graphql.operation.type", kind)
    if name:
        span.set_attribute("graphql.operation.name", name)
    result = execution.result
    errors = (result.errors if result is not None else None) or []
    if errors:
        span.set_attribute("crmgraph.errors", len(errors))
        codes = sorted({str((e.extensions or {}).get("code", "")) for e in errors} - {""})
        if codes:
            span.set_attribute("crmgraph.error_codes", codes)
        if result is None or result.data is None:
            span.set_status(trace.StatusCode.ERROR, errors[0].message)
