"""Sales' writes to the ERP: place a sales order for a customer.

The order goes to the system that holds orders (the first configured source that can create them), for the
customer's debtor there (found through the identity links), once per idempotency key
(:mod:`crmgraph.writes.perform`), and answers with the order as the ERP now holds it: its number is the
ERP's. A customer outside the principal's row scope is answered as one that does not exist.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

import strawberry

from crmgraph import records
from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.writes import WriteOp
from crmgraph.errors import ClientError
from crmgraph.resolvers.scope import customer_in_scope
from crmgraph.schema.ids import decode_number
from crmgraph.schema.nodes import Info, Order
from crmgraph.schema.user_errors import UserError, UserErrorCode
from crmgraph.writes.perform import Writer, Written

REFERENCE_LIMIT = 35  # SAP's BSTNK; a longer reference would be cut by the ERP, so it is refused here
# The canonical field a refusal names -> the input field it came in: of the order, and of a line.
_INPUT = {"party": "customerId", "currency": "lines", "customer_reference": "customerReference"}
_LINE_INPUT = {"unit_price": "unitPrice", "currency": "currencyCode"}
_PROBLEMS = {
    "IDEMPOTENCY_KEY_REUSED": "this idempotency key was used for a different change; make a new key",
    "IN_PROGRESS": "a request with this idempotency key is still running; ask again shortly",
    "OUTCOME_UNKNOWN": "an earlier attempt with this key may or may not have been applied: check the orders",
}


@strawberry.input(description="One line of a new sales order.")
class SalesOrderLineInput:
    sku: str = strawberry.field(description="The material number the ERP knows the product by.")
    quantity: Decimal = strawberry.field(description="More than 0, in the material's sales unit.")
    unit_price: Decimal = strawberry.field(description="The net price of one unit.")
    currency_code: str | None = strawberry.field(
        default=None, description="ISO 4217 (EUR); every line of an order has the same. None: the customer's."
    )


@strawberry.input(description="What salesOrderCreate needs.")
class SalesOrderCreateInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer who orders (their debtor in the ERP).")
    lines: list[SalesOrderLineInput]
    customer_reference: str | None = strawberry.field(default=None, description="The customer's purchase order.")
    requested_delivery: date | None = None
    idempotency_key: str = strawberry.field(
        description="A key the client makes for this order (a UUID) and sends again when it retries: the order "
        "is placed once, and a retry gets the first answer."
    )


@strawberry.type(description="What salesOrderCreate did.")
class SalesOrderCreatePayload:
    order: Order | None = strawberry.field(description="The order as the ERP now holds it, with the ERP's number.")
    replayed: bool = strawberry.field(
        description="True when this answers a retry: the order was placed by the first request with the key."
    )
    user_errors: list[UserError] = strawberry.field(description="What could not be done; then nothing was changed.")


def _error(field: list[str] | None, message: str, code: UserErrorCode) -> SalesOrderCreatePayload:
    return SalesOrderCreatePayload(order=None, replayed=False, user_errors=[UserError(field=field, message=message,
                                                                                      code=code)])  # fmt: skip


def _input_path(field: str) -> list[str]:
    """``lines.2.quantity`` -> ``["input", "lines", "2", "quantity"]``, in the input's own names."""
    head, *rest = field.split(".")
    if head == "lines" and len(rest) == 2:
        return ["input", "lines", rest[0], _LINE_INPUT.get(rest[1], rest[1])]
    return ["input", _INPUT.get(head, head), *rest]


def _payload(written: Written) -> SalesOrderCreatePayload:
    if written.problem is not None:
        return _error(["input", "idempotencyKey"], _PROBLEMS[written.problem], UserErrorCode[written.problem])
    if written.refusals:
        errors = [UserError(field=_input_path(r.field) if r.field else None, message=r.message,
                            code=UserErrorCode[r.code]) for r in written.refusals]  # fmt: skip
        return SalesOrderCreatePayload(order=None, replayed=written.replayed, user_errors=errors)
    order = Order.of(written.record) if isinstance(written.record, records.OrderRecord) else None
    return SalesOrderCreatePayload(order=order, replayed=written.replayed, user_errors=[])


def stored_key(subject: str, key: str) -> str:
    """What the ERP keeps of an idempotency key: a digest of the caller and the key. Keys are the caller's own
    (two callers may both send "1"), and the ERP answers an order placed under a stored key again instead of
    placing another, so the caller must be part of it; a digest also keeps the caller's name out of the ERP."""
    return hashlib.sha256(f"{subject}\x00{key}".encode()).hexdigest()


def _erp(info: Info) -> Adapter | None:
    for adapter in info.context.loaders.adapters.values():
        if ("order", "create") in adapter.writable:
            return adapter
    return None


def _values(input: SalesOrderCreateInput) -> dict[str, Any]:
    lines = [{"sku": line.sku.strip(), "quantity": line.quantity, "unit_price": line.unit_price,
              **({"currency": line.currency_code} if line.currency_code is not None else {})}
             for line in input.lines]  # fmt: skip
    values: dict[str, Any] = {"lines": lines}
    if input.customer_reference is not None and input.customer_reference.strip():
        values["customer_reference"] = input.customer_reference.strip()
    if input.requested_delivery is not None:
        values["requested_delivery"] = input.requested_delivery
    return values


async def _create(info: Info, input: SalesOrderCreateInput) -> SalesOrderCreatePayload:
    customer_id = decode_number(input.customer_id, "Customer", argument="input.customerId")
    if input.customer_reference is not None and len(input.customer_reference) > REFERENCE_LIMIT:
        raise ClientError(f"input.customerReference: at most {REFERENCE_LIMIT} characters")
    loaders, access = info.context.loaders, info.context.access
    links = await loaders.links.load(customer_id)
    if not links or not await customer_in_scope(loaders, access, customer_id):
        return _error(["input", "customerId"], f"no customer has the id {customer_id}", UserErrorCode.NOT_FOUND)
    adapter = _erp(info)
    if adapter is None:
        return _error(None, "no configured system can place sales orders", UserErrorCode.NOT_WRITABLE)
    debtor = next((link.source_id for link in links if link.entity == "party" and link.source == adapter.source), None)
    if debtor is None:
        said = f"the customer has no debtor in {adapter.source}; link one first"
        return _error(["input", "customerId"], said, UserErrorCode.NOT_WRITABLE)
    store = info.context.idempotency
    if store is None:
        raise ClientError("writes are not available: the facade has no store for idempotency records")
    if info.context.audit is not None:
        info.context.audit.touched.customers.add(customer_id)
    values = _values(input)
    principal = info.context.principal
    subject = principal.subject if principal is not None else info.context.actor
    op = WriteOp("order", "create", values, links={"party": debtor}, idempotency_key=stored_key(subject,
                 input.idempotency_key))  # fmt: skip
    arguments = {"customer": customer_id, **values}
    written = await Writer(store, info.context.loaders.cache, info.context.events).write(
        adapter, op, subject=subject, key=input.idempotency_key, operation="salesOrderCreate", arguments=arguments
    )
    return _payload(written)


@strawberry.type
class OrderMutation:
    @strawberry.mutation(description="Place a sales order for a customer in the ERP (for their debtor there).")
    async def sales_order_create(self, info: Info, input: SalesOrderCreateInput) -> SalesOrderCreatePayload:
        return await _create(info, input)
