"""The ``workflows.rules:`` section: automation rules, *when* an event *where* a condition *then* actions.

    workflows:
      rules:
        principal: {subject: automation, roles: [automation]}   # who the actions run as
        rules:
          - name: first-order-makes-a-customer
            when: {system: erp, entity: order, kind: created}
            customer: "lifecycleStage"                            # read through the graph before `where`
            where: "customer.lifecycleStage != 'customer'"       # JMESPath over the event and what was read
            then:
              - customerUpdate: {customerId: "{{customer.id}}", lifecycleStage: customer}
              - interactionLog: {customerId: "{{customer.id}}", kind: NOTE, body: "Order {{event.recordId}} booked"}

The shape is checked here; what needs the schema and the policy (a mutation's name, its input fields, the
selections, the templates' variables, the principal's right to run each action) is checked as the facade
starts and by ``crmgraph check-config`` (:mod:`crmgraph.workflows.rules.check`), each problem with its key
path. docs/workflows.md is the reference.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crmgraph.events.change import ChangeKind, Entity


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class When(_Strict):
    """Which change events a rule hears: all that is given must hold."""

    entity: Entity = Field(description="The changed record's entity: party, person, deal, order, ticket, ...")
    kind: ChangeKind | None = Field(None, description="created, updated or deleted; none: any.")
    system: str | None = Field(None, min_length=1, description="The configured source it happened in; none: any.")
    changed: tuple[str, ...] = Field(
        (), description="At least one of these fields among the event's changed ones; none: any change."
    )


class Action(_Strict):
    """One of the graph's mutations, with its input (templates allowed in every string)."""

    mutation: str
    input: dict[str, Any]


class Rule(_Strict):
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64, description="Unique; names the rule in its runs."
    )
    enabled: bool = Field(True, description="A disabled rule hears nothing (its runs stay readable).")
    when: When
    customer: str | None = Field(
        None,
        description="A GraphQL selection over the event's customer (`lifecycleStage orders { totalCount }`), read "
        "as the rules' principal before `where`; available as `customer` (its `id` always).",
    )
    record: str | None = Field(
        None,
        description="A GraphQL selection over the changed record as its graph type (Order, Ticket, Contact, Deal, "
        "...), available as `record` (its `id` always).",
    )
    where: str | None = Field(
        None,
        description="A JMESPath expression over `event`, `customer`, `record`: the rule acts when it is true "
        "(JMESPath truth: not null, false, empty). None: always.",
    )
    then: tuple[Action, ...] = Field(
        min_length=1,
        description="Mutations run in order, each `{mutationName: {input...}}`; one failing stops the rest.",
    )

    @field_validator("then", mode="before")
    @classmethod
    def _one_mutation_each(cls, value: object) -> object:
        if not isinstance(value, list | tuple):
            return value
        actions: list[object] = []
        for position, item in enumerate(value):
            if isinstance(item, Action) or (isinstance(item, dict) and set(item) == {"mutation", "input"}):
                actions.append(item)  # already in the long form (a configuration dumped and read again)
                continue
            if not isinstance(item, dict) or len(item) != 1:
                raise ValueError(f"then.{position}: one mutation per action, written {{mutationName: {{input}}}}")
            ((mutation, given),) = item.items()
            if not isinstance(given, dict):
                raise ValueError(f"then.{position}.{mutation}: the mutation's input, as a mapping of its fields")
            actions.append({"mutation": mutation, "input": given})
        return actions


class ServicePrincipal(_Strict):
    """Who the actions run as: permissioned by ``policy.roles`` and audited like a person."""

    subject: str = Field("automation", min_length=1, max_length=200, description="As the audit trail names it.")
    roles: tuple[str, ...] = Field(("automation",), min_length=1, description="Roles of policy.roles.")


class RulesConfig(_Strict):
    principal: ServicePrincipal = Field(default_factory=ServicePrincipal)
    rules: tuple[Rule, ...] = Field((), description="The rules, each heard independently of the others.")
    max_depth: int = Field(
        4,
        ge=1,
        le=50,
        description="The most rule runs one chain of changes may pass through; a deeper one is a loop (LOOP_STOPPED).",
    )
    attempts: int = Field(3, ge=1, le=20, description="Tries of an action that failed for a retryable reason.")
    backoff_s: float = Field(0.5, ge=0, le=60, description="The wait before the second try; doubled before each next.")
    queue_size: int = Field(
        10_000,
        ge=10,
        le=1_000_000,
        description="Events waiting for the rules; past it the backlog is dropped (logged).",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> RulesConfig:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}: a run names its rule")
            seen.add(rule.name)
        return self
