"""The rules at work: each change event heard is offered to every enabled rule whose ``when`` it matches.

For one rule and one event (a *run*):

1. the run is claimed in the store under (rule, event key): a redelivered event finds its claim and is
   dropped, so a rule never acts twice on one event, whichever instance hears it (every instance hears
   every event; the first claim wins);
2. a loop is stopped before anything is read (:mod:`.loops`): ``LOOP_STOPPED``;
3. the facts are read through the graph (:mod:`.facts`) and ``where`` is tested: false is ``SKIPPED``;
4. the actions run in order through the graph's mutations (:mod:`.actions`), with the run's chain set for
   the changes they make; an action failing for a retryable reason (a system unreachable, a key still in
   progress) is tried again after ``backoff_s``, doubled each time, up to ``attempts`` tries; an action that
   fails for good ends the run ``FAILED`` and the later actions are not taken;
5. what happened is recorded after each step, and the outcome at the end.

A run a stopped facade left ``PENDING`` is taken over at start (after ``STALE_AFTER``) and run again from
the top: its actions carry the same idempotency keys, so what was done is answered as done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import strawberry

from crmgraph.context import RequestContext
from crmgraph.events.causation import CAUSE
from crmgraph.events.change import ChangeEvent
from crmgraph.events.fanout import Delivery, SlowSubscriber, Subscriber
from crmgraph.events.hub import EventHub
from crmgraph.policy.principal import Principal
from crmgraph.workflows.rules import facts as fact
from crmgraph.workflows.rules.actions import Attempted, Operations, idempotency_key, operation_name
from crmgraph.workflows.rules.condition import Condition
from crmgraph.workflows.rules.loops import link, loop_reason
from crmgraph.workflows.rules.runs import RunStatus, RunStore, event_key
from crmgraph.workflows.rules.settings import Rule, RulesConfig, When
from crmgraph.workflows.rules.templates import render

log = logging.getLogger("crmgraph.rules")
STALE_AFTER = timedelta(seconds=60)  # a run PENDING this long without progress: its instance stopped


def matches(when: When, event: ChangeEvent) -> bool:
    return (
        event.entity is when.entity
        and (when.kind is None or event.kind is when.kind)
        and (when.system is None or event.system == when.system)
        and (not when.changed or not set(when.changed).isdisjoint(event.changed))
    )


class FactsUnread(Exception):
    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class RuleRunner:
    def __init__(
        self,
        config: RulesConfig,
        schema: strawberry.Schema,
        context: Callable[[Principal], RequestContext],
        hub: EventHub,
        store: RunStore,
    ) -> None:
        self.config = config
        self.rules = [rule for rule in config.rules if rule.enabled]
        self.conditions = {rule.name: Condition(rule.where) for rule in self.rules}
        self.principal = Principal(config.principal.subject, frozenset(config.principal.roles), "service")
        self.operations = Operations(schema, lambda: context(self.principal))
        self.hub = hub
        self.store = store
        self.runs = 0  # runs finished since start (tests wait on it)
        self._subscriber: Subscriber | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self.rules:
            return
        self._subscribe()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._consume(), name="automation rules"),
                       loop.create_task(self._take_over(), name="automation rules: runs left pending")]  # fmt: skip

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._subscriber is not None:
            self.hub.unsubscribe(self._subscriber)

    def _subscribe(self) -> None:
        def accepts(delivery: Delivery) -> bool:
            return any(matches(rule.when, delivery.event) for rule in self.rules)

        self._subscriber = Subscriber(accepts, self.config.queue_size)
        self.hub.fanout.add(self._subscriber)

    async def _consume(self) -> None:
        while True:
            assert self._subscriber is not None
            try:
                delivery = await self._subscriber.get()
            except SlowSubscriber:
                log.error("the automation rules fell %d events behind; those were dropped", self.config.queue_size)
                self._subscribe()
                continue
            try:
                await self.handle(delivery.event)
            except asyncio.CancelledError:
                raise
            except Exception:  # one event's trouble must not stop the rules
                log.exception("automation rules: handling event %s failed", delivery.event.id)

    async def _take_over(self) -> None:
        for run in await self.store.take_over(STALE_AFTER):
            rule = next((rule for rule in self.rules if rule.name == run.rule), None)
            if rule is not None:
                await self._run(rule, run.event, run.id)

    async def handle(self, event: ChangeEvent) -> list[RunStatus | None]:
        """Every matching rule's run on ``event`` (None for a rule that had run on it already)."""
        return [await self.run(rule, event) for rule in self.rules if matches(rule.when, event)]

    async def run(self, rule: Rule, event: ChangeEvent) -> RunStatus | None:
        run_id = await self.store.claim(rule.name, event)
        if run_id is None:
            return None  # a redelivery: the rule has run (or runs) on this event
        return await self._run(rule, event, run_id)

    async def _run(self, rule: Rule, event: ChangeEvent, run_id: int) -> RunStatus:
        attempted: list[Attempted] = []
        status, error = RunStatus.SUCCEEDED, None
        try:
            reason = loop_reason(rule.name, event, self.config.max_depth)
            if reason is not None:
                log.warning("automation rule %s stopped: %s", rule.name, reason)
                status, error = RunStatus.LOOP_STOPPED, reason
                return status
            facts = await self._facts(rule, event)
            if not self.conditions[rule.name].holds(facts):
                status = RunStatus.SKIPPED
                return status
            attempted = [Attempted(action.mutation, {}) for action in rule.then]
            status, error = await self._act(rule, event, run_id, facts, attempted)
            return status
        except FactsUnread as unread:
            status, error = RunStatus.FAILED, f"reading the facts failed: {unread}"
            return status
        except Exception as exc:  # recorded, never lost silently; the next event goes on
            log.exception("automation rule %s failed on event %s", rule.name, event.id)
            status, error = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
            return status
        finally:
            await self.store.record(run_id, status, [a.as_json() for a in attempted],
                                    sum(a.attempts for a in attempted), error)  # fmt: skip
            self.runs += 1

    async def _act(
        self, rule: Rule, event: ChangeEvent, run_id: int, facts: dict[str, Any], attempted: list[Attempted]
    ) -> tuple[RunStatus, str | None]:
        name, key = operation_name(rule.name), event_key(event)
        token = CAUSE.set((*event.chain, link(rule.name, event)))
        try:
            for position, (action, attempt) in enumerate(zip(rule.then, attempted, strict=True)):
                given = render(dict(action.input), facts)
                attempt.input = self.operations.with_key(action, given, idempotency_key(rule.name, key, position))
                delay = self.config.backoff_s
                while True:
                    await self.operations.run(attempt, name)
                    if attempt.status == "OK" or not attempt.retryable or attempt.attempts >= self.config.attempts:
                        break
                    await asyncio.sleep(delay)
                    delay *= 2
                if attempt.status != "OK":
                    return RunStatus.FAILED, f"{action.mutation}: {attempt.error}"
                await self.store.record(run_id, RunStatus.PENDING, [a.as_json() for a in attempted],
                                        sum(a.attempts for a in attempted))  # fmt: skip
        finally:
            CAUSE.reset(token)
        return RunStatus.SUCCEEDED, None

    async def _facts(self, rule: Rule, event: ChangeEvent) -> dict[str, Any]:
        customer, record = fact.customer_id(event), fact.record_id(event)
        facts: dict[str, Any] = {"event": fact.event_facts(event), "customer": None, "record": None,
                                 "rule": rule.name, "now": fact.now()}  # fmt: skip
        document = fact.facts_document(event.entity, rule.customer, rule.record,
                                       with_customer=customer is not None, with_record=record is not None)  # fmt: skip
        if document is None:
            return facts
        variables = {name: value for name, value in (("customerId", customer), ("recordId", record)) if value}
        delay = self.config.backoff_s
        for attempt in range(1, self.config.attempts + 1):
            result = await self.operations.execute(document, variables, "AutomationRuleFacts")
            if not result.errors:
                data = result.data or {}
                return facts | {"customer": data.get("customer"), "record": data.get("record")}
            extensions = result.errors[0].extensions or {}
            retryable = extensions.get("retryable") is True
            if not retryable or attempt == self.config.attempts:
                raise FactsUnread(f"{extensions.get('code', 'ERROR')}: {result.errors[0].message}", retryable)
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover
