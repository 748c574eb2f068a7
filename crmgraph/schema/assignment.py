"""Lead distribution and ticket routing in the graph: each decision and its explanation, a manager's
reassignment, and the subscriptions that tell a rep of a new lead and a deal's owner of a bad complaint."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import strawberry

from crmgraph import records
from crmgraph.errors import ClientError
from crmgraph.events import Delivery, Entity
from crmgraph.schema.event_stream import deliveries
from crmgraph.schema.ids import decode_id, encode_id
from crmgraph.schema.nodes import Owner
from crmgraph.schema.pagination import WHOLE, Connection, Edge, check_first, connection, decode_position
from crmgraph.schema.user_errors import UserError, UserErrorCode
from crmgraph.workflows.assignment.acting import ASSIGNED, DEAL_OWNER_ALERT
from crmgraph.workflows.assignment.leads import Manual
from crmgraph.workflows.assignment.store import LeadRow, TicketRow

if TYPE_CHECKING:
    from crmgraph.context import RequestContext
    from crmgraph.workflows.assignment.runtime import Assignment

    Info = strawberry.Info[RequestContext, None]
else:
    Info = strawberry.Info

T = TypeVar("T")


@strawberry.type(description="A candidate a rule left out, and why.")
class AssignmentDrop:
    candidate: str
    reason: str


@strawberry.type(description="One rule applied: who was still a candidate after it, who it left out.")
class AssignmentStep:
    rule: str = strawberry.field(description="territory, skill, language, working_hours, capacity, sla, "
                                 "round_robin, least_load, manual, or (routing) rule.")  # fmt: skip
    kept: list[str] = strawberry.field(description="The candidates (team names, owner or agent ids) kept.")
    dropped: list[AssignmentDrop]
    note: str = strawberry.field(description="What the rule decided, when it says more than kept and dropped.")


@strawberry.type(description="Why an assignment went where it went: which rule, which candidates, why this one.")
class AssignmentExplanation:
    raw: strawberry.Private[dict[str, Any]]
    rule: str = strawberry.field(description="The rule that decided (round_robin, least_load, manual, sla, ...).")
    team: str | None = strawberry.field(description="The team (leads) or group (tickets) chosen.")
    candidates: list[str] = strawberry.field(description="Who could have had it when the last rule chose.")
    chosen: str | None
    why: str = strawberry.field(description="Why this one, in a sentence.")
    trigger: str | None = strawberry.field(description="What started it: new lead, sla, manual, retry.")
    steps: list[AssignmentStep]

    @strawberry.field(description="The whole explanation as recorded (JSON text): the facts the rules read.")
    def recorded(self) -> str:
        return orjson.dumps(self.raw).decode()

    @classmethod
    def of(cls, raw: dict[str, Any]) -> AssignmentExplanation:
        steps = [AssignmentStep(rule=s["rule"], kept=list(s["kept"]), note=s.get("note", ""),
                                dropped=[AssignmentDrop(candidate=k, reason=v) for k, v in s["dropped"].items()])
                 for s in raw.get("steps", [])]  # fmt: skip
        return cls(raw=raw, rule=str(raw.get("rule", "")), team=raw.get("team") or raw.get("group"),
                   candidates=list(raw.get("candidates", [])), chosen=raw.get("chosen"), why=str(raw.get("why", "")),
                   trigger=raw.get("trigger"), steps=steps)  # fmt: skip


@strawberry.type(description="Who a lead was assigned to, by which rule, and whether its first touch is due.")
class LeadAssignment:
    row: strawberry.Private[LeadRow]
    crm: strawberry.Private[str]
    lead_id: strawberry.ID = strawberry.field(description="The Lead's id.")
    state: str = strawberry.field(description="assigned; claimed or assigning while under way; failed (retried).")
    owner_id: str | None = strawberry.field(description="The CRM owner's id (hubspot_owner_id).")
    team: str | None
    rule: str | None
    manual: bool = strawberry.field(description="Placed by a manager: the rules and the SLA leave it alone.")
    touched: bool = strawberry.field(description="The owner touched the lead's contact in the CRM.")
    crm_contact_id: str | None = strawberry.field(description="The contact in the CRM that carries the owner.")
    assigned_at: datetime | None
    first_touch_due_at: datetime | None = strawberry.field(description="Untouched then: reassigned.")
    previous_owner_ids: list[str] = strawberry.field(description="Earlier owners, oldest first.")
    explanation: AssignmentExplanation

    @strawberry.field(description="The owner, as the CRM knows them.")
    async def owner(self, info: Info) -> Owner | None:
        if not self.owner_id:
            return None
        found = await info.context.loaders.by_id(self.crm, "owner").load(self.owner_id)
        return Owner.of(found) if isinstance(found, records.OwnerRecord) else None

    @classmethod
    def of(cls, row: LeadRow, crm: str) -> LeadAssignment:
        return cls(row=row, crm=crm, lead_id=strawberry.ID(encode_id("Lead", row.source, row.lead_id)),
                   state=row.state, owner_id=row.owner_id, team=row.team, rule=row.rule, manual=row.manual,
                   touched=row.touched, crm_contact_id=row.crm_id, assigned_at=row.assigned_at,
                   first_touch_due_at=row.due_at, previous_owner_ids=list(row.history),
                   explanation=AssignmentExplanation.of(row.explanation))  # fmt: skip


@strawberry.type(description="Where a ticket was routed: group, assignee, priority, tags, and why.")
class TicketRouting:
    ticket_id: strawberry.ID = strawberry.field(description="The Ticket's id.")
    state: str = strawberry.field(description="routed; claimed while under way; failed.")
    group: str | None = strawberry.field(description="The group's name in the routing rules.")
    group_id: str | None = strawberry.field(description="The group's id in the ticket system.")
    assignee_id: str | None = strawberry.field(description="The agent's id in the ticket system.")
    priority: str | None
    tags: list[str]
    alerted_owner_id: str | None = strawberry.field(description="The deal owner alerted (a bad complaint, open deal).")
    alerted_deal_id: str | None
    routed_at: datetime | None
    explanation: AssignmentExplanation

    @classmethod
    def of(cls, row: TicketRow) -> TicketRouting:
        return cls(ticket_id=strawberry.ID(encode_id("Ticket", row.source, row.ticket_id)), state=row.state,
                   group=row.group_name, group_id=row.group_id, assignee_id=row.assignee_id, priority=row.priority,
                   tags=list(row.tags), alerted_owner_id=row.alert_owner_id, alerted_deal_id=row.alert_deal_id,
                   routed_at=row.routed_at, explanation=AssignmentExplanation.of(row.explanation))  # fmt: skip


@strawberry.input(description="What leadAssign needs: the lead the rules should assign now.")
class LeadAssignInput:
    lead_id: strawberry.ID


@strawberry.input(description="What leadReassign needs: the lead and its new owner (a manager's decision).")
class LeadReassignInput:
    lead_id: strawberry.ID
    owner_id: str = strawberry.field(description="The CRM owner's id (hubspot_owner_id) of the new owner.")
    reason: str | None = strawberry.field(default=None, description="Why, for the explanation and the audit.")


@strawberry.type
class LeadAssignmentPayload:
    """What leadAssign and leadReassign answer (each under its own name, as the schema's rules ask)."""

    assignment: LeadAssignment | None = strawberry.field(description="The lead's assignment as recorded now.")
    user_errors: list[UserError] = strawberry.field(description="What could not be done.")


@strawberry.type(description="What leadAssign did.")
class LeadAssignPayload(LeadAssignmentPayload):
    pass


@strawberry.type(description="What leadReassign did.")
class LeadReassignPayload(LeadAssignmentPayload):
    pass


QUEUE_STATES = ("claimed", "assigning", "assigned", "routed", "failed")


def _page(info: Info, first: int, after: str | None, state: str | None) -> tuple[int, int]:
    """The queue's offset and page size; a :class:`ClientError` naming a bad argument."""
    check_first(first, info.context.max_page_size)
    if state is not None and state not in QUEUE_STATES:
        raise ClientError(f"state: {state!r} is not a queue state (expected one of {', '.join(QUEUE_STATES)})")
    # The queue moves while it is read (new leads arrive on top): a position in it is what a cursor can be.
    offset = int(decode_position(after, WHOLE)[0]) if after else 0
    return offset, first


def _connection(nodes: list[T], offset: int, first: int, total: int) -> Connection[T]:
    edges = [Edge(node=node, key=(offset + index + 1,)) for index, node in enumerate(nodes[:first])]
    return connection(edges, has_next=len(nodes) > first, has_previous=offset > 0, total=total)


def _running(info: Info) -> Assignment:
    running: Assignment | None = info.context.assignment
    if running is None or (running.leads is None and running.tickets is None):
        raise ClientError("lead distribution and ticket routing are not configured (workflows.assignment)")
    return running


def _lead_id(info: Info, lead_id: str, argument: str) -> tuple[Assignment, str]:
    running = _running(info)
    if running.leads is None:
        raise ClientError("lead distribution is not configured (workflows.assignment.leads)")
    _, parts = decode_id(lead_id, "Lead", argument=argument)
    if parts[0] != running.leads.rules.source:
        raise ClientError(f"{argument}: leads of {parts[0]} are not distributed (leads.source)")
    return running, ":".join(parts[1:])


def _payload(running: Assignment, row: LeadRow | None, lead_id: str) -> LeadAssignmentPayload:
    assert running.leads is not None
    if row is None:
        missing = UserError(field=["input", "leadId"], message=f"no lead {lead_id}", code=UserErrorCode.NOT_FOUND)
        return LeadAssignmentPayload(assignment=None, user_errors=[missing])
    errors = [] if row.state == "assigned" else [UserError(
        field=None, message=f"the lead is {row.state}: {row.explanation.get('why', 'see the explanation')}",
        code=UserErrorCode.INVALID)]  # fmt: skip
    return LeadAssignmentPayload(assignment=LeadAssignment.of(row, running.leads.rules.crm), user_errors=errors)


@strawberry.type
class AssignmentQuery:
    @strawberry.field(description="Who a lead was assigned to, and why (null before it was).")
    async def lead_assignment(self, info: Info, lead_id: strawberry.ID) -> LeadAssignment | None:
        running, number = _lead_id(info, lead_id, "leadId")
        assert running.leads is not None
        row = await running.store.lead(running.leads.rules.source, number)
        return LeadAssignment.of(row, running.leads.rules.crm) if row is not None else None

    @strawberry.field(
        description="The lead queue: every lead the rules took up, newest first, with its state, owner and why."
    )
    async def lead_assignments(
        self, info: Info, first: int = 20, after: str | None = None, state: str | None = None
    ) -> Connection[LeadAssignment]:
        running = _running(info)
        if running.leads is None:
            raise ClientError("lead distribution is not configured (workflows.assignment.leads)")
        crm = running.leads.rules.crm
        offset, first = _page(info, first, after, state)
        rows, total = await running.store.recent_leads(offset, first + 1, state)
        return _connection([LeadAssignment.of(row, crm) for row in rows], offset, first, total)

    @strawberry.field(description="The ticket queue: tickets being routed first, then the routed ones, newest first.")
    async def ticket_routings(
        self, info: Info, first: int = 20, after: str | None = None, state: str | None = None
    ) -> Connection[TicketRouting]:
        running = _running(info)
        offset, first = _page(info, first, after, state)
        rows, total = await running.store.recent_tickets(offset, first + 1, state)
        return _connection([TicketRouting.of(row) for row in rows], offset, first, total)

    @strawberry.field(description="Where a ticket was routed, and why (null before it was).")
    async def ticket_routing(self, info: Info, ticket_id: strawberry.ID) -> TicketRouting | None:
        running = _running(info)
        _, parts = decode_id(ticket_id, "Ticket", argument="ticketId")
        row = await running.store.ticket(parts[0], ":".join(parts[1:]))
        return TicketRouting.of(row) if row is not None else None


@strawberry.type
class AssignmentMutation:
    @strawberry.mutation(description="Assign a lead by the rules now (once: a lead already assigned stays).")
    async def lead_assign(self, info: Info, input: LeadAssignInput) -> LeadAssignPayload:
        running, number = _lead_id(info, input.lead_id, "input.leadId")
        assert running.leads is not None
        answer = _payload(running, await running.leads.new_lead(number), input.lead_id)
        return LeadAssignPayload(assignment=answer.assignment, user_errors=answer.user_errors)

    @strawberry.mutation(description="A manager gives a lead to another rep: it wins over the rules and the SLA.")
    async def lead_reassign(self, info: Info, input: LeadReassignInput) -> LeadReassignPayload:
        running, number = _lead_id(info, input.lead_id, "input.leadId")
        assert running.leads is not None
        owner = input.owner_id.strip()
        if not owner or len(owner) > 64:
            return LeadReassignPayload(assignment=None, user_errors=[UserError(
                field=["input", "ownerId"], message="a CRM owner's id", code=UserErrorCode.INVALID)])  # fmt: skip
        principal = info.context.principal
        actor = principal.subject if principal is not None else info.context.actor
        roles = tuple(sorted(principal.roles)) if principal is not None else ()
        manual = Manual(owner, actor, roles, (input.reason or "")[:500])
        answer = _payload(running, await running.leads.reassign(number, manual), input.lead_id)
        return LeadReassignPayload(assignment=answer.assignment, user_errors=answer.user_errors)


@strawberry.type(description="A lead assigned (by the rules, the SLA or a manager) to a rep.")
class LeadAssigned:
    assignment: LeadAssignment


@strawberry.type(description="A high-severity complaint from a customer with an open deal: for the deal's owner.")
class DealOwnerAlert:
    routing: TicketRouting
    owner_id: str = strawberry.field(description="The deal owner's CRM id.")
    deal_id: str = strawberry.field(description="The open deal's id in the CRM.")


def _may_hear(info: Info, owner_id: str | None) -> str | None:
    """A rep scoped to their own customers hears of their own leads only (their owner_id attribute)."""
    access, principal = info.context.access, info.context.principal
    if access is None or not access.scoped or principal is None:
        return owner_id
    own = principal.attributes.get("owner_id")
    if own is None or (owner_id is not None and owner_id != str(own)):
        raise ClientError("ownerId: a rep scoped to their own customers hears only of their own leads")
    return str(own)


@strawberry.type
class AssignmentSubscription:
    @strawberry.subscription(description="Leads assigned (to one owner, or to anyone).")
    async def lead_assigned(self, info: Info, owner_id: str | None = None) -> AsyncGenerator[LeadAssigned, None]:
        wanted = _may_hear(info, owner_id)
        running = _running(info)

        def accepts(d: Delivery) -> bool:
            return d.event.entity is Entity.PERSON and ASSIGNED in d.event.changed

        async for delivery in deliveries(info, accepts):
            row = await running.store.lead(delivery.event.system, delivery.event.record_id)
            if row is None or running.leads is None or (wanted is not None and row.owner_id != wanted):
                continue
            yield LeadAssigned(assignment=LeadAssignment.of(row, running.leads.rules.crm))

    @strawberry.subscription(description="High-severity complaints from customers with an open deal, for the deal's "
                             "owner (one, or any).")  # fmt: skip
    async def deal_owner_alert(self, info: Info, owner_id: str | None = None) -> AsyncGenerator[DealOwnerAlert, None]:
        wanted = _may_hear(info, owner_id)
        running = _running(info)

        def accepts(d: Delivery) -> bool:
            return d.event.entity is Entity.TICKET and DEAL_OWNER_ALERT in d.event.changed

        async for delivery in deliveries(info, accepts):
            row = await running.store.ticket(delivery.event.system, delivery.event.record_id)
            if row is None or not row.alert_owner_id or (wanted is not None and row.alert_owner_id != wanted):
                continue
            yield DealOwnerAlert(routing=TicketRouting.of(row), owner_id=row.alert_owner_id,
                                 deal_id=row.alert_deal_id or "")  # fmt: skip
