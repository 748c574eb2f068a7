"""The inputs and payloads of sales' mutations (:mod:`crmgraph.schema.crm_mutations`): one payload type per
mutation, named after it, each with the record as its system now holds it, ``replayed`` and ``userErrors``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from crmgraph.schema.customer import Customer
from crmgraph.schema.nodes import Contact, Deal, Interaction
from crmgraph.schema.scalars import InteractionKind
from crmgraph.schema.user_errors import UserError
from crmgraph.schema.writing import KEY_DESCRIPTION

_VERSION = "The record's `version` as you read it: the change is refused with CONFLICT if it changed since."
_REPLAYED = "True when this answers a retry: the change was made by the first request with the key."
_ERRORS = "What could not be done; then nothing was changed."


@strawberry.input(
    description="What customerUpdate needs: the customer and the golden fields that change (what is not given "
    "stays). Each field is written to the system the configuration names as its owner (`writes.owners`)."
)
class CustomerUpdateInput:
    customer_id: strawberry.ID
    name: str | None = None
    phone: str | None = None
    domain: str | None = None
    industry: str | None = None
    tax_id: str | None = None
    address: str | None = strawberry.field(default=None, description="The street address line.")
    postal_code: str | None = None
    city: str | None = None
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2 code, e.g. DE.")
    lifecycle_stage: str | None = strawberry.field(default=None, description="As the CRM names it: lead, customer.")
    version: str | None = strawberry.field(
        default=None,
        description="The customer's `version(system:)` in the system written, as you read it: the change is "
        "refused with CONFLICT if that record changed since.",
    )
    idempotency_key: str = strawberry.field(description=KEY_DESCRIPTION)


@strawberry.input(description="What contactCreate needs: a new contact at a customer, in the CRM.")
class ContactCreateInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer the person works for.")
    first_name: str
    last_name: str
    email: str | None = strawberry.field(default=None, description="Unique among the CRM's contacts.")
    phone: str | None = None
    job_title: str | None = None
    idempotency_key: str = strawberry.field(description=KEY_DESCRIPTION)


@strawberry.input(description="What contactUpdate needs: the contact and what changes; what is not given stays.")
class ContactUpdateInput:
    contact_id: strawberry.ID
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    job_title: str | None = None
    version: str | None = strawberry.field(default=None, description=_VERSION)
    idempotency_key: str = strawberry.field(description=KEY_DESCRIPTION)


@strawberry.input(description="What dealCreate needs: a new deal with a customer, in the CRM.")
class DealCreateInput:
    customer_id: strawberry.ID
    name: str
    amount: Decimal | None = None
    currency_code: str | None = strawberry.field(default=None, description="ISO 4217, e.g. EUR.")
    stage: str | None = strawberry.field(
        default=None, description="The stage as the CRM names it (`Deal.stageLabel`); none: the pipeline's first."
    )
    close_date: date | None = None
    idempotency_key: str = strawberry.field(description=KEY_DESCRIPTION)


@strawberry.input(description="What dealUpdate needs: the deal and what changes (move it to another stage, ...).")
class DealUpdateInput:
    deal_id: strawberry.ID
    stage: str | None = strawberry.field(
        default=None, description="The stage as the CRM names it (`Deal.stageLabel`): closedwon wins the deal."
    )
    amount: Decimal | None = None
    close_date: date | None = None
    version: str | None = strawberry.field(default=None, description=_VERSION)
    idempotency_key: str = strawberry.field(description=KEY_DESCRIPTION)


@strawberry.input(description="What interactionLog needs: a call, meeting, note or e-mail with a customer.")
class InteractionLogInput:
    customer_id: strawberry.ID
    kind: InteractionKind
    title: str | None = strawberry.field(default=None, description="A note has none.")
    body: str
    occurred_at: datetime | None = strawberry.field(default=None, description="When it happened; none: now.")
    idempotency_key: str = strawberry.field(description=KEY_DESCRIPTION)


@strawberry.type(description="What customerUpdate did.")
class CustomerUpdatePayload:
    customer: Customer | None = strawberry.field(description="The customer, read afresh after the change.")
    replayed: bool = strawberry.field(description=_REPLAYED)
    user_errors: list[UserError] = strawberry.field(description=_ERRORS)


@strawberry.type(description="What contactCreate did.")
class ContactCreatePayload:
    contact: Contact | None = strawberry.field(description="The contact as the CRM now holds it.")
    replayed: bool = strawberry.field(description=_REPLAYED)
    user_errors: list[UserError] = strawberry.field(description=_ERRORS)


@strawberry.type(description="What contactUpdate did.")
class ContactUpdatePayload:
    contact: Contact | None = strawberry.field(description="The contact as the CRM now holds it.")
    replayed: bool = strawberry.field(description=_REPLAYED)
    user_errors: list[UserError] = strawberry.field(description=_ERRORS)


@strawberry.type(description="What dealCreate did.")
class DealCreatePayload:
    deal: Deal | None = strawberry.field(description="The deal as the CRM now holds it.")
    replayed: bool = strawberry.field(description=_REPLAYED)
    user_errors: list[UserError] = strawberry.field(description=_ERRORS)


@strawberry.type(description="What dealUpdate did.")
class DealUpdatePayload:
    deal: Deal | None = strawberry.field(description="The deal as the CRM now holds it.")
    replayed: bool = strawberry.field(description=_REPLAYED)
    user_errors: list[UserError] = strawberry.field(description=_ERRORS)


@strawberry.type(description="What interactionLog did.")
class InteractionLogPayload:
    interaction: Interaction | None = strawberry.field(description="The interaction as the CRM now holds it.")
    replayed: bool = strawberry.field(description=_REPLAYED)
    user_errors: list[UserError] = strawberry.field(description=_ERRORS)
