"""The lead rules, as pure functions: which team, which of its reps, and why (the explanation's steps).

In order: **territory** chooses the team (the first whose countries or regions hold the lead's country and
whose skills fit; else the first whose territory fits; else one with no territory; else the last), then,
within the team, **skill** (industry or product), **language**, **working hours** and **capacity** narrow
the reps, and **round robin** takes the next of those left, from the team's shared rotation. A narrowing
that would leave nobody is skipped (and says so): a lead is always assigned to someone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crmgraph.workflows.assignment.hours import at_work
from crmgraph.workflows.assignment.settings import LeadRules, Rep, Team

# The language a country's leads write in, unless `leads.languages` says otherwise.
COUNTRY_LANGUAGES = {
    "CN": "zh", "TW": "zh", "HK": "zh", "SG": "en", "JP": "ja", "KR": "ko", "DE": "de", "AT": "de", "CH": "de",
    "FR": "fr", "ES": "es", "IT": "it", "NL": "nl", "US": "en", "GB": "en", "IE": "en", "AU": "en", "CA": "en",
}  # fmt: skip


@dataclass(frozen=True)
class LeadFacts:
    """What the rules look at, read from the lead (and its company) in the marketing system."""

    country: str | None = None
    industry: str | None = None
    tags: tuple[str, ...] = ()

    def skills(self) -> set[str]:
        return {value.lower() for value in (self.industry, *self.tags) if value}


@dataclass
class Step:
    rule: str  # territory | skill | language | working_hours | capacity | sla | round_robin
    kept: list[str]
    dropped: dict[str, str] = field(default_factory=dict)  # candidate -> why it was left out
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "kept": self.kept, "dropped": self.dropped, "note": self.note}


@dataclass
class Decision:
    team: Team
    rep: Rep
    steps: list[Step]

    def explanation(self, facts: LeadFacts, region: str | None, language: str | None) -> dict[str, Any]:
        last = self.steps[-1]
        return {
            "lead": {"country": facts.country, "region": region, "language": language, "industry": facts.industry,
                     "tags": list(facts.tags)},
            "team": self.team.name,
            "rule": last.rule,
            "candidates": self.steps[1].kept if len(self.steps) > 1 else [self.rep.owner_id],
            "chosen": self.rep.owner_id,
            "why": last.note,
            "steps": [step.as_dict() for step in self.steps],
        }  # fmt: skip


def region_of(rules: LeadRules, country: str | None) -> str | None:
    return next((name for name, countries in rules.regions.items() if country and country in countries), None)


def language_of(rules: LeadRules, country: str | None) -> str | None:
    if not country:
        return None
    return rules.languages.get(country, COUNTRY_LANGUAGES.get(country))


def choose_team(rules: LeadRules, facts: LeadFacts) -> tuple[Team, Step]:
    region = region_of(rules, facts.country)
    skills = facts.skills()

    def covers(team: Team) -> bool:
        territory = team.territory
        return bool(facts.country and facts.country in territory.countries) or bool(
            region and region in territory.regions)  # fmt: skip

    def sells(team: Team) -> bool:
        return not team.skills or not skills or bool(skills & {s.lower() for s in team.skills})

    def open_territory(team: Team) -> bool:
        return not team.territory.countries and not team.territory.regions

    names = [team.name for team in rules.teams]
    for test, note in (
        (lambda t: covers(t) and sells(t), "the first team whose territory holds the lead and whose skills fit"),
        (covers, "the first team whose territory holds the lead (none with fitting skills)"),
        (lambda t: open_territory(t) and sells(t), "no territory holds the lead: the first team with none"),
        (open_territory, "no territory holds the lead: the first team with none"),
    ):
        found = [team for team in rules.teams if test(team)]
        if found:
            dropped = {name: "territory or skills do not fit" for name in names if name != found[0].name}
            return found[0], Step("territory", [found[0].name], dropped, note)
    last = rules.teams[-1]
    return last, Step("territory", [last.name], {}, "no team covers the lead: the last team takes it")


def _narrow(step: str, reps: list[Rep], keep: Mapping[str, str | None], note_all: str) -> tuple[list[Rep], Step]:
    """Keep the reps whose reason is None; if that leaves nobody, keep everyone and say why."""
    kept = [rep for rep in reps if keep[rep.owner_id] is None]
    dropped = {rep.owner_id: str(keep[rep.owner_id]) for rep in reps if keep[rep.owner_id] is not None}
    if not kept:
        return reps, Step(step, [rep.owner_id for rep in reps], {}, note_all)
    return kept, Step(step, [rep.owner_id for rep in kept], dropped)


def choose_rep(
    rules: LeadRules,
    team: Team,
    facts: LeadFacts,
    now: datetime,
    loads: Mapping[str, int],
    turn: int,
    exclude: Sequence[str] = (),
) -> tuple[Rep, list[Step]]:
    """The rep of ``team`` for the lead: ``loads`` are each rep's open leads, ``turn`` the team's rotation
    position for this lead, ``exclude`` the reps who had it before (an SLA reassignment)."""
    steps: list[Step] = []
    reps = list(team.members)
    if exclude:
        reps, step = _narrow("sla", reps, {r.owner_id: "had the lead and did not touch it in time"
                                           if r.owner_id in exclude else None for r in reps},
                             "every rep of the team had the lead: it goes round again")  # fmt: skip
        steps.append(step)
    skills = facts.skills()
    if skills:
        reps, step = _narrow("skill", reps, {
            r.owner_id: None if not r.skills or skills & {s.lower() for s in r.skills}
            else f"sells {', '.join(r.skills)}, not {', '.join(sorted(skills))}" for r in reps
        }, f"nobody sells {', '.join(sorted(skills))}: skill not applied")  # fmt: skip
        steps.append(step)
    language = language_of(rules, facts.country)
    if language:
        reps, step = _narrow("language", reps, {
            r.owner_id: None if not r.languages or language in r.languages else f"does not speak {language}"
            for r in reps
        }, f"nobody speaks {language}: language not applied")  # fmt: skip
        steps.append(step)
    reps, step = _narrow("working_hours", reps, {
        r.owner_id: None if at_work(r.hours or team.hours, now) else "outside working hours" for r in reps
    }, "nobody is at work now: working hours not applied (the first-touch SLA still runs)")  # fmt: skip
    steps.append(step)
    full = {r.owner_id: None if loads.get(r.owner_id, 0) < r.capacity
            else f"at capacity ({loads.get(r.owner_id, 0)} of {r.capacity} open leads)" for r in reps}  # fmt: skip
    kept, step = _narrow("capacity", reps, full, "everyone is at capacity: the least loaded are kept")
    if kept is reps and any(full.values()):
        least = min(loads.get(r.owner_id, 0) for r in reps)
        kept = [r for r in reps if loads.get(r.owner_id, 0) == least]
        step.kept = [r.owner_id for r in kept]
    steps.append(step)
    order = [r.owner_id for r in team.members]
    eligible = {r.owner_id for r in kept}
    start = turn % len(order)
    chosen_id = next(order[(start + n) % len(order)] for n in range(len(order)) if order[(start + n) % len(order)]
                     in eligible)  # fmt: skip
    chosen = next(r for r in kept if r.owner_id == chosen_id)
    note = f"round robin: turn {turn} of team {team.name} starts at {order[start]}; the first eligible from there"
    steps.append(Step("round_robin", [chosen_id], {}, note))
    return chosen, steps
