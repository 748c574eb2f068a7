"""The ASGI application: ``build_app(config)`` -> Starlette.

The lifespan opens every adapter, the cache and the identity store once; each request gets a fresh
:class:`~crmgraph.context.RequestContext` (its own loaders and call log). GraphQL is served at
``/graphql``: POST, GET for queries only, GraphiQL for browsers. Around every request, the observability
middleware assigns a request id and writes one JSON access line; ``/metrics`` (Prometheus), ``/healthz``
(process alive) and ``/readyz`` (every source usable) are for operators (their details for the addresses
and roles of ``server.operators``). A request's ``X-Crmgraph-Actor`` header names who makes the steward
decisions it carries ("anonymous" without it).

The perimeter (docs/security.md): security headers on every answer, CORS from ``server.cors_origins``,
per-principal rate limits, trusted documents, and production mode's switches (``server.production``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import strawberry
from opentelemetry.context import Context
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from crmgraph import graphiql
from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.calls import CallLog
from crmgraph.analytics.incremental import start_updater
from crmgraph.analytics.store import AnalyticStore, open_store
from crmgraph.audit import AuditEvent, AuditWriter
from crmgraph.audit.lifecycle import AuditTrailRuntime
from crmgraph.cache.backend import close_backend, open_backend
from crmgraph.cache.read_through import ReadThrough
from crmgraph.config import Config, ConfigErrors
from crmgraph.console.routes import console_routes
from crmgraph.context import ANONYMOUS, RequestContext
from crmgraph.errors import ConfigError
from crmgraph.events import EventHub
from crmgraph.events.deliveries import DeliveryLog
from crmgraph.events.feeds import FeedPoller, FeedPositions
from crmgraph.events.metrics import EventsCollector
from crmgraph.graphiql.examples import EXAMPLES
from crmgraph.identity.store import IdentityStore
from crmgraph.observability import Observability, ObservabilityMiddleware, configure_logging
from crmgraph.observability.tracing import start_tracing, stop_tracing
from crmgraph.policy.api_keys import ApiKeyStore
from crmgraph.policy.authenticate import Authenticator
from crmgraph.policy.principal import Principal
from crmgraph.policy.rate_limit import RateLimiter
from crmgraph.policy.roles import decide
from crmgraph.policy.trusted_documents import ManifestError, TrustedDocuments
from crmgraph.resolvers.loaders import Loaders
from crmgraph.sources import OpenSources
from crmgraph.web.body import BodyLimitMiddleware
from crmgraph.web.csrf import PREFLIGHT_HEADERS
from crmgraph.web.graphql_view import GraphQLApp
from crmgraph.web.operators import OperatorAccess
from crmgraph.web.report_exports import ReportExports
from crmgraph.web.security_headers import SecurityHeadersMiddleware
from crmgraph.web.webhooks import WebhookEndpoint
from crmgraph.workflows.assignment.runtime import Assignment, start_assignment
from crmgraph.workflows.rules.check import rule_problems
from crmgraph.workflows.rules.runner import RuleRunner
from crmgraph.workflows.rules.runs import RunStore
from crmgraph.workflows.triage.factory import build_classifier
from crmgraph.writes.deal_conversion import KIND, SagaWrites, deal_conversion
from crmgraph.writes.idempotency import IdempotencyStore
from crmgraph.writes.saga import SagaRunner, SagaStore


@dataclass
class Runtime:
    """What lives as long as the process: adapters, cache, identity store."""

    config: Config
    adapters: dict[str, Adapter]
    cache: ReadThrough
    identity: IdentityStore
    audit: AuditWriter | None = None  # None: audit.enabled is false
    idempotency: IdempotencyStore | None = None  # the writes' idempotency records (the facade's own store)
    sagas: SagaRunner | None = None  # changes that span systems, resumed at start
    events: EventHub | None = None  # None only before the lifespan started it
    deliveries: DeliveryLog | None = None  # webhook deliveries heard, shared by the instances
    assignment: Assignment | None = None  # lead distribution and ticket routing, when configured
    rule_runs: RunStore | None = None  # the automation rules' runs (workflows.rules)
    analytics: AnalyticStore | None = None  # the reports' store (reports.enabled)

    def context(
        self,
        explain: bool,
        trace_context: Context | None = None,
        actor: str = ANONYMOUS,
        principal: Principal | None = None,
        client: str = "",
    ) -> RequestContext:
        access = decide(principal, self.config.policy) if principal is not None else None
        loaders = Loaders(self.adapters, self.cache, self.identity, self.config.identity.survivorship,
                          with_scope=access is not None and access.scoped)  # fmt: skip
        if access is not None and not access.explain:
            explain = False  # what a query cost upstream names the systems and their paths: for some roles only
        return RequestContext(
            loaders=loaders,
            max_page_size=self.config.server.max_page_size,
            explain=explain,
            deadline_s=self.config.server.deadline_s,
            call_log=CallLog(budget=self.config.server.max_upstream_calls),
            trace_context=trace_context,
            identity=self.config.identity,
            actor=actor,
            principal=principal,
            access=access,
            client=client,
            audit_writer=self.audit,
            idempotency=self.idempotency,
            events=self.events,
            writes=self.config.writes,
            sagas=self.sagas,
            assignment=self.assignment,
            rule_runs=self.rule_runs,
            analytics=self.analytics,
            reports=self.config.reports,
        )

    def denied(self, reason: str, client: str, outcome: str = "UNAUTHENTICATED", subject: str = "") -> None:
        """Record a request refused before it ran (no valid credentials, an untrusted document) in the trail."""
        if self.audit is not None:
            self.audit.record(AuditEvent(action="denied", subject=subject, client=client, outcome=outcome,
                                         fields=(reason[:200],)))  # fmt: skip


def build_app(config: Config, graphiql_headers: Mapping[str, str] | None = None) -> Starlette:
    """The app serving ``config``; ``graphiql_headers`` are filled into GraphiQL's tabs (the demo's token)."""
    state: dict[str, Runtime] = {}
    configure_logging()
    observability = Observability(lambda: state["runtime"].adapters if "runtime" in state else {})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        identity = IdentityStore(config.identity.url, config.identity.remembered_customers)
        idempotency = IdempotencyStore(config.identity.url)
        deliveries = DeliveryLog(config.identity.url)
        feed_positions = FeedPositions(config.identity.url)
        saga_store = SagaStore(config.identity.url)
        rule_runs = RunStore(config.identity.url)
        identity.create()
        backend = open_backend(config.cache)
        tracing = start_tracing(config.tracing)
        audit = AuditTrailRuntime.open(config.audit, config.identity.url)
        analytics = open_store(config.reports, config.identity.url)
        try:
            async with OpenSources(config) as adapters:
                cache = ReadThrough(backend, config.cache.ttl_for, config.cache.stale_for)
                events = EventHub(config.events, cache, identity, adapters)
                state["runtime"] = Runtime(
                    config,
                    adapters,
                    cache,
                    identity,
                    audit.writer,
                    idempotency=idempotency,
                    events=events,
                    deliveries=deliveries,
                    rule_runs=rule_runs,
                    analytics=analytics,
                )
                await events.start()
                app.state.events = events  # publish() for tests and in-process producers
                feeds = FeedPoller(config.feeds, adapters, feed_positions, deliveries, events.publish)
                feeds.start()
                app.state.feeds = feeds
                # Automation rules act through the graph itself, as their own principal (docs/workflows.md).
                rules = RuleRunner(config.workflows.rules, schema, _service_context(state), events, rule_runs)
                rules.start()
                app.state.rules = rules
                # The reports' store follows the change events (docs/reports.md): no full reload per change.
                # One classifier (workflows.triage) routes new tickets and files changed ones under a category.
                triage = build_classifier(config.workflows.triage)
                categorize = triage if config.reports.service.categorize else None
                app.state.reports = start_updater(config, analytics, adapters, identity, events, categorize)
                writes = SagaWrites(adapters, idempotency, cache, events)
                runner = state["runtime"].sagas = SagaRunner(saga_store, {KIND: deal_conversion(writes)})
                # Sagas a stopped facade left half-way go on (or are undone) in the background.
                resuming = asyncio.get_running_loop().create_task(runner.resume(), name="resume sagas")
                collector = EventsCollector(events)
                observability.metrics.registry.register(collector)
                observability.start()
                await audit.start()
                assignment = app.state.assignment = state["runtime"].assignment = start_assignment(
                    config.workflows.assignment, config.identity.url, adapters, cache, identity, idempotency,
                    events, audit.writer, triage=triage)  # fmt: skip
                try:
                    yield
                finally:
                    if assignment is not None:
                        await assignment.close()
                    resuming.cancel()
                    await rules.stop()
                    if app.state.reports is not None:
                        await app.state.reports.stop()
                    await feeds.stop()
                    observability.stop()
                    observability.metrics.registry.unregister(collector)
                    await events.close()
                    await audit.close()  # every event still queued is written: none lost on a clean shutdown
        finally:
            stop_tracing(tracing)
            if rate_limiter is not None:
                await rate_limiter.close()
            await close_backend(backend)
            identity.close()
            idempotency.close()
            deliveries.close()
            feed_positions.close()
            saga_store.close()
            rule_runs.close()
            if analytics is not None:
                analytics.close()
            if api_keys is not None:
                api_keys.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    limits = config.server.http
    # API keys live in the facade's own store (the identity store's database).
    api_keys = ApiKeyStore(config.identity.url) if config.auth.api_keys else None
    authenticator = Authenticator(config.auth, api_keys)
    server = config.server
    rate_limiter = RateLimiter(config.rate_limit) if config.rate_limit.enabled else None
    manifest = config.trusted_documents.manifest
    graphql = GraphQLApp(
        lambda: state["runtime"],
        max_json_depth=limits.max_json_depth,
        limits=config.limits,
        policy=config.policy,
        audited=config.audit.personal_data if config.audit.enabled else (),
        authenticator=authenticator,
        rate_limiter=rate_limiter,
        documents=_trusted_documents(manifest),
        production=server.production,
        csrf=server.csrf if server.csrf is not None else server.production,
        explorers=frozenset(name for name, role in config.policy.roles.items() if role.explore),
        graphql_ide="graphiql" if server.graphiql and not server.production else None,
        # Served with its assets by the facade itself (crmgraph.graphiql): it works with no internet.
        ide_html=graphiql.page("/graphql", EXAMPLES, headers=graphiql_headers),
        connection_init_wait_timeout=timedelta(seconds=config.events.connection_init_timeout_s),
        max_subscriptions_per_connection=config.events.max_subscriptions_per_connection,
    )
    assert isinstance(graphql.schema, strawberry.Schema)  # build_schema's
    schema: strawberry.Schema = graphql.schema  # the rules run their operations through it, in-process
    rules_wrong = rule_problems(config.workflows.rules, schema._schema, config.policy, config.sources)
    if rules_wrong:
        raise ConfigErrors(rules_wrong)
    operators = OperatorAccess(server.operators.addresses, server.operators.roles, authenticator)
    webhooks = WebhookEndpoint(lambda: state["runtime"], config.webhooks)
    routes: list[Route | WebSocketRoute | Mount] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),  # subscriptions over graphql-transport-ws (docs/realtime.md)
        Route("/healthz", healthz, methods=["GET"]),
        graphiql.assets_route(),
        *observability.routes(operators.allowed),
        # Change notifications from the systems of record, signed (docs/realtime.md).
        Route("/webhooks/{source}", webhooks.handle, methods=["POST"]),
        # Reports as CSV, PNG or PDF, for the same principals and scopes as /graphql (docs/reports.md).
        Route(
            "/reports/{report}.{format}", ReportExports(lambda: state["runtime"], authenticator).handle, methods=["GET"]
        ),
        # The console at / (docs/console.md): a page that asks /graphql, as the signed-in role, for all it shows.
        *console_routes(config, lambda: state["runtime"].identity),
    ]
    paths = frozenset(route.path for route in routes)
    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(ObservabilityMiddleware, metrics=observability.metrics, routes=paths),
    ]
    if server.cors_origins:
        # Outside the body limit, so that a browser can read a refusal's reason too.
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=server.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-api-key", "traceparent", *PREFLIGHT_HEADERS],
                expose_headers=["x-request-id", "retry-after"],
                max_age=600,
            )
        )
    middleware.append(Middleware(BodyLimitMiddleware, max_bytes=limits.max_body_bytes, timeout_s=limits.body_timeout_s))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.http_limits = limits  # read by crmgraph.runner: the connection's limits are uvicorn's to apply
    return app


def _service_context(state: dict[str, Runtime]) -> Callable[[Principal], RequestContext]:
    """A request context for the facade's own workflows, as ``principal``: permissioned and audited."""

    def context(principal: Principal) -> RequestContext:
        return state["runtime"].context(False, actor=principal.subject, principal=principal, client="automation")

    return context


def _trusted_documents(manifest: Path | None) -> TrustedDocuments | None:
    if manifest is None:
        return None
    try:
        return TrustedDocuments.load(manifest)
    except ManifestError as exc:
        raise ConfigErrors([ConfigError("trusted_documents.manifest", str(exc))]) from None
