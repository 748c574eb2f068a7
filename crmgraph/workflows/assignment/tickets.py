"""Ticket routing: a new ticket is claimed once (of every instance), triaged, looked up in the customer 360
(open deals in the CRM, revenue in the ERP), routed by the rules, written into the ticket system (group,
assignee, priority, tags), recorded with its explanation, audited; a deal's owner is alerted."""

from __future__ import annotations

import importlib
import logging
from datetime import UTC, datetime

from crmgraph import records
from crmgraph.adapters.sdk.writes import WriteOp
from crmgraph.errors import ConfigError, CrmgraphError
from crmgraph.events import Entity
from crmgraph.identity.store import IdentityStore
from crmgraph.workflows.assignment.acting import DEAL_OWNER_ALERT, WORKFLOW, Acting
from crmgraph.workflows.assignment.keywords import KeywordClassifier, language_of
from crmgraph.workflows.assignment.settings import TicketRouting
from crmgraph.workflows.assignment.store import AssignmentStore, TicketRow
from crmgraph.workflows.assignment.ticket_rules import OpenDeal, TicketFacts, route
from crmgraph.workflows.triage.verdict import TicketClassifier

log = logging.getLogger("crmgraph.workflows.assignment")


def classifier_for(routing: TicketRouting, triage: TicketClassifier | None) -> TicketClassifier:
    """The classifier routing names: ``triage`` is the one ``workflows.triage`` configures (the trained model
    or a deployment's HTTP classifier); the others are loaded by :func:`load_classifier`."""
    if routing.classifier != "triage":
        return load_classifier(routing.classifier)
    if triage is None:
        raise ConfigError(
            "workflows.assignment.tickets.classifier",
            "triage needs workflows.triage.classifier: model (a file from `crmgraph triage train`) or http",
        )
    return triage


def load_classifier(name: str) -> TicketClassifier:
    """``keywords``, or ``package.module:factory`` returning a :class:`TicketClassifier`."""
    if name == "keywords":
        return KeywordClassifier()
    module, _, factory = name.partition(":")
    try:
        made: TicketClassifier = getattr(importlib.import_module(module), factory)()
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError("workflows.assignment.tickets.classifier", f"{name!r} cannot be loaded: {exc}") from None
    return made


class TicketRouter:
    def __init__(self, routing: TicketRouting, store: AssignmentStore, acting: Acting, identity: IdentityStore,
                 classifier: TicketClassifier | None = None) -> None:  # fmt: skip
        self.routing = routing
        self.store = store
        self.acting = acting
        self.identity = identity
        self.classifier = classifier or load_classifier(routing.classifier)

    async def new_ticket(self, ticket_id: str, customer_ids: tuple[int, ...] = ()) -> TicketRow | None:
        source = self.routing.source
        if not await self.store.claim_ticket(source, ticket_id):
            return await self.store.ticket(source, ticket_id)
        try:
            return await self._route(ticket_id, customer_ids)
        except CrmgraphError:
            log.exception("ticket %s of %s could not be routed", ticket_id, source)
            await self.store.set_ticket(source, ticket_id, state="failed")
            self.acting.audited(WORKFLOW, "ticketRoute", ("Ticket.assignee",), outcome="failed")
            return await self.store.ticket(source, ticket_id)

    async def _route(self, ticket_id: str, customer_ids: tuple[int, ...]) -> TicketRow | None:
        source = self.routing.source
        found = (await self.acting.adapters[source].fetch("ticket", [ticket_id]))[0]
        if isinstance(found, Exception):
            raise found
        if not isinstance(found, records.TicketRecord):
            await self.store.set_ticket(source, ticket_id, state="failed", explanation={"why": "no such ticket"})
            return await self.store.ticket(source, ticket_id)
        (triage,) = await self.classifier.classify([(found.subject, found.description)])
        customer = customer_ids[0] if customer_ids else await self._customer(found)
        revenue, deals = await self._customer_360(customer)
        facts = TicketFacts(triage, language_of(f"{found.subject}\n{found.description}"), customer, revenue,
                            tuple(deals), found.tags)  # fmt: skip
        group_agents = {group.name: [agent.id for agent in group.agents] for group in self.routing.groups}
        loads = await self.store.ticket_loads([agent for agents in group_agents.values() for agent in agents])
        probe = route(self.routing, facts, loads, 0)  # the group first: the rotation to turn is the group's
        turn = await self.store.next_turn(f"tickets:{probe.group.name}")
        decided = route(self.routing, facts, loads, turn)
        explanation = decided.explanation(facts) | {"at": datetime.now(UTC).isoformat()}
        values = {"group_id": decided.group.group_id, "assignee_id": decided.agent.id,
                  "priority": records.TicketPriority(decided.priority.upper()), "tags": decided.tags}  # fmt: skip
        op = WriteOp("ticket", "update", values, record_id=found.source_id)
        written = await self.acting.write(source, op, f"routing:{source}:{ticket_id}", "ticketRoute",
                                          {"ticket": ticket_id, **{k: str(v) for k, v in values.items()}})  # fmt: skip
        if written.record is None:
            said = "; ".join(r.message for r in written.refusals) or str(written.problem)
            await self.store.set_ticket(source, ticket_id, state="failed", explanation=explanation | {"refused": said})
            self.acting.audited(WORKFLOW, "ticketRoute", ("Ticket.assignee",), outcome="refused")
            return await self.store.ticket(source, ticket_id)
        alert = decided.alert
        await self.store.set_ticket(
            source, ticket_id, state="routed", group_name=decided.group.name, group_id=decided.group.group_id,
            assignee_id=decided.agent.id, priority=decided.priority, tags=decided.tags, explanation=explanation,
            alert_owner_id=alert.owner_id if alert else None, alert_deal_id=alert.deal_id if alert else None,
            routed_at=datetime.now(UTC),
        )  # fmt: skip
        customers = (customer,) if customer is not None else ()
        fields = ("Ticket.group", "Ticket.assignee", "Ticket.priority", "Ticket.tags")
        self.acting.audited(WORKFLOW, "ticketRoute", fields, customers=customers)
        if alert is not None and alert.owner_id:
            self.acting.audited(WORKFLOW, "dealOwnerAlert", ("Deal.owner",), customers=customers)
            await self.acting.notify(source, Entity.TICKET, ticket_id, DEAL_OWNER_ALERT)
        return await self.store.ticket(source, ticket_id)

    async def _customer(self, ticket: records.TicketRecord) -> int | None:
        if not ticket.party_id:
            return None
        record = (self.routing.source, ticket.party_id)
        return (await self.identity.customers_of("party", [record])).get(record)

    async def _customer_360(self, customer: int | None) -> tuple[float, list[OpenDeal]]:
        """The customer's ERP revenue (orders not cancelled) and open CRM deals; what a failing system
        cannot say counts as nothing (routing goes on without it)."""
        if customer is None:
            return 0.0, []
        links = (await self.identity.links_of([customer])).get(customer, [])
        parties = {(link.source, link.source_id) for link in links if link.entity == "party"}
        deals: list[OpenDeal] = []
        revenue = 0.0
        crm, erp = self.acting.adapters.get(self.routing.crm), self.acting.adapters.get(self.routing.erp or "")
        crm_ids = [sid for source, sid in parties if source == self.routing.crm]
        if crm is not None and crm_ids:
            for found in await crm.fetch_related("deal", "party", crm_ids):
                for deal in found if isinstance(found, list) else []:
                    if isinstance(deal, records.DealRecord) and deal.stage is records.DealStage.OPEN:
                        amount = float(deal.amount.amount) if deal.amount else 0.0
                        deals.append(OpenDeal(deal.source_id, deal.owner_id, amount))
        erp_ids = [sid for source, sid in parties if source == self.routing.erp]
        if erp is not None and erp_ids:
            for found in await erp.fetch_related("order", "party", erp_ids):
                for order in found if isinstance(found, list) else []:
                    if isinstance(order, records.OrderRecord) and order.status is not records.OrderStatus.CANCELLED:
                        revenue += float(order.total.amount)
        return revenue, deals
