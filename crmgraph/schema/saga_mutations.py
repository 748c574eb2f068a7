"""Changes that span systems, through the graph: ``dealConvertToOrder`` and the ``saga`` query.

The mutation checks everything up front (the deal and its customer in the principal's scope, the
customer's company in the CRM and debtor in the ERP, the lines), then runs the saga
(:mod:`crmgraph.writes.deal_conversion`) and answers its state: ``done`` with the order placed, or
``compensated`` with the reason and every step undone. Its idempotency key is the saga's identity: a
retry joins the saga it started and answers its outcome.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import Enum

import strawberry

from crmgraph import records
from crmgraph.errors import ClientError
from crmgraph.schema.ids import decode_id, encode_id
from crmgraph.schema.nodes import Info, Order
from crmgraph.schema.order_mutations import SalesOrderLineInput, stored_key
from crmgraph.schema.user_errors import UserError, UserErrorCode
from crmgraph.schema.writing import customer_links, existing, party_in, writer_of
from crmgraph.writes.deal_conversion import KIND
from crmgraph.writes.saga import SagaRun


@strawberry.enum(description="Where a saga stands.")
class SagaState(Enum):
    RUNNING = "running"
    DONE = "done"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    FAILED = "failed"


@strawberry.type(description="One step of a saga: a write to one system.")
class SagaStep:
    name: str
    state: str = strawberry.field(description="pending, done, failed or compensated.")
    error: str | None = strawberry.field(description="Why it failed, or why undoing it failed.")


@strawberry.type(description="A change that spans systems, made step by step and undone on failure.")
class Saga:
    id: strawberry.ID
    kind: str
    state: SagaState
    steps: list[SagaStep]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, run: SagaRun) -> Saga:
        return cls(
            id=strawberry.ID(encode_id("Saga", run.id)), kind=run.kind, state=SagaState(run.state),
            steps=[SagaStep(name=s["name"], state=s["state"], error=s.get("error")) for s in run.steps],
            created_at=run.created_at, updated_at=run.updated_at,
        )  # fmt: skip


@strawberry.input(description="What dealConvertToOrder needs.")
class DealConvertToOrderInput:
    deal_id: strawberry.ID = strawberry.field(description="The CRM deal that was won.")
    lines: list[SalesOrderLineInput] = strawberry.field(description="What the customer ordered.")
    idempotency_key: str = strawberry.field(description="The saga's identity: a retry joins the saga it started.")


@strawberry.type(description="What dealConvertToOrder did.")
class DealConvertToOrderPayload:
    saga: Saga | None = strawberry.field(description="The saga: done, or compensated with the reason.")
    order: Order | None = strawberry.field(description="The order placed in the ERP, when the saga is done.")
    user_errors: list[UserError] = strawberry.field(description="What could not be started; then nothing changed.")


def _error(field: list[str] | None, message: str, code: UserErrorCode) -> DealConvertToOrderPayload:
    return DealConvertToOrderPayload(saga=None, order=None, user_errors=[UserError(field=field, message=message,
                                                                                   code=code)])  # fmt: skip


def _subject(info: Info) -> str:
    principal = info.context.principal
    return principal.subject if principal is not None else info.context.actor


def saga_id(subject: str, key: str) -> str:
    """A saga's id: the caller and their key (keys are per caller), as a digest."""
    return hashlib.sha256(f"{subject}\x00{KIND}\x00{key}".encode()).hexdigest()[:40]


async def deal_convert_to_order(info: Info, input: DealConvertToOrderInput) -> DealConvertToOrderPayload:
    runner = info.context.sagas
    if runner is None:
        raise ClientError("sagas are not available: the facade has no store for them")
    if not input.idempotency_key.strip() or len(input.idempotency_key) > 200:
        raise ClientError("input.idempotencyKey: 1 to 200 characters")
    if not input.lines:
        return _error(["input", "lines"], "name at least one line", UserErrorCode.BLANK)
    found = await existing(info, input.deal_id, "Deal", "deal", "dealId")
    if not isinstance(found, tuple):
        return _error(found.errors[0].field, found.errors[0].message, found.errors[0].code)
    crm, deal = found
    if not isinstance(deal, records.DealRecord) or deal.party_id is None:
        return _error(["input", "dealId"], "the deal is with no company", UserErrorCode.INVALID)
    customer_id = await info.context.loaders.customer_of_party.load((crm.source, deal.party_id))
    if customer_id is None:
        return _error(["input", "dealId"], "the deal's company is no customer yet; run `crmgraph link`",
                      UserErrorCode.NOT_WRITABLE)  # fmt: skip
    linked = await customer_links(info, encode_id("Customer", str(customer_id)))
    if not isinstance(linked, tuple):
        return _error(["input", "dealId"], f"no deal {input.deal_id}", UserErrorCode.NOT_FOUND)
    _, links = linked
    erp = writer_of(info, "order", "create")
    debtor = party_in(links, erp.source) if erp is not None else None
    if erp is None or debtor is None:
        return _error(["input", "dealId"], "the deal's customer has no debtor in a system that takes orders",
                      UserErrorCode.NOT_WRITABLE)  # fmt: skip
    company = await info.context.loaders.by_id(crm.source, "party").load(deal.party_id)
    subject = _subject(info)
    given = {
        "deal": [crm.source, deal.source_id], "deal_stage_before": deal.stage_label,
        "company": [crm.source, deal.party_id],
        "lifecycle_before": getattr(company, "lifecycle_stage", None),
        "debtor": [erp.source, debtor],
        "lines": [{"sku": line.sku.strip(), "quantity": str(line.quantity), "unit_price": str(line.unit_price),
                   **({"currency": line.currency_code} if line.currency_code else {})} for line in input.lines],
        "order_key": stored_key(subject, f"{KIND}:{input.idempotency_key}"),
    }  # fmt: skip
    if info.context.audit is not None:
        info.context.audit.touched.customers.add(customer_id)
    run = await runner.start(KIND, saga_id(subject, input.idempotency_key), subject, given)
    order = None
    placed = run.result("order")
    if run.state == "done" and placed and placed.get("order"):
        record = await info.context.loaders.by_id(placed["source"], "order").load(placed["order"])
        order = Order.of(record) if isinstance(record, records.OrderRecord) else None
    return DealConvertToOrderPayload(saga=Saga.of(run), order=order, user_errors=[])


async def saga_by_id(info: Info, global_id: str) -> Saga | None:
    runner = info.context.sagas
    _, parts = decode_id(global_id, "Saga")
    if runner is None:
        return None
    run = await runner.load(":".join(parts))
    principal = info.context.principal
    if run is None or (principal is not None and run.subject != principal.subject and not _admin(info)):
        return None  # another caller's saga is not this one's to read
    return Saga.of(run)


def _admin(info: Info) -> bool:
    access = info.context.access
    return access is not None and access.audit


@strawberry.type
class SagaMutation:
    @strawberry.mutation(
        description="A won deal becomes an ERP sales order: the CRM deal moves to won, the CRM company becomes a "
        "customer, the order is placed; if the order is refused, the deal and the company are put back."
    )
    async def deal_convert_to_order(self, info: Info, input: DealConvertToOrderInput) -> DealConvertToOrderPayload:
        return await deal_convert_to_order(info, input)
