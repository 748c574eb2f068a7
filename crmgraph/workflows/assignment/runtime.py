"""``start_assignment``: lead distribution and ticket routing, running beside the app.

It subscribes to this instance's :class:`~crmgraph.events.EventHub` like a GraphQL subscription does
(every instance hears every event from the bus; the store's claims decide which one acts), and runs the
first-touch SLA job every ``leads.sla_check_every_s``. Events it acts on:

- a person **created** in the lead source: a new lead to distribute;
- a ticket **created** in the routed ticket system: a ticket to triage and route;
- a person **updated** in the CRM (other than its owner): the lead's first touch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.audit import AuditWriter
from crmgraph.cache.read_through import ReadThrough
from crmgraph.events import ChangeKind, Delivery, Entity, EventHub, SlowSubscriber
from crmgraph.events.fanout import Subscriber
from crmgraph.identity.store import IdentityStore
from crmgraph.workflows.assignment.acting import Acting
from crmgraph.workflows.assignment.clock import Clock, SystemClock
from crmgraph.workflows.assignment.leads import LeadDistributor
from crmgraph.workflows.assignment.settings import AssignmentConfig
from crmgraph.workflows.assignment.store import AssignmentStore
from crmgraph.workflows.assignment.tickets import TicketRouter, classifier_for
from crmgraph.workflows.triage.verdict import TicketClassifier
from crmgraph.writes.idempotency import IdempotencyStore
from crmgraph.writes.perform import Writer

log = logging.getLogger("crmgraph.workflows.assignment")
QUEUE = 10_000  # events waiting for the workflow (a burst of leads); past it, the SLA job catches up


@dataclass
class Assignment:
    """What the schema and tests reach through ``app.state.assignment``."""

    store: AssignmentStore
    leads: LeadDistributor | None
    tickets: TicketRouter | None
    clock: Clock
    hub: EventHub
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    subscriber: Subscriber | None = None
    acted: int = 0  # events acted on (for tests and metrics)
    _running: set[asyncio.Task[None]] = field(default_factory=set)

    def accepts(self, delivery: Delivery) -> bool:
        event = delivery.event
        if self.leads is not None:
            rules = self.leads.rules
            if event.entity is Entity.PERSON and event.system == rules.source and event.kind is ChangeKind.CREATED:
                return True
            if event.entity is Entity.PERSON and event.system == rules.crm and event.kind is ChangeKind.UPDATED:
                return True
        if self.tickets is not None:
            routing = self.tickets.routing
            return event.entity is Entity.TICKET and event.system == routing.source and event.kind is ChangeKind.CREATED
        return False

    async def _consume(self, subscriber: Subscriber) -> None:
        while True:
            try:
                delivery = await subscriber.get()
            except SlowSubscriber:
                log.warning("assignment fell behind the events; the SLA job assigns what was missed")
                continue
            task = asyncio.get_running_loop().create_task(self._act(delivery))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _act(self, delivery: Delivery) -> None:
        event = delivery.event
        try:
            if event.entity is Entity.TICKET and self.tickets is not None:
                await self.tickets.new_ticket(event.record_id, event.customer_ids)
            elif (
                self.leads is not None and event.system == self.leads.rules.source and event.kind is ChangeKind.CREATED
            ):
                await self.leads.new_lead(event.record_id)
            elif self.leads is not None:
                await self.leads.touched(event.record_id, event.changed)
            self.acted += 1
        except Exception:  # one event's failure must not stop the workflow; the SLA job retries leads
            log.exception("assignment could not act on %s %s %s", event.system, event.entity.value, event.record_id)

    async def _sla(self, every_s: float) -> None:
        assert self.leads is not None
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.leads.sweep()
            except Exception:
                log.exception("the first-touch SLA job failed; it runs again in %s s", every_s)

    async def settle(self) -> None:
        """Wait for the events being acted on (tests, shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.settle()
        if self.subscriber is not None:
            self.hub.unsubscribe(self.subscriber)
        self.store.close()


def start_assignment(
    config: AssignmentConfig,
    store_url: str,
    adapters: dict[str, Adapter],
    cache: ReadThrough,
    identity: IdentityStore,
    idempotency: IdempotencyStore,
    hub: EventHub,
    audit: AuditWriter | None,
    clock: Clock | None = None,
    triage: TicketClassifier | None = None,
) -> Assignment | None:
    """Start lead distribution and ticket routing on the running loop; None when neither is configured."""
    if config.leads is None and config.tickets is None:
        return None
    store = AssignmentStore(config.store or store_url)
    acting = Acting(adapters, Writer(idempotency, cache, hub), audit, hub)
    clock = clock or SystemClock()
    leads = LeadDistributor(config.leads, store, acting, clock) if config.leads is not None else None
    tickets = None
    if config.tickets is not None:
        tickets = TicketRouter(config.tickets, store, acting, identity, classifier_for(config.tickets, triage))
    running = Assignment(store, leads, tickets, clock, hub)
    subscriber = Subscriber(running.accepts, QUEUE)
    hub.fanout.add(subscriber)
    running.subscriber = subscriber
    loop = asyncio.get_running_loop()
    running.tasks.append(loop.create_task(running._consume(subscriber), name="assignment events"))
    if leads is not None and config.leads is not None:
        running.tasks.append(loop.create_task(running._sla(config.leads.sla_check_every_s), name="assignment SLA"))
    return running
