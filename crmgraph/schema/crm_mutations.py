"""Sales' writes: a customer's golden fields, contacts, deals moved through their stages, interactions logged.

Each goes to the system of record (contacts, deals and interactions: the first configured source that can
write them, the CRM; a customer's fields: each field's owner, :mod:`crmgraph.schema.customer_update`), once
per idempotency key, and answers with the record as that system now holds it. A change that names the
`version` it read is refused with ``CONFLICT`` when the record changed since. A customer or record outside
the principal's row scope is answered as one that does not exist.
"""

from __future__ import annotations

from typing import Any

import strawberry

from crmgraph import records
from crmgraph.adapters.sdk.writes import WriteOp
from crmgraph.schema.crm_mutation_types import (
    ContactCreateInput,
    ContactCreatePayload,
    ContactUpdateInput,
    ContactUpdatePayload,
    CustomerUpdateInput,
    CustomerUpdatePayload,
    DealCreateInput,
    DealCreatePayload,
    DealUpdateInput,
    DealUpdatePayload,
    InteractionLogInput,
    InteractionLogPayload,
)
from crmgraph.schema.customer_update import customer_update
from crmgraph.schema.nodes import Contact, Deal, Info, Interaction
from crmgraph.schema.user_errors import UserErrorCode
from crmgraph.schema.writing import (
    Outcome,
    customer_links,
    existing,
    input_name,
    party_in,
    perform,
    refuse,
    text,
    writer_of,
)

NAME_LIMIT, BODY_LIMIT = 250, 65_000


def _present(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _arguments(values: dict[str, Any], **more: Any) -> dict[str, Any]:
    """What the idempotency fingerprint is made of: the change as plain strings."""
    return {**more, **{name: str(value) for name, value in values.items()}}


async def _create(info: Info, entity: str, customer: strawberry.ID, values: dict[str, Any], key: str,
                  operation: str) -> Outcome:  # fmt: skip
    """A new record of ``entity`` for the customer, associated with its company in the system of record."""
    found = await customer_links(info, customer)
    if isinstance(found, Outcome):
        return found
    customer_id, links = found
    adapter = writer_of(info, entity, "create")
    if adapter is None:
        return refuse(None, f"no configured system can create a {entity}", UserErrorCode.NOT_WRITABLE)
    company = party_in(links, adapter.source)
    if company is None:
        said = f"the customer has no company in {adapter.source}; link one first"
        return refuse(["input", "customerId"], said, UserErrorCode.NOT_WRITABLE)
    op = WriteOp(entity, "create", values, links={"party": company}, idempotency_key=key)
    return await perform(info, adapter, op, key, operation, _arguments(values, customer=customer_id))


async def _update(info: Info, node_id: strawberry.ID, type_name: str, entity: str, values: dict[str, Any],
                  version: str | None, key: str, operation: str) -> Outcome:  # fmt: skip
    argument = f"{type_name[0].lower()}{type_name[1:]}Id"
    found = await existing(info, node_id, type_name, entity, argument)
    if isinstance(found, Outcome):
        return found
    if not values:
        return refuse(["input"], "name at least one field to change", UserErrorCode.BLANK)
    adapter, record = found
    party = getattr(record, "party_id", None)
    op = WriteOp(entity, "update", values, record_id=record.source_id, expected_version=version,
                 links={"party": party} if party else {})  # fmt: skip
    arguments = _arguments(values, record=record.source_id, version=version)
    return await perform(info, adapter, op, key, operation, arguments)


def _person_values(first: str | None, last: str | None, email: str | None, phone: str | None,
                   job_title: str | None) -> dict[str, Any]:  # fmt: skip
    given = _present(first_name=first, last_name=last, email=email, phone=phone, job_title=job_title)
    return {name: text(value, input_name(name), NAME_LIMIT) for name, value in given.items()}


def _contact(outcome: Outcome) -> Contact | None:
    return Contact.of(outcome.record) if isinstance(outcome.record, records.PersonRecord) else None


def _deal(outcome: Outcome) -> Deal | None:
    return Deal.of(outcome.record) if isinstance(outcome.record, records.DealRecord) else None


@strawberry.type
class CrmMutation:
    @strawberry.mutation(
        description="Change a customer's golden fields (name, phone, domain, ...): each in the system that owns it."
    )
    async def customer_update(self, info: Info, input: CustomerUpdateInput) -> CustomerUpdatePayload:
        customer, outcome = await customer_update(info, input)
        return CustomerUpdatePayload(customer=customer, replayed=outcome.replayed, user_errors=outcome.errors)

    @strawberry.mutation(description="Add a contact at a customer, in the CRM (with the customer's company).")
    async def contact_create(self, info: Info, input: ContactCreateInput) -> ContactCreatePayload:
        values = _person_values(input.first_name, input.last_name, input.email, input.phone, input.job_title)
        outcome = await _create(info, "person", input.customer_id, values, input.idempotency_key, "contactCreate")
        return ContactCreatePayload(contact=_contact(outcome), replayed=outcome.replayed, user_errors=outcome.errors)

    @strawberry.mutation(description="Change a contact's name, e-mail, phone or job title.")
    async def contact_update(self, info: Info, input: ContactUpdateInput) -> ContactUpdatePayload:
        values = _person_values(input.first_name, input.last_name, input.email, input.phone, input.job_title)
        outcome = await _update(info, input.contact_id, "Contact", "person", values, input.version,
                                input.idempotency_key, "contactUpdate")  # fmt: skip
        return ContactUpdatePayload(contact=_contact(outcome), replayed=outcome.replayed, user_errors=outcome.errors)

    @strawberry.mutation(description="Open a deal with a customer, in the CRM.")
    async def deal_create(self, info: Info, input: DealCreateInput) -> DealCreatePayload:
        if input.amount is not None and input.currency_code is None:
            said = "give the amount's currency: a deal's amount is read back with it"
            return DealCreatePayload(deal=None, replayed=False, user_errors=refuse(
                ["input", "currencyCode"], said, UserErrorCode.BLANK).errors)  # fmt: skip
        name = text(input.name, "name", NAME_LIMIT)
        values = _present(name=name, amount=input.amount, currency_code=input.currency_code, stage=input.stage,
                          close_date=input.close_date)  # fmt: skip
        outcome = await _create(info, "deal", input.customer_id, values, input.idempotency_key, "dealCreate")
        return DealCreatePayload(deal=_deal(outcome), replayed=outcome.replayed, user_errors=outcome.errors)

    @strawberry.mutation(description="Move a deal to another stage, or change its amount or close date.")
    async def deal_update(self, info: Info, input: DealUpdateInput) -> DealUpdatePayload:
        values = _present(stage=input.stage, amount=input.amount, close_date=input.close_date)
        outcome = await _update(info, input.deal_id, "Deal", "deal", values, input.version, input.idempotency_key,
                                "dealUpdate")  # fmt: skip
        return DealUpdatePayload(deal=_deal(outcome), replayed=outcome.replayed, user_errors=outcome.errors)

    @strawberry.mutation(description="Log a call, meeting, note or e-mail with a customer, in the CRM.")
    async def interaction_log(self, info: Info, input: InteractionLogInput) -> InteractionLogPayload:
        title = text(input.title, "title", NAME_LIMIT) if input.title is not None else None
        values = _present(kind=input.kind, title=title, body=text(input.body, "body", BODY_LIMIT),
                          occurred_at=input.occurred_at)  # fmt: skip
        outcome = await _create(info, "interaction", input.customer_id, values, input.idempotency_key,
                                "interactionLog")  # fmt: skip
        record = outcome.record
        interaction = Interaction.of(record) if isinstance(record, records.InteractionRecord) else None
        return InteractionLogPayload(interaction=interaction, replayed=outcome.replayed, user_errors=outcome.errors)
