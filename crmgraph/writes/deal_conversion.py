"""A won deal becomes an ERP sales order: the saga ``dealConversion``.

Three writes in two systems, in this order:

1. ``deal``: the CRM deal is moved to the won stage (undone: moved back to the stage it had);
2. ``company``: the CRM company's lifecycle stage becomes ``customer`` (undone: set back to what it was);
3. ``order``: the sales order is placed in the ERP, for the customer's debtor.

The order comes last because it is the one write without an undo here (the ERP takes no cancellation
through crmgraph yet): a saga whose order is refused (a line the ERP does not accept) moves the deal and
the company back, and one whose order is placed is done. Every step writes under a key made from the
saga's id and the step's name, so a step run again after a crash replays its first write.

Everything a step needs is resolved and checked (row scope included) when the saga is asked for, and kept
in its input: a saga resumed at start, with no request around it, writes exactly what was asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.writes import WriteOp
from crmgraph.cache.read_through import ReadThrough
from crmgraph.events.hub import EventHub
from crmgraph.writes.idempotency import IdempotencyStore
from crmgraph.writes.perform import Writer, Written
from crmgraph.writes.saga import SagaKind, SagaRun, Step

KIND = "dealConversion"
WON_STAGE = "closedwon"


class StepRefused(Exception):
    """The system of record refused a step as asked: the saga is compensated, the reasons kept."""


class SagaWrites:
    """Writes made by saga steps: once per key, announced like any write through the graph."""

    def __init__(
        self, adapters: Mapping[str, Adapter], store: IdempotencyStore, cache: ReadThrough, events: EventHub | None
    ) -> None:
        self.adapters = adapters
        self.writer = Writer(store, cache, events)

    async def write(self, saga: SagaRun, step: str, source: str, op: WriteOp) -> Written:
        key = f"saga:{saga.id}:{step}"
        written = await self.writer.write(self.adapters[source], op, subject=saga.subject, key=key,
                                          operation=f"{saga.kind}.{step}", arguments={"op": repr(op)})  # fmt: skip
        if written.problem is not None:
            raise StepRefused(f"{step}: {written.problem}")
        if written.refusals:
            raise StepRefused("; ".join(f"{step}: {r.message}" for r in written.refusals))
        return written


def deal_conversion(writes: SagaWrites) -> SagaKind:
    def given(saga: SagaRun, name: str) -> Any:
        return saga.input[name]

    async def won(saga: SagaRun) -> dict[str, Any]:
        source, deal = given(saga, "deal")
        written = await writes.write(saga, "deal", source, WriteOp("deal", "update", {"stage": WON_STAGE},
                                                                   record_id=deal))  # fmt: skip
        return {"deal": written.record.source_id if written.record else deal}

    async def unwon(saga: SagaRun, result: dict[str, Any]) -> None:
        source, deal = given(saga, "deal")
        op = WriteOp("deal", "update", {"stage": given(saga, "deal_stage_before")}, record_id=deal)
        await writes.write(saga, "deal-undo", source, op)

    async def customer(saga: SagaRun) -> dict[str, Any]:
        source, company = given(saga, "company")
        op = WriteOp("party", "update", {"lifecycle_stage": "customer"}, record_id=company)
        await writes.write(saga, "company", source, op)
        return {"company": company}

    async def uncustomer(saga: SagaRun, result: dict[str, Any]) -> None:
        before = given(saga, "lifecycle_before")
        if before is None:
            return  # HubSpot clears no property through an update: nothing was there to put back
        source, company = given(saga, "company")
        op = WriteOp("party", "update", {"lifecycle_stage": before}, record_id=company)
        await writes.write(saga, "company-undo", source, op)

    async def order(saga: SagaRun) -> dict[str, Any]:
        source, debtor = given(saga, "debtor")
        op = WriteOp("order", "create", {"lines": given(saga, "lines")}, links={"party": debtor},
                     idempotency_key=given(saga, "order_key"))  # fmt: skip
        written = await writes.write(saga, "order", source, op)
        return {"order": written.record.source_id if written.record else None, "source": source}

    return SagaKind(KIND, (Step("deal", won, unwon), Step("company", customer, uncustomer), Step("order", order)),
                    "A won deal becomes an ERP sales order; the CRM deal and company follow.")  # fmt: skip
