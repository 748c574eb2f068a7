"""The GraphQL schema of the unified customer graph."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from crmgraph.observability.operations import OperationMetrics
from crmgraph.observability.tracing import OperationTracing
from crmgraph.policy import QueryLimiter, QueryLimits
from crmgraph.policy.roles import PolicyConfig
from crmgraph.schema.assignment import AssignmentMutation, AssignmentQuery, AssignmentSubscription
from crmgraph.schema.audit_trail import AuditTrail
from crmgraph.schema.authorization import MutationPermissions
from crmgraph.schema.crm_mutations import CrmMutation
from crmgraph.schema.customer import Customer
from crmgraph.schema.deadline import RequestDeadline
from crmgraph.schema.eager import eager_resolvers
from crmgraph.schema.explain import UpstreamExplain
from crmgraph.schema.extension_hooks import KnownHooksRunner
from crmgraph.schema.field_policy import guard_fields
from crmgraph.schema.marketing import Campaign, Lead, Segment
from crmgraph.schema.masking import ClientFacingErrors
from crmgraph.schema.nodes import Contact, Deal, Interaction, Invoice, Order, Owner, Ticket
from crmgraph.schema.order_mutations import OrderMutation
from crmgraph.schema.plain_fields import mark_plain_fields
from crmgraph.schema.query import Query
from crmgraph.schema.reports import ReportsQuery
from crmgraph.schema.review import ReviewCandidate
from crmgraph.schema.saga_mutations import SagaMutation
from crmgraph.schema.shared_answers import SharedEventExecution
from crmgraph.schema.staleness import StaleMarker
from crmgraph.schema.stewardship import Mutation
from crmgraph.schema.subscription import Subscription
from crmgraph.schema.ticket_mutations import TicketMutation
from crmgraph.schema.validated import ValidatedDocuments


class _RememberedNames(NameConverter):
    """strawberry's names, each worked out once: it converts every argument's name on every call of a
    field with arguments (a connection's ``first``, ``after`` and filters, for each row of a page)."""

    def __init__(self) -> None:
        super().__init__()
        self._converted: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        converted = self._converted.get(name)
        if converted is None:
            converted = self._converted[name] = super().apply_naming_config(name)
        return converted


class _Schema(strawberry.Schema):
    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return KnownHooksRunner(execution_context, extensions)

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Strawberry logs every error with a traceback. Upstream faults and client mistakes are expected
        # and reach the client typed; unexpected ones are logged once, by masking.should_mask.
        return None


def build_schema(
    limits: QueryLimits | None = None, policy: PolicyConfig | None = None, audited: Iterable[str] = ()
) -> strawberry.Schema:
    """The schema; ``limits`` (the config's ``limits:`` section, else the defaults) bound what a document may
    cost, checked before it is validated or run; the fields ``policy`` denies or masks, and the ``audited``
    ones (``audit.personal_data``), are guarded (:mod:`crmgraph.schema.field_policy`)."""
    schema = _Schema(
        query=merge_types("Query", (Query, AssignmentQuery, ReportsQuery)),
        mutation=merge_types(
            "Mutation", (Mutation, TicketMutation, CrmMutation, OrderMutation, SagaMutation, AssignmentMutation)
        ),
        subscription=merge_types("Subscription", (Subscription, AssignmentSubscription)),
        types=[
            Customer,
            Contact,
            Owner,
            Deal,
            Interaction,
            Order,
            Invoice,
            Ticket,
            ReviewCandidate,
            Lead,
            Campaign,
            Segment,
        ],
        execution_context_class=SharedEventExecution,
        config=StrawberryConfig(name_converter=_RememberedNames()),  # a subscription event answered once per share key
        extensions=[
            # First: parse within the token limit and refuse a document past a query limit before anything
            # else reads it. Frontends send the same few documents over and over: parse and validate each once.
            lambda: QueryLimiter(limits),
            ValidatedDocuments,
            MutationPermissions,  # before anything runs: a mutation a role may not run does not half-run
            RequestDeadline,
            OperationTracing,  # before the others: the span covers their work
            UpstreamExplain,
            OperationMetrics,
            StaleMarker,
            AuditTrail,
            ClientFacingErrors,  # client mistakes as they are, upstream faults by code and source, the rest masked
        ],
    )
    # Before the guards: they wrap whatever the field resolves with, and keep a synchronous answer synchronous.
    converter = schema.schema_converter
    if converter.exception_handlers:  # handlers wrap strawberry's resolvers: keep them, only eager
        eager_resolvers(schema._schema)
    else:
        eager_resolvers(schema._schema, schema.config, converter.scalar_registry)
    guard_fields(schema._schema, policy or PolicyConfig(), audited)
    mark_plain_fields(schema._schema)  # after the guards: a guarded field has a resolver of its own
    return schema
