"""Stewardship mutations: a data steward links, unlinks, merges and splits customers and decides review candidates.

Each mutation is one action of :class:`~crmgraph.identity.stewardship.Stewardship`, run in a worker thread
in one transaction, recorded with who, when and why, and obeyed by every later ``crmgraph link``. Mistakes
in the input are ``userErrors`` (Shopify's design): the path of the input field at fault, a message that
says what to fix, and a code. Nothing is written when there is one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

import strawberry

from crmgraph.errors import ClientError
from crmgraph.identity.stewardship import StewardError, Stewardship
from crmgraph.identity.store import SourceRecord
from crmgraph.resolvers import identity_reads
from crmgraph.resolvers.scope import customer_in_scope, party_in_scope
from crmgraph.schema.customer import Customer
from crmgraph.schema.ids import decode_number, encode_id
from crmgraph.schema.nodes import Info
from crmgraph.schema.user_errors import UserError, UserErrorCode

T = TypeVar("T")
ACTOR_LIMIT = 255  # the store's column
RECORD_ID_LIMIT = 128  # the store's column
REASON_LIMIT = 10_000  # a paragraph or a few: enough to say why, not a place for documents
WHO = (
    " Recorded with who (the principal's subject; under the anonymous role, the request's `X-Crmgraph-Actor` "
    "header), when and why; every later `crmgraph link` obeys it."
)


@strawberry.input(description="A record in one system: the source's configured name and the record's id there.")
class SourceRecordInput:
    system: str = strawberry.field(description="The configured source name, e.g. crm, erp, tickets.")
    record_id: str = strawberry.field(description="The record's id in that system (as `sources { recordId }` shows).")


_REASON = "Why: kept with the decision for whoever looks at it later. Required."
_ERRORS = "Mistakes in the input. When there is one, nothing was changed."


@strawberry.input(description="What customerLink needs: the customer, the records to put into it, and why.")
class CustomerLinkInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer the records are to belong to.")
    records: list[SourceRecordInput] = strawberry.field(description="Company records, from wherever they are now.")
    reason: str = strawberry.field(description=_REASON)


@strawberry.type(description="What customerLink did.")
class CustomerLinkPayload:
    customer: Customer | None = strawberry.field(description="The customer, now with the records.")
    user_errors: list[UserError] = strawberry.field(description=_ERRORS)


@strawberry.input(description="What customerUnlink needs: the record to take out of its customer, and why.")
class CustomerUnlinkInput:
    record: SourceRecordInput = strawberry.field(description="The company record to take out of its customer.")
    reason: str = strawberry.field(description=_REASON)


@strawberry.type(description="What customerUnlink did.")
class CustomerUnlinkPayload:
    customer: Customer | None = strawberry.field(description="The new customer that holds the record alone.")
    previous_customer: Customer | None = strawberry.field(description="The customer the record left.")
    user_errors: list[UserError] = strawberry.field(description=_ERRORS)


@strawberry.input(description="What customerMerge needs: the customer that stays, those it absorbs, and why.")
class CustomerMergeInput:
    survivor_id: strawberry.ID = strawberry.field(description="The customer that absorbs the others and stays.")
    absorbed_ids: list[strawberry.ID] = strawberry.field(description="The customers folded into the survivor.")
    reason: str = strawberry.field(description=_REASON)


@strawberry.type(description="What customerMerge did.")
class CustomerMergePayload:
    customer: Customer | None = strawberry.field(description="The survivor, now with every record.")
    absorbed_ids: list[strawberry.ID] = strawberry.field(
        description="The ids absorbed: `node` and `customer` answer the survivor for them from now on."
    )
    user_errors: list[UserError] = strawberry.field(description=_ERRORS)


@strawberry.input(description="What customerSplit needs: the customer, the records that leave it together, and why.")
class CustomerSplitInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer to split.")
    records: list[SourceRecordInput] = strawberry.field(
        description="Its company records that form the new customer; at least one must stay."
    )
    reason: str = strawberry.field(description=_REASON)


@strawberry.type(description="What customerSplit did.")
class CustomerSplitPayload:
    customer: Customer | None = strawberry.field(description="The customer split, with the records that stayed.")
    new_customer: Customer | None = strawberry.field(description="The new customer, with the records named.")
    user_errors: list[UserError] = strawberry.field(description=_ERRORS)


@strawberry.input(description="What reviewCandidateAccept needs: the candidate, and why.")
class ReviewCandidateAcceptInput:
    id: strawberry.ID = strawberry.field(description="The review candidate.")
    reason: str = strawberry.field(description=_REASON)


@strawberry.type(description="What reviewCandidateAccept did.")
class ReviewCandidateAcceptPayload:
    accepted_candidate_id: strawberry.ID | None = strawberry.field(
        description="The candidate decided, now gone from the queue."
    )
    customer: Customer | None = strawberry.field(
        description="The customer the pair now is (COMPANY), or the customer the joined person works for (PERSON)."
    )
    user_errors: list[UserError] = strawberry.field(description=_ERRORS)


@strawberry.input(description="What reviewCandidateReject needs: the candidate, and why.")
class ReviewCandidateRejectInput:
    id: strawberry.ID = strawberry.field(description="The review candidate.")
    reason: str = strawberry.field(description=_REASON)


@strawberry.type(description="What reviewCandidateReject did.")
class ReviewCandidateRejectPayload:
    rejected_candidate_id: strawberry.ID | None = strawberry.field(
        description="The candidate decided, now gone from the queue."
    )
    user_errors: list[UserError] = strawberry.field(description=_ERRORS)


class _Input:
    """Reads a mutation's input, collecting every mistake as a user error (the path starts at ``input``)."""

    def __init__(self, info: Info) -> None:
        self.info = info
        self.errors: list[UserError] = []

    def error(self, path: Sequence[str] | None, message: str, code: UserErrorCode) -> None:
        self.errors.append(UserError(field=None if path is None else ["input", *path], message=message, code=code))

    def global_id(self, value: str, type_name: str, *path: str) -> int | None:
        try:
            return decode_number(value, type_name, argument=".".join(("input", *path)))
        except ClientError as error:
            self.error(path, str(error), UserErrorCode.INVALID_ID)
            return None

    def customer(self, value: str, *path: str) -> int | None:
        customer_id = self.global_id(value, "Customer", *path)
        audit = self.info.context.audit
        if customer_id is not None and audit is not None:
            audit.touched.customers.add(customer_id)  # the audit trail names the customers a mutation named
        return customer_id

    def record(self, value: SourceRecordInput, *path: str) -> SourceRecord | None:
        sources = self.info.context.loaders.adapters
        ok = True
        if value.system not in sources:
            known = ", ".join(sources)
            self.error([*path, "system"], f"no source is named {value.system!r}; the sources are {known}",
                       UserErrorCode.UNKNOWN_SYSTEM)  # fmt: skip
            ok = False
        if not value.record_id.strip():
            self.error([*path, "recordId"], "name the record's id in its system", UserErrorCode.BLANK)
            ok = False
        elif len(value.record_id.strip()) > RECORD_ID_LIMIT or "\x00" in value.record_id:
            self.error([*path, "recordId"], f"a record id has at most {RECORD_ID_LIMIT} characters and no NUL "
                       "character", UserErrorCode.INVALID)  # fmt: skip
            ok = False
        if not ok:
            return None
        record = (value.system, value.record_id.strip())
        if self.info.context.audit is not None:
            self.info.context.audit.touched.parties.add(record)
        return record

    def records(self, values: list[SourceRecordInput], *path: str) -> list[SourceRecord]:
        found = [self.record(value, *path, str(position)) for position, value in enumerate(values)]
        return [record for record in found if record is not None]

    def reason(self, value: str) -> str:
        if not value.strip():
            self.error(["reason"], "say why: the reason is kept with the decision", UserErrorCode.BLANK)
        elif len(value) > REASON_LIMIT or "\x00" in value:
            self.error(["reason"], f"a reason has at most {REASON_LIMIT} characters and no NUL character",
                       UserErrorCode.INVALID)  # fmt: skip
        return value.strip()

    def actor(self) -> str:
        actor = self.info.context.actor
        if len(actor) > ACTOR_LIMIT:
            self.error(None, f"the X-Crmgraph-Actor header may have at most {ACTOR_LIMIT} characters, not "
                       f"{len(actor)}", UserErrorCode.INVALID)  # fmt: skip
        return actor


async def _act(action: Callable[..., T], *args: object) -> T | UserError:
    """Run a steward action in a worker thread; its StewardError becomes a user error."""
    try:
        return await asyncio.to_thread(action, *args)
    except StewardError as error:
        path = ["input", *error.field.split(".")] if error.field else None
        code = UserErrorCode.NOT_FOUND if error.code == "NOT_FOUND" else UserErrorCode.INVALID
        return UserError(field=path, message=error.message, code=code)


async def _hidden(
    info: Info,
    customers: Sequence[tuple[int, str]],
    records: Sequence[tuple[SourceRecord, str]],
    candidate: tuple[int, str] | None = None,
) -> UserError | None:
    """A principal's row scope hides customers and records as if they did not exist: the steward's own
    ``NOT_FOUND`` for the first one outside it (``customers`` and ``records`` name each with its input path)."""
    access, loaders = info.context.access, info.context.loaders
    if access is None or not access.scoped:
        return None
    if candidate is not None:  # a pair may span customers: the review queue is not shown to a scoped role
        number, path = candidate
        return UserError(field=["input", path], message=f"no open review candidate {number}; it was decided or "
                         "replaced", code=UserErrorCode.NOT_FOUND)  # fmt: skip
    for customer_id, path in customers:
        survivor = await loaders.survivor_of_customer.load(customer_id) or customer_id
        if not await customer_in_scope(loaders, access, survivor):
            return UserError(field=["input", *path.split(".")], message=f"no customer has the id {customer_id}",
                             code=UserErrorCode.NOT_FOUND)  # fmt: skip
    for record, path in records:
        if not await party_in_scope(loaders, access, record):
            return UserError(field=["input", *path.split(".")], message=f"no linked record {record[0]}/{record[1]}; "
                             "run `crmgraph link` if it is new", code=UserErrorCode.NOT_FOUND)  # fmt: skip
    return None


def _steward(info: Info) -> Stewardship:
    return Stewardship(info.context.loaders.identity)


def _paths(records: Sequence[SourceRecord], path: str) -> list[tuple[SourceRecord, str]]:
    return [(record, f"{path}.{n}") for n, record in enumerate(records)]


def _customer_ids(ids: Sequence[int]) -> list[strawberry.ID]:
    return [strawberry.ID(encode_id("Customer", str(customer_id))) for customer_id in ids]


@strawberry.type(description="Changes: data stewardship of the identity links.")
class Mutation:
    @strawberry.mutation(
        description="Put company records into a customer, taking them from wherever they are; a customer left "
        "without records is absorbed (its id then answers this customer)." + WHO
    )
    async def customer_link(self, info: Info, input: CustomerLinkInput) -> CustomerLinkPayload:
        given = _Input(info)
        customer_id = given.customer(input.customer_id, "customerId")
        records = given.records(input.records, "records")
        reason, actor = given.reason(input.reason), given.actor()
        if given.errors or customer_id is None:
            return CustomerLinkPayload(customer=None, user_errors=given.errors)
        hidden = await _hidden(info, [(customer_id, "customerId")], _paths(records, "records"))
        if hidden is not None:
            return CustomerLinkPayload(customer=None, user_errors=[hidden])
        done = await _act(_steward(info).link, customer_id, records, actor, reason)
        if isinstance(done, UserError):
            return CustomerLinkPayload(customer=None, user_errors=[done])
        return CustomerLinkPayload(customer=Customer.of(done), user_errors=[])

    @strawberry.mutation(description="Take a company record out of its customer into a new customer of its own." + WHO)
    async def customer_unlink(self, info: Info, input: CustomerUnlinkInput) -> CustomerUnlinkPayload:
        given = _Input(info)
        record = given.record(input.record, "record")
        reason, actor = given.reason(input.reason), given.actor()
        if given.errors or record is None:
            return CustomerUnlinkPayload(customer=None, previous_customer=None, user_errors=given.errors)
        hidden = await _hidden(info, [], [(record, "record")])
        if hidden is not None:
            return CustomerUnlinkPayload(customer=None, previous_customer=None, user_errors=[hidden])
        previous = await info.context.loaders.customer_of_party.load(record)
        done = await _act(_steward(info).unlink, record, actor, reason)
        if isinstance(done, UserError):
            return CustomerUnlinkPayload(customer=None, previous_customer=None, user_errors=[done])
        return CustomerUnlinkPayload(
            customer=Customer.of(done),
            previous_customer=Customer.of(previous) if previous is not None else None,
            user_errors=[],
        )

    @strawberry.mutation(
        description="Fold customers into one: the survivor takes every record of the absorbed ones, whose ids "
        "keep answering (`node`, `customer`) with the survivor." + WHO
    )
    async def customer_merge(self, info: Info, input: CustomerMergeInput) -> CustomerMergePayload:
        given = _Input(info)
        survivor = given.customer(input.survivor_id, "survivorId")
        absorbed = [given.customer(value, "absorbedIds", str(n)) for n, value in enumerate(input.absorbed_ids)]
        reason, actor = given.reason(input.reason), given.actor()
        if given.errors or survivor is None:
            return CustomerMergePayload(customer=None, absorbed_ids=[], user_errors=given.errors)
        ids = [customer_id for customer_id in absorbed if customer_id is not None]
        named = [(survivor, "survivorId"), *((cid, f"absorbedIds.{n}") for n, cid in enumerate(absorbed) if cid)]
        hidden = await _hidden(info, named, [])
        if hidden is not None:
            return CustomerMergePayload(customer=None, absorbed_ids=[], user_errors=[hidden])
        done = await _act(_steward(info).merge, survivor, ids, actor, reason)
        if isinstance(done, UserError):
            return CustomerMergePayload(customer=None, absorbed_ids=[], user_errors=[done])
        return CustomerMergePayload(
            customer=Customer.of(done), absorbed_ids=_customer_ids(list(dict.fromkeys(ids))), user_errors=[]
        )

    @strawberry.mutation(
        description="Move some company records of a customer into one new customer; at least one stays." + WHO
    )
    async def customer_split(self, info: Info, input: CustomerSplitInput) -> CustomerSplitPayload:
        given = _Input(info)
        customer_id = given.customer(input.customer_id, "customerId")
        records = given.records(input.records, "records")
        reason, actor = given.reason(input.reason), given.actor()
        if given.errors or customer_id is None:
            return CustomerSplitPayload(customer=None, new_customer=None, user_errors=given.errors)
        hidden = await _hidden(info, [(customer_id, "customerId")], _paths(records, "records"))
        if hidden is not None:
            return CustomerSplitPayload(customer=None, new_customer=None, user_errors=[hidden])
        done = await _act(_steward(info).split, customer_id, records, actor, reason)
        if isinstance(done, UserError):
            return CustomerSplitPayload(customer=None, new_customer=None, user_errors=[done])
        survivor = await info.context.loaders.survivor_of_customer.load(customer_id)
        return CustomerSplitPayload(
            customer=Customer.of(survivor or customer_id), new_customer=Customer.of(done), user_errors=[]
        )

    @strawberry.mutation(
        description="The pair of a review candidate is one company (their customers are merged, the older id "
        "survives) or one person (their golden persons are merged)." + WHO
    )
    async def review_candidate_accept(
        self, info: Info, input: ReviewCandidateAcceptInput
    ) -> ReviewCandidateAcceptPayload:
        given = _Input(info)
        number = given.global_id(input.id, "ReviewCandidate", "id")
        reason, actor = given.reason(input.reason), given.actor()
        if given.errors or number is None:
            return ReviewCandidateAcceptPayload(accepted_candidate_id=None, customer=None, user_errors=given.errors)
        hidden = await _hidden(info, [], [], (number, "id"))
        if hidden is not None:
            return ReviewCandidateAcceptPayload(accepted_candidate_id=None, customer=None, user_errors=[hidden])
        candidate = await info.context.loaders.review_candidate.load(number)
        done = await _act(_steward(info).accept, number, actor, reason)
        if isinstance(done, UserError):
            return ReviewCandidateAcceptPayload(accepted_candidate_id=None, customer=None, user_errors=[done])
        customer_id = (
            done
            if candidate is None or candidate.kind == "company"
            else await identity_reads.customer_of_person(info.context.loaders.identity, done)
        )
        return ReviewCandidateAcceptPayload(
            accepted_candidate_id=input.id,
            customer=Customer.of(customer_id) if customer_id is not None else None,
            user_errors=[],
        )

    @strawberry.mutation(
        description="The pair of a review candidate is not the same company or person: the matcher never joins "
        "them again." + WHO
    )
    async def review_candidate_reject(
        self, info: Info, input: ReviewCandidateRejectInput
    ) -> ReviewCandidateRejectPayload:
        given = _Input(info)
        number = given.global_id(input.id, "ReviewCandidate", "id")
        reason, actor = given.reason(input.reason), given.actor()
        if given.errors or number is None:
            return ReviewCandidateRejectPayload(rejected_candidate_id=None, user_errors=given.errors)
        hidden = await _hidden(info, [], [], (number, "id"))
        if hidden is not None:
            return ReviewCandidateRejectPayload(rejected_candidate_id=None, user_errors=[hidden])
        done = await _act(_steward(info).reject, number, actor, reason)
        if isinstance(done, UserError):
            return ReviewCandidateRejectPayload(rejected_candidate_id=None, user_errors=[done])
        return ReviewCandidateRejectPayload(rejected_candidate_id=input.id, user_errors=[])
