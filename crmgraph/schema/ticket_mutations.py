"""Service's writes: open a ticket for a customer, change its status, priority or assignee, answer on it.

Each goes to the system that holds tickets (the first configured source that can write them), once per
idempotency key (:mod:`crmgraph.writes.perform`), and answers with the ticket as that system now holds
it. A change that names the `version` it read is refused with ``CONFLICT`` when the ticket changed since.
A customer or ticket outside the principal's row scope is answered as one that does not exist.
"""

from __future__ import annotations

from typing import Any, TypeVar

import strawberry

from crmgraph import records
from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.writes import WriteOp
from crmgraph.errors import ClientError
from crmgraph.resolvers.scope import customer_in_scope, party_in_scope
from crmgraph.schema.ids import decode_id, decode_number
from crmgraph.schema.nodes import Info, Ticket
from crmgraph.schema.scalars import TicketPriority, TicketStatus
from crmgraph.schema.user_errors import UserError, UserErrorCode
from crmgraph.writes.perform import Writer, Written

_KEY = (
    "A key the client makes for this change (a UUID) and sends again when it retries: the change is made once, "
    "and a retry gets the first answer."
)
_VERSION = "The ticket's `version` as you read it: the change is refused with CONFLICT if the ticket changed since."
SUBJECT_LIMIT, BODY_LIMIT = 250, 65_000


@strawberry.input(description="What ticketCreate needs.")
class TicketCreateInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer the ticket is from.")
    subject: str
    description: str = strawberry.field(description="The first comment: what the customer asks.")
    priority: TicketPriority | None = None
    requester_id: strawberry.ID | None = strawberry.field(
        default=None, description="The contact who asks (one known to the ticket system); none: the API user."
    )
    idempotency_key: str = strawberry.field(description=_KEY)


@strawberry.input(description="What ticketUpdate needs: the ticket and what changes; what is not given stays.")
class TicketUpdateInput:
    ticket_id: strawberry.ID
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    assignee_id: str | None = strawberry.field(default=None, description="The agent's id in the ticket system.")
    version: str | None = strawberry.field(default=None, description=_VERSION)
    idempotency_key: str = strawberry.field(description=_KEY)


@strawberry.input(description="What ticketCommentAdd needs.")
class TicketCommentAddInput:
    ticket_id: strawberry.ID
    body: str
    public: bool = strawberry.field(default=True, description="False: an internal note the customer does not see.")
    version: str | None = strawberry.field(default=None, description=_VERSION)
    idempotency_key: str = strawberry.field(description=_KEY)


@strawberry.type
class TicketPayload:
    """What every ticket mutation answers (each under its own name, as the schema's rules ask)."""

    ticket: Ticket | None = strawberry.field(description="The ticket as its system now holds it.")
    replayed: bool = strawberry.field(
        description="True when this answers a retry: the change was made by the first request with the key."
    )
    user_errors: list[UserError] = strawberry.field(description="What could not be done; then nothing was changed.")


@strawberry.type(description="What ticketCreate did.")
class TicketCreatePayload(TicketPayload):
    pass


@strawberry.type(description="What ticketUpdate did.")
class TicketUpdatePayload(TicketPayload):
    pass


@strawberry.type(description="What ticketCommentAdd did.")
class TicketCommentAddPayload(TicketPayload):
    pass


P = TypeVar("P", bound=TicketPayload)


def _as(kind: type[P], answer: TicketPayload) -> P:
    return kind(ticket=answer.ticket, replayed=answer.replayed, user_errors=answer.user_errors)


def _error(field: list[str] | None, message: str, code: UserErrorCode) -> TicketPayload:
    return TicketPayload(ticket=None, replayed=False, user_errors=[UserError(field=field, message=message, code=code)])


def _ticket_system(info: Info) -> Adapter | None:
    for adapter in info.context.loaders.adapters.values():
        if ("ticket", "create") in adapter.writable:
            return adapter
    return None


def _subject(info: Info) -> str:
    principal = info.context.principal
    return principal.subject if principal is not None else info.context.actor


def _text(value: str, name: str, limit: int) -> str:
    """``value`` stripped; a :class:`ClientError` naming the input field when empty or too long."""
    if not value.strip():
        raise ClientError(f"input.{name}: must not be blank")
    if len(value) > limit or "\x00" in value:
        raise ClientError(f"input.{name}: at most {limit} characters and no NUL character")
    return value.strip()


async def _write(info: Info, adapter: Adapter, op: WriteOp, key: str, operation: str, arguments: Any) -> TicketPayload:
    store = info.context.idempotency
    if store is None:
        raise ClientError("writes are not available: the facade has no store for idempotency records")
    written = await Writer(store, info.context.loaders.cache, info.context.events).write(
        adapter, op, subject=_subject(info), key=key, operation=operation, arguments=arguments
    )
    return _payload(written)


def _payload(written: Written) -> TicketPayload:
    if written.problem is not None:
        code = UserErrorCode[written.problem]
        messages = {
            "IDEMPOTENCY_KEY_REUSED": "this idempotency key was used for a different change; make a new key",
            "IN_PROGRESS": "a request with this idempotency key is still running; ask again shortly",
            "OUTCOME_UNKNOWN": "an earlier attempt with this key may or may not have been applied: check the ticket",
        }
        return _error(["input", "idempotencyKey"], messages[written.problem], code)
    if written.refusals:
        return TicketPayload(ticket=None, replayed=written.replayed, user_errors=[
            UserError(field=["input", _input_name(r.field)] if r.field else None, message=r.message,
                      code=UserErrorCode[r.code]) for r in written.refusals
        ])  # fmt: skip
    record = written.record
    ticket = Ticket.of(record) if isinstance(record, records.TicketRecord) else None
    return TicketPayload(ticket=ticket, replayed=written.replayed, user_errors=[])


def _input_name(field: str) -> str:
    """The input field a canonical field arrives in."""
    if field in ("party", "comment"):
        return {"party": "customerId", "comment": "body"}[field]
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


async def _ticket(info: Info, ticket_id: str) -> tuple[Adapter, records.TicketRecord] | TicketPayload:
    _, parts = decode_id(ticket_id, "Ticket", argument="input.ticketId")
    source, number = parts[0], ":".join(parts[1:])
    adapter = info.context.loaders.adapters.get(source)
    if adapter is None or ("ticket", "update") not in adapter.writable:
        return _error(["input", "ticketId"], f"{source} cannot change tickets", UserErrorCode.NOT_WRITABLE)
    found = await info.context.loaders.by_id(source, "ticket").load(number)
    missing = _error(["input", "ticketId"], f"no ticket {ticket_id}", UserErrorCode.NOT_FOUND)
    if not isinstance(found, records.TicketRecord):
        return missing
    if not await party_in_scope(info.context.loaders, info.context.access, (source, found.party_id or "")):
        return missing  # outside the principal's scope: as if it did not exist
    audit = info.context.audit
    if audit is not None and found.party_id:
        audit.touched.parties.add((source, found.party_id))
    return adapter, found


async def _create(info: Info, input: TicketCreateInput) -> TicketPayload:
    customer_id = decode_number(input.customer_id, "Customer", argument="input.customerId")
    subject = _text(input.subject, "subject", SUBJECT_LIMIT)
    description = _text(input.description, "description", BODY_LIMIT)
    loaders, access = info.context.loaders, info.context.access
    links = await loaders.links.load(customer_id)
    if not links or not await customer_in_scope(loaders, access, customer_id):
        return _error(["input", "customerId"], f"no customer has the id {customer_id}", UserErrorCode.NOT_FOUND)
    adapter = _ticket_system(info)
    if adapter is None:
        return _error(None, "no configured system can open tickets", UserErrorCode.NOT_WRITABLE)
    organization = next((link.source_id for link in links
                         if link.entity == "party" and link.source == adapter.source), None)  # fmt: skip
    if organization is None:
        said = f"the customer has no organization in {adapter.source}; link one first"
        return _error(["input", "customerId"], said, UserErrorCode.NOT_WRITABLE)
    values: dict[str, Any] = {"subject": subject, "description": description}
    if input.priority is not None:
        values["priority"] = input.priority
    if input.requester_id is not None:
        _, parts = decode_id(input.requester_id, "Contact", argument="input.requesterId")
        if parts[0] != adapter.source:
            said = f"the requester must be a contact in {adapter.source}"
            return _error(["input", "requesterId"], said, UserErrorCode.INVALID)
        values["requester_id"] = ":".join(parts[1:])
    if info.context.audit is not None:
        info.context.audit.touched.customers.add(customer_id)
    op = WriteOp("ticket", "create", values, links={"party": organization}, idempotency_key=input.idempotency_key)
    arguments = {"customer": customer_id, **{k: str(v) for k, v in values.items()}}
    return await _write(info, adapter, op, input.idempotency_key, "ticketCreate", arguments)


async def _update(info: Info, input: TicketUpdateInput) -> TicketPayload:
    found = await _ticket(info, input.ticket_id)
    if isinstance(found, TicketPayload):
        return found
    adapter, ticket = found
    values: dict[str, Any] = {}
    if input.status is not None:
        values["status"] = input.status
    if input.priority is not None:
        values["priority"] = input.priority
    if input.assignee_id is not None:
        values["assignee_id"] = input.assignee_id
    if not values:
        return _error(["input"], "name at least one of status, priority, assigneeId", UserErrorCode.BLANK)
    op = WriteOp("ticket", "update", values, record_id=ticket.source_id, expected_version=input.version)
    arguments = {"ticket": ticket.source_id, "version": input.version, **{k: str(v) for k, v in values.items()}}
    return await _write(info, adapter, op, input.idempotency_key, "ticketUpdate", arguments)


async def _comment(info: Info, input: TicketCommentAddInput) -> TicketPayload:
    body = _text(input.body, "body", BODY_LIMIT)
    found = await _ticket(info, input.ticket_id)
    if isinstance(found, TicketPayload):
        return found
    adapter, ticket = found
    comment = {"body": body, "public": input.public}
    op = WriteOp("ticket", "update", {"comment": comment}, record_id=ticket.source_id,
                 expected_version=input.version)  # fmt: skip
    arguments = {"ticket": ticket.source_id, "version": input.version, **comment}
    return await _write(info, adapter, op, input.idempotency_key, "ticketCommentAdd", arguments)


@strawberry.type
class TicketMutation:
    @strawberry.mutation(description="Open a ticket for a customer in the ticket system (its organization there).")
    async def ticket_create(self, info: Info, input: TicketCreateInput) -> TicketCreatePayload:
        return _as(TicketCreatePayload, await _create(info, input))

    @strawberry.mutation(description="Change a ticket's status, priority or assignee.")
    async def ticket_update(self, info: Info, input: TicketUpdateInput) -> TicketUpdatePayload:
        return _as(TicketUpdatePayload, await _update(info, input))

    @strawberry.mutation(description="Answer on a ticket (a public reply) or add an internal note.")
    async def ticket_comment_add(self, info: Info, input: TicketCommentAddInput) -> TicketCommentAddPayload:
        return _as(TicketCommentAddPayload, await _comment(info, input))
