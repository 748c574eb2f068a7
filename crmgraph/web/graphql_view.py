"""GraphQL over HTTP: strawberry's ASGI view, with the request checked and the answer negotiated here.

Before strawberry runs, the request is read into :class:`GraphQLRequestData` or refused with a precise
4xx (:mod:`crmgraph.web.problems`): the ``Accept`` header must allow a GraphQL media type (406), a POST
must be ``application/json`` in UTF-8 (415), its body one JSON object (400: not UTF-8, not JSON, an array,
nested past ``max_json_depth``), ``query`` a string and ``operationName``, ``variables``, ``extensions`` of
their types (400). A GET carrying a mutation answers 405 with ``Allow: POST``: "GET requests MUST NOT be
used for executing mutation operations" (GraphQL over HTTP, 6.1.1), and 405 is HTTP's word for a method
the resource does not allow for this request.

The request's perimeter, in order, before strawberry parses anything: CSRF (:mod:`crmgraph.web.csrf`,
when on), the principal (401), its rate limit (429 with ``Retry-After``,
:mod:`crmgraph.policy.rate_limit`), the body, and the document it runs (:mod:`crmgraph.web.persisted`:
trusted documents by hash; in production mode only those, unless a role may explore). In production mode
the schema also refuses introspection and drops field suggestions (:mod:`crmgraph.web.production`).

Answers follow https://graphql.github.io/graphql-over-http/draft/#sec-Response: under
``application/graphql-response+json``, a request error (a document that does not parse or validate, a
variable that does not coerce: no execution, so no ``data`` entry) is answered 400 without ``data``, and
every executed operation 200; under ``application/json``, every GraphQL answer is 200, as legacy clients
expect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, cast

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from crmgraph.adapters.sdk.calls import trace_context_of
from crmgraph.context import ANONYMOUS, RequestContext
from crmgraph.policy import QueryLimits
from crmgraph.policy.authenticate import Authenticator
from crmgraph.policy.principal import Principal, Unauthenticated
from crmgraph.policy.rate_limit import RateLimiter
from crmgraph.policy.roles import PolicyConfig
from crmgraph.policy.trusted_documents import TrustedDocuments
from crmgraph.schema import build_schema
from crmgraph.web.csrf import check_preflight
from crmgraph.web.media import GRAPHQL_RESPONSE, JSON, SUPPORTED, negotiate
from crmgraph.web.persisted import document_to_run, requested_hash
from crmgraph.web.problems import HttpRefusal, unauthenticated
from crmgraph.web.production import ProductionMode
from crmgraph.web.request_body import read_graphql_request
from crmgraph.web.security_headers import page_csp
from crmgraph.web.websocket import admit, closer, credentials_of

# Who makes a steward decision, until authentication lands: recorded with the decision, not checked.
ACTOR_HEADER = "x-crmgraph-actor"


class ContextFactory(Protocol):
    def context(
        self,
        explain: bool,
        trace_context: Any = None,
        actor: str = ANONYMOUS,
        principal: Principal | None = None,
        client: str = "",
    ) -> RequestContext: ...

    def denied(self, reason: str, client: str, outcome: str = ..., subject: str = ...) -> None: ...


class _Exchange:
    """One request's negotiated media type and, once GraphQL answered, the status to send."""

    def __init__(self, media_type: str, data: GraphQLRequestData) -> None:
        self.media_type = media_type
        self.data = data
        self.status = 200


class _SubResponse(Response):
    exchange: _Exchange


class _RequestAdapter(StarletteRequestAdapter):
    def __init__(self, request: Request) -> None:
        super().__init__(request)
        self.request = request


def _exchange(request: Request) -> _Exchange:
    exchange: _Exchange = request.state.graphql_exchange
    return exchange


class GraphQLApp(GraphQL[RequestContext, None]):
    request_adapter_class = _RequestAdapter

    def __init__(
        self,
        runtime_getter: Callable[[], ContextFactory],
        *,
        max_json_depth: int,
        ide_html: str | None = None,
        limits: QueryLimits | None = None,
        policy: PolicyConfig | None = None,
        audited: Iterable[str] = (),
        authenticator: Authenticator | None = None,
        rate_limiter: RateLimiter | None = None,
        documents: TrustedDocuments | None = None,
        production: bool = False,
        csrf: bool = False,
        explorers: frozenset[str] = frozenset(),
        **kwargs: Any,
    ) -> None:
        schema = build_schema(limits, policy, audited)
        if production:
            schema.extensions = (*schema.extensions, ProductionMode)
        # graphql-transport-ws only: the older graphql-ws protocol (subscriptions-transport-ws) is deprecated.
        super().__init__(schema, subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,), **kwargs)
        self.runtime_getter = runtime_getter
        self.policy = policy or PolicyConfig()
        # None only where a test serves the schema without the app: every app built by build_app has one.
        self.authenticator = authenticator
        self.rate_limiter = rate_limiter
        self.documents = documents or TrustedDocuments()
        self.production = production
        self.csrf = csrf
        self.explorers = explorers  # roles with `explore: true`: decided once, a set test per request
        self.max_json_depth = max_json_depth
        self.ide_html = ide_html
        self.ide_csp = page_csp(ide_html) if ide_html is not None else None

    @property
    def graphql_ide_html(self) -> str:
        return self.ide_html if self.ide_html is not None else super().graphql_ide_html

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        media_type = negotiate(request.headers.get("accept"))
        try:
            response = await self._answer(request, media_type)
        except HttpRefusal as refusal:
            response = refusal.response(media_type or JSON)
        await response(scope, receive, send)

    async def _answer(self, request: Request, media_type: str | None) -> Response:
        if request.method not in ("GET", "POST"):  # HEAD reaches here: Starlette routes it with GET
            raise HttpRefusal(
                405,
                "METHOD_NOT_ALLOWED",
                f"GraphQL is served with GET (queries) and POST, not {request.method}.",
                part="method",
                expected="GET or POST",
                headers={"Allow": "GET, POST"},
            )
        adapter = self.request_adapter_class(request)
        if self.should_render_graphql_ide(adapter):
            if self.graphql_ide is None:
                raise HttpRefusal(
                    404,
                    "NOT_FOUND",
                    "GraphiQL is off (server.graphiql); send a query with POST or as ?query=.",
                    part="query",
                    expected="a `query` parameter",
                )
            return await self.render_graphql_ide(request)
        if self.csrf:
            check_preflight(request)
        if media_type is None:
            raise HttpRefusal(
                406,
                "NOT_ACCEPTABLE",
                f"The Accept header allows neither GraphQL media type: {request.headers.get('accept', '')[:200]!r}.",
                part="headers.accept",
                expected=SUPPORTED,
            )
        # Who asks, before the body is read: an unauthenticated client costs no more than its headers.
        principal = request.state.principal = self._principal(request)
        if self.rate_limiter is not None:
            await self._take_token(request, principal)
        data, document_id = await read_graphql_request(request, self.max_json_depth)
        may_explore = principal is not None and not principal.roles.isdisjoint(self.explorers)
        try:
            data.query = document_to_run(
                data.query,
                requested_hash(data.extensions, document_id),
                self.documents,
                required=self.production,
                may_explore=may_explore,
            )
        except HttpRefusal as refusal:
            if refusal.status == 403:  # a document this principal may not send: a denial, for the audit trail
                subject = principal.subject if principal is not None else ""
                self.runtime_getter().denied(refusal.code, _client(request), refusal.code, subject)
            raise
        request.state.graphql_exchange = _Exchange(media_type, data)
        try:
            response: Response = await self.run(request)
        except HTTPException as exc:
            raise _refusal_of(exc, request.method) from exc
        return response

    def _principal(self, request: Request) -> Principal | None:
        if self.authenticator is None:
            return None
        try:
            return self.authenticator.principal(request.headers)
        except Unauthenticated as refused:
            self.runtime_getter().denied(refused.reason, _client(request))
            raise unauthenticated(refused) from None

    async def _take_token(self, request: Request, principal: Principal | None) -> None:
        assert self.rate_limiter is not None
        if principal is None or principal.via == "anonymous":
            # Requests without credentials share no subject: each client address gets its own bucket.
            key = f"addr:{request.client.host if request.client else 'unknown'}"
        else:
            key = f"sub:{principal.subject}"
        decision = await self.rate_limiter.take(key)
        if decision.allowed:
            return
        config = self.rate_limiter.config
        retry_after = self.rate_limiter.retry_after(decision)
        raise HttpRefusal(
            429,
            "RATE_LIMITED",
            f"Rate limit of {config.rate_per_s:g} requests per second (bursts of {config.burst}) exceeded for "
            f"this principal (rate_limit.rate_per_s); retry after {retry_after} s.",
            part="principal",
            expected=f"at most {config.rate_per_s:g} requests per second, {config.burst} at once",
            limit=config.rate_per_s,
            headers={"Retry-After": str(retry_after)},
        )

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET naming a trusted document carries no `query` either: it asks for an answer, not the page.
        params = request.query_params
        return super().should_render_graphql_ide(request) and not (params.get("extensions") or params.get("documentId"))

    async def render_graphql_ide(self, request: Request) -> Response:
        response = await super().render_graphql_ide(request)
        if self.ide_csp is not None:
            response.headers["Content-Security-Policy"] = self.ide_csp
        return response

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        assert isinstance(request, _RequestAdapter)
        return _exchange(request.request).data

    def encode_json(self, data: object) -> bytes:
        # A customer-360 answer is tens of kilobytes: orjson writes it in a fraction of json.dumps's time.
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    async def on_ws_connect(self, context: RequestContext) -> UnsetType | dict[str, object] | None:
        websocket: WebSocket = context.connection
        if self.authenticator is None:
            return _ACK
        headers = credentials_of(context.connection_params, websocket.headers)
        try:
            principal = self.authenticator.principal(headers)
        except Unauthenticated as refused:
            self.runtime_getter().denied(refused.reason, context.client)
            raise ConnectionRejectionError({"reason": refused.reason}) from None
        admit(context, principal, self.policy)
        return _ACK

    async def get_context(self, request: Any, response: Any) -> RequestContext:
        if isinstance(request, WebSocket):
            context = self.runtime_getter().context(explain=False, client=_client(request))
            context.connection = request
            context.close_connection = closer(request)
            return context
        exchange: _Exchange | None = getattr(request.state, "graphql_exchange", None)
        extensions = (exchange.data.extensions if exchange is not None else None) or {}
        principal: Principal | None = getattr(request.state, "principal", None)
        actor = principal.subject if principal is not None else ANONYMOUS
        if principal is None or principal.via == "anonymous":
            # Development only: with no principal to name, the header may say who makes a decision.
            actor = request.headers.get(ACTOR_HEADER, "").strip() or actor
        return self.runtime_getter().context(
            explain=extensions.get("explain") is True,
            trace_context=trace_context_of(request.headers),
            actor=actor,
            principal=principal,
            client=_client(request),
        )

    async def get_sub_response(self, request: Any) -> Response:
        sub_response = _SubResponse()
        sub_response.status_code = None  # type: ignore[assignment]
        del sub_response.headers["content-length"]
        sub_response.exchange = _exchange(request)
        return sub_response

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        answer = await super().process_result(request, result)
        exchange = _exchange(request)
        if exchange.media_type == GRAPHQL_RESPONSE and _is_request_error(result):
            # "If the GraphQL response does not contain the data entry then the server MUST reply with a 4xx
            # or 5xx status code"; a request error has none: execution never started.
            answer.pop("data", None)
            exchange.status = 400
        return answer

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        assert isinstance(sub_response, _SubResponse)
        exchange = sub_response.exchange
        response = Response(
            self.encode_json(response_data),
            status_code=sub_response.status_code or exchange.status,
            media_type=exchange.media_type,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        return response


_ACK = cast(UnsetType, UNSET)  # connection_ack without a payload


def _client(request: HTTPConnection) -> str:
    return request.client.host if request.client is not None else ""


def _is_request_error(result: ExecutionResult) -> bool:
    """No data and no error at a field path: the document did not parse or validate, or a variable did not
    coerce (field errors always carry a path)."""
    return result.data is None and bool(result.errors) and all(not error.path for error in result.errors or ())


def _refusal_of(exc: HTTPException, method: str) -> HttpRefusal:
    """strawberry's own refusals (raised while executing) as precise ones."""
    if isinstance(exc.__cause__, InvalidOperationTypeError) and method == "GET":
        kind = exc.__cause__.operation_type.value
        return HttpRefusal(
            405,
            "METHOD_NOT_ALLOWED",
            f"A {kind} cannot be sent with GET; send it with POST.",
            part="method",
            expected="POST",
            headers={"Allow": "POST"},
        )
    part = "operationName" if isinstance(exc.__cause__, CannotGetOperationTypeError) else "query"
    return HttpRefusal(exc.status_code, "BAD_REQUEST", exc.reason, part=part)
