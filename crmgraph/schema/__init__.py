"""The GraphQL schema of the unified customer graph."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache

from crmgraph.errors import ClientError, SourceError
from crmgraph.observability.operations import OperationMetrics
from crmgraph.observability.tracing import OperationTracing
from crmgraph.schema.customer import Customer
from crmgraph.schema.deadline import RequestDeadline
from crmgraph.schema.explain import UpstreamExplain
from crmgraph.schema.nodes import Contact, Deal, Interaction, Invoice, Order, Owner, Ticket
from crmgraph.schema.query import Query
from crmgraph.schema.review import ReviewCandidate
from crmgraph.schema.staleness import StaleMarker
from crmgraph.schema.stewardship import Mutation

log = logging.getLogger("crmgraph.errors")


def _should_mask(error: GraphQLError) -> bool:
    """Show client mistakes and upstream faults as they are; mask everything unexpected (and log it)."""
    original = error.original_error
    if original is None or isinstance(original, SourceError | ClientError | GraphQLError):
        return False
    log.error("unexpected error at %s", error.path, exc_info=original)
    return True


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Strawberry logs every error with a traceback. Upstream faults and client mistakes are expected
        # and reach the client typed; unexpected ones are logged once, by _should_mask.
        return None


def build_schema() -> strawberry.Schema:
    return _Schema(
        query=Query,
        mutation=Mutation,
        types=[Customer, Contact, Owner, Deal, Interaction, Order, Invoice, Ticket, ReviewCandidate],
        extensions=[
            # Frontends send the same few documents over and over: parse and validate each once.
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            RequestDeadline,
            OperationTracing,  # before the others: the span covers their work
            UpstreamExplain,
            OperationMetrics,
            StaleMarker,
            lambda: MaskErrors(should_mask_error=_should_mask, error_message="Internal error"),
        ],
    )
