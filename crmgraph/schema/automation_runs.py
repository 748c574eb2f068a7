"""``automationRuns``: what the automation rules did, newest first, for the roles that may read it
(``automation: true`` or ``audit: true``)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum

import orjson
import strawberry

from crmgraph.errors import ClientError, Forbidden
from crmgraph.schema.customer import Customer
from crmgraph.schema.ids import encode_id
from crmgraph.schema.nodes import Info
from crmgraph.schema.pagination import WHOLE, Connection, Edge, check_first, connection, decode_position
from crmgraph.schema.user_errors import UserError, UserErrorCode
from crmgraph.workflows.rules.runs import Run, RunStatus


@strawberry.enum(description="How a rule's run on an event ended (or that it still runs).")
class AutomationRunStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Running, or left by a stopped facade (taken over).")
    SUCCEEDED = strawberry.enum_value("SUCCEEDED", description="The condition held and every action was done.")
    FAILED = strawberry.enum_value(
        "FAILED", description="An action (or reading the facts) failed for good; the later actions were not taken."
    )
    SKIPPED = strawberry.enum_value("SKIPPED", description="The rule's `where` did not hold: nothing was done.")
    LOOP_STOPPED = strawberry.enum_value(
        "LOOP_STOPPED", description="The event came from a loop of rules (or a chain past `max_depth`): stopped."
    )


@strawberry.enum(description="What became of one action of a run.")
class AutomationActionStatus(Enum):
    OK = "OK"
    FAILED = "FAILED"
    NOT_TAKEN = "NOT_TAKEN"


@strawberry.type(description="The change event a rule ran on.")
class AutomationEvent:
    id: str = strawberry.field(description="The event's id (redeliveries of it carry the same).")
    system: str
    entity: str
    record_id: str = strawberry.field(description="The changed record's id in its system.")
    kind: str = strawberry.field(description="created, updated or deleted.")
    changed: list[str]
    occurred_at: datetime
    chain: list[str] = strawberry.field(
        description="The rule runs whose actions caused the change (`rule|system:entity:id`), outermost first."
    )


@strawberry.type(description="One action of a run: the mutation, the input it was sent, and its answer.")
class AutomationAction:
    mutation: str
    input: str = strawberry.field(description="The input sent, as JSON (templates filled in, idempotency key added).")
    status: AutomationActionStatus
    user_errors: list[UserError]
    error: str | None = strawberry.field(description="Why it failed, when it did.")
    attempts: int


@strawberry.type(description="One run of an automation rule on one change event.")
class AutomationRun:
    id: strawberry.ID
    rule: str
    status: AutomationRunStatus
    event: AutomationEvent
    customer: Customer | None = strawberry.field(description="The event's customer, when it names one.")
    actions: list[AutomationAction]
    error: str | None = strawberry.field(description="Why it failed or was stopped.")
    attempts: int = strawberry.field(description="Mutations sent, tries included.")
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, run: Run) -> AutomationRun:
        event = run.event
        return cls(
            id=strawberry.ID(encode_id("AutomationRun", str(run.id))),
            rule=run.rule,
            status=AutomationRunStatus[run.status.value],
            event=AutomationEvent(
                id=event.id,
                system=event.system,
                entity=event.entity.value,
                record_id=event.record_id,
                kind=event.kind.value,
                changed=list(event.changed),
                occurred_at=event.occurred_at,
                chain=list(event.chain),
            ),
            customer=Customer.of(event.customer_ids[0]) if event.customer_ids else None,
            actions=[_action(action) for action in run.actions],
            error=run.error,
            attempts=run.attempts,
            started_at=run.started_at,
            finished_at=run.finished_at,
        )


def _action(action: dict[str, object]) -> AutomationAction:
    errors = action.get("userErrors")
    return AutomationAction(
        mutation=str(action.get("mutation", "")),
        input=orjson.dumps(action.get("input", {})).decode(),
        status=AutomationActionStatus(str(action.get("status", "NOT_TAKEN"))),
        user_errors=[_user_error(error) for error in errors if isinstance(error, dict)]
        if isinstance(errors, list)
        else [],
        error=str(action["error"]) if action.get("error") else None,
        attempts=int(str(action.get("attempts", 0))),
    )


def _user_error(error: dict[str, object]) -> UserError:
    code = str(error.get("code", ""))
    field = error.get("field")
    return UserError(
        field=[str(part) for part in field] if isinstance(field, list) else None,
        message=str(error.get("message", "")),
        code=UserErrorCode[code] if code in UserErrorCode.__members__ else UserErrorCode.INVALID,
    )


async def automation_runs(
    info: Info, rule: str | None, status: AutomationRunStatus | None, first: int, after: str | None
) -> Connection[AutomationRun]:
    access = info.context.access
    if access is not None and not (access.automation or access.audit):
        roles = ", ".join(sorted(access.principal.roles)) or "(none)"
        raise Forbidden(f"automationRuns: not readable with the roles {roles}; it needs `automation: true`")
    store = info.context.rule_runs
    if store is None:
        raise ClientError("automationRuns: the facade keeps no runs here (no store)")
    check_first(first, info.context.max_page_size)
    position = decode_position(after, WHOLE) if after else None
    wanted = RunStatus(status.name) if status is not None else None
    found, total = await asyncio.gather(
        asyncio.to_thread(store.runs, rule=rule, status=wanted, limit=first + 1,
                          before_id=int(position[0]) if position else None),
        asyncio.to_thread(store.count, rule=rule, status=wanted),
    )  # fmt: skip
    edges = [Edge(node=AutomationRun.of(run), key=(run.id,)) for run in found[:first]]
    return connection(edges, has_next=len(found) > first, has_previous=position is not None, total=total)
