"""The routing rules, as pure functions: which group (the first rule whose ``when`` holds, else the default),
which agent of it (skill, language, capacity, then the least loaded, ties taken in turn), which priority
and tags, and whether a deal's owner is alerted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crmgraph.workflows.assignment.lead_rules import Step
from crmgraph.workflows.assignment.settings import Agent, Group, RoutingRule, TicketRouting
from crmgraph.workflows.triage.verdict import Triage

LEVELS = ("low", "normal", "high", "urgent")


@dataclass(frozen=True)
class OpenDeal:
    deal_id: str
    owner_id: str | None
    amount: float


@dataclass(frozen=True)
class TicketFacts:
    triage: Triage
    language: str
    customer_id: int | None = None
    revenue: float = 0.0
    open_deals: tuple[OpenDeal, ...] = ()
    existing_tags: tuple[str, ...] = ()


@dataclass
class Routing:
    group: Group
    agent: Agent
    priority: str
    tags: list[str]
    vip: bool
    rule: str
    steps: list[Step] = field(default_factory=list)
    alert: OpenDeal | None = None

    def explanation(self, facts: TicketFacts) -> dict[str, Any]:
        triage = facts.triage
        return {
            "triage": {"severity": triage.severity, "category": triage.category, "tags": list(triage.tags),
                       "confidence": triage.confidence, "classifier": triage.classifier},
            "customer": {"id": facts.customer_id, "vip": self.vip, "revenue": facts.revenue,
                         "openDeals": [d.deal_id for d in facts.open_deals]},
            "language": facts.language,
            "rule": self.rule,
            "group": self.group.name,
            "candidates": self.steps[-2].kept if len(self.steps) > 1 else [self.agent.id],
            "chosen": self.agent.id,
            "why": self.steps[-1].note,
            "priority": self.priority,
            "tags": self.tags,
            "alert": {"deal": self.alert.deal_id, "owner": self.alert.owner_id} if self.alert else None,
            "steps": [step.as_dict() for step in self.steps],
        }  # fmt: skip


def is_vip(routing: TicketRouting, facts: TicketFacts) -> tuple[bool, str]:
    vip = routing.vip
    if vip.revenue_at_least is not None and facts.revenue >= vip.revenue_at_least:
        return True, f"ERP revenue {facts.revenue:,.0f} >= {vip.revenue_at_least:,.0f}"
    if vip.open_deals and facts.open_deals:
        return True, f"{len(facts.open_deals)} open deal(s) in the CRM"
    return False, "neither the revenue nor an open deal makes the customer a VIP"


def _holds(rule: RoutingRule, facts: TicketFacts, vip: bool) -> bool:
    when, triage = rule.when, facts.triage
    return (
        (not when.categories or triage.category in when.categories)
        and (not when.severities or triage.severity in when.severities)
        and (when.vip is None or when.vip == vip)
        and (not when.languages or facts.language in when.languages)
    )


def route(routing: TicketRouting, facts: TicketFacts, loads: Mapping[str, int], turn: int) -> Routing:
    """``loads`` are the tickets routed to each agent, ``turn`` the group's rotation position for ties."""
    vip, vip_why = is_vip(routing, facts)
    groups = {group.name: group for group in routing.groups}
    rule = next((r for r in routing.rules if _holds(r, facts, vip)), None)
    group = groups[rule.group if rule is not None else routing.default_group]
    names = [r.name for r in routing.rules]
    first = Step("rule", [rule.name if rule else "default"],
                 {name: "its `when` does not hold" for name in names[: names.index(rule.name) if rule else None]},
                 f"group {group.name}: " + (f"rule {rule.name} holds" if rule else "no rule holds, the default")
                 + f"; VIP: {vip_why}")  # fmt: skip
    steps = [first]
    agents = list(group.agents)
    category = facts.triage.category
    for name, keep, everyone in (
        ("skill", lambda a: not a.skills or category in a.skills, f"nobody handles {category}: skill not applied"),
        ("language", lambda a: not a.languages or facts.language in a.languages,
         f"nobody answers in {facts.language}: language not applied"),
        ("capacity", lambda a: loads.get(a.id, 0) < a.capacity, "everyone is at capacity: capacity not applied"),
    ):  # fmt: skip
        kept = [a for a in agents if keep(a)]
        if kept:
            steps.append(
                Step(name, [a.id for a in kept], {a.id: f"left out by {name}" for a in agents if a not in kept})
            )
            agents = kept
        else:
            steps.append(Step(name, [a.id for a in agents], {}, everyone))
    least = min(loads.get(a.id, 0) for a in agents)
    tied = [a for a in agents if loads.get(a.id, 0) == least]
    agent = tied[turn % len(tied)]
    steps.append(Step("least_load", [agent.id], {}, f"the least loaded ({least} routed tickets); "
                      f"{len(tied)} tied, turn {turn} takes {agent.id}"))  # fmt: skip
    level = LEVELS.index(rule.priority if rule and rule.priority else facts.triage.severity)
    priority = LEVELS[min(level + 1, len(LEVELS) - 1)] if vip and not (rule and rule.priority) else LEVELS[level]
    wanted = [
        *facts.existing_tags,
        *facts.triage.tags,
        *(rule.tags if rule else ()),
        f"severity_{facts.triage.severity}",
    ]
    if vip:
        wanted.append("vip")
    tags = list(dict.fromkeys(tag.lower().replace(" ", "_") for tag in wanted))
    alert_rule = routing.deal_owner_alert
    alert = None
    if facts.open_deals and facts.triage.severity in alert_rule.severities and category in alert_rule.categories:
        alert = max(facts.open_deals, key=lambda deal: deal.amount)
    return Routing(group, agent, priority, tags, vip, rule.name if rule else "default", steps, alert)
