"""The ``workflows.assignment:`` section: lead distribution and ticket routing (docs/workflows.md).

::

    workflows:
      assignment:
        leads:
          source: marketing          # whose new persons are leads (its webhooks or change feed)
          crm: crm                   # where the owner is written (hubspot_owner_id on the contact)
          first_touch_sla_s: 14400   # untouched this long: reassigned to another rep
          regions: {EMEA: [DE, FR, GB], APAC: [CN, JP, SG]}
          teams:
            - name: apac
              territory: {countries: [], regions: [APAC]}
              members:
                - {owner_id: "50000001", skills: [software], languages: [zh, en], capacity: 50,
                   hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00", time_zone: Asia/Shanghai}}
        tickets:
          source: tickets
          classifier: keywords
          groups:
            - {name: complaints, group_id: "20000001", categories: [complaint], agents: [...]}
          rules:                      # the first whose `when` holds decides the group (else `default_group`)
            - {name: vip-complaints, when: {categories: [complaint], vip: true}, group: complaints, priority: urgent}
"""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Severity = Literal["low", "normal", "high", "urgent"]
WEEKDAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkingHours(_Strict):
    days: tuple[Day, ...] = Field(WEEKDAYS, description="The days the person works.")
    start: time = Field(time(9), description="Local time the working day starts.")
    end: time = Field(time(18), description="Local time it ends (before start: a night shift over midnight).")
    time_zone: str = Field("UTC", description="IANA time zone of the hours, e.g. Europe/Berlin.")

    @model_validator(mode="after")
    def _known_zone(self) -> WorkingHours:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time_zone: {self.time_zone!r} is not an IANA time zone") from None
        return self


class Territory(_Strict):
    countries: tuple[str, ...] = Field((), description="ISO 3166-1 alpha-2 codes the team covers.")
    regions: tuple[str, ...] = Field((), description="Names of `regions` the team covers.")


class Rep(_Strict):
    owner_id: str = Field(min_length=1, description="The CRM owner's id (HubSpot hubspot_owner_id).")
    skills: tuple[str, ...] = Field((), description="Industries or products the rep sells (none: any).")
    languages: tuple[str, ...] = Field((), description="ISO 639-1 languages the rep speaks (none: any).")
    capacity: int = Field(50, ge=1, description="At most this many open (untouched) leads at a time.")
    hours: WorkingHours | None = Field(None, description="When the rep works (none: the team's hours).")


class Team(_Strict):
    name: str = Field(min_length=1, description="Names the team's round-robin rotation: keep it stable.")
    territory: Territory = Field(default_factory=Territory, description="Empty: every country.")
    skills: tuple[str, ...] = Field((), description="Industries or products the whole team sells (none: any).")
    hours: WorkingHours | None = Field(None, description="The members' working hours unless their own are given.")
    members: tuple[Rep, ...] = Field(min_length=1, description="The reps, in rotation order.")


class LeadRules(_Strict):
    source: str = Field("marketing", description="The source whose new persons (leads) are distributed.")
    crm: str = Field("crm", description="The CRM source the owner is written to (a contact with owner_id).")
    first_touch_sla_s: float = Field(
        14_400, gt=0, description="A lead nobody touched this long after its assignment goes to another rep."
    )
    sla_check_every_s: float = Field(30, gt=0, le=3600, description="How often the SLA is checked.")
    regions: dict[str, tuple[str, ...]] = Field(default_factory=dict, description="Region name -> country codes.")
    languages: dict[str, str] = Field(
        default_factory=dict, description="Country code -> the language of its leads (default: a built-in table)."
    )
    teams: tuple[Team, ...] = Field((), description="In order: a lead goes to the first team whose territory and "
                                    "skills fit, else the first whose territory fits, else the last team.")  # fmt: skip

    @model_validator(mode="after")
    def _unique(self) -> LeadRules:
        names = [team.name for team in self.teams]
        if len(names) != len(set(names)):
            raise ValueError("teams: each team needs a name of its own (it names its rotation)")
        for team in self.teams:
            unknown = sorted(set(team.territory.regions) - set(self.regions))
            if unknown:
                raise ValueError(f"teams.{team.name}.territory.regions: {unknown} are not in `regions`")
        return self


class Agent(_Strict):
    id: str = Field(min_length=1, description="The agent's user id in the ticket system (Zendesk assignee_id).")
    skills: tuple[str, ...] = Field((), description="Triage categories the agent handles (none: any).")
    languages: tuple[str, ...] = Field((), description="Languages the agent answers in (none: any).")
    capacity: int = Field(40, ge=1, description="At most this many tickets routed to the agent and not solved.")


class Group(_Strict):
    name: str = Field(min_length=1, description="What rules and explanations call the group.")
    group_id: str = Field(min_length=1, description="The group's id in the ticket system (Zendesk group_id).")
    agents: tuple[Agent, ...] = Field(min_length=1, description="Who in the group takes tickets.")


class When(_Strict):
    categories: tuple[str, ...] = Field((), description="Triage categories (any of them); none: any.")
    severities: tuple[Severity, ...] = Field((), description="Triage severities (any of them); none: any.")
    vip: bool | None = Field(None, description="True: only VIP customers; false: only others; none: either.")
    languages: tuple[str, ...] = Field((), description="The ticket's language (any of them); none: any.")


class RoutingRule(_Strict):
    name: str = Field(min_length=1)
    when: When = Field(default_factory=When)
    group: str = Field(description="The group (by name) the ticket goes to.")
    priority: Severity | None = Field(None, description="The priority set (none: from the severity).")
    tags: tuple[str, ...] = Field((), description="Tags added besides the triage's.")


class Vip(_Strict):
    revenue_at_least: float | None = Field(
        None, ge=0, description="VIP when the customer's ERP orders add up to at least this (any currency)."
    )
    open_deals: bool = Field(True, description="VIP when the customer has an open deal in the CRM.")


class DealOwnerAlert(_Strict):
    severities: tuple[Severity, ...] = Field(("high", "urgent"), description="Severities that alert.")
    categories: tuple[str, ...] = Field(("complaint",), description="Categories that alert.")


class TicketRouting(_Strict):
    source: str = Field("tickets", description="The ticket system whose new tickets are routed.")
    crm: str = Field("crm", description="Where the customer's open deals (and their owners) are read.")
    erp: str | None = Field("erp", description="Where the customer's orders are read, for VIP by revenue.")
    classifier: str = Field(
        "keywords",
        description="`triage` (the classifier of workflows.triage: the trained model or an HTTP one), `keywords` "
        "(the built-in baseline) or `module:factory` of a TicketClassifier.",
    )
    groups: tuple[Group, ...] = Field(min_length=1)
    rules: tuple[RoutingRule, ...] = Field(())
    default_group: str = Field(description="The group when no rule holds.")
    vip: Vip = Field(default_factory=Vip)
    deal_owner_alert: DealOwnerAlert = Field(default_factory=DealOwnerAlert)

    @model_validator(mode="after")
    def _groups_known(self) -> TicketRouting:
        names = {group.name for group in self.groups}
        wanted = [self.default_group, *(rule.group for rule in self.rules)]
        unknown = sorted({name for name in wanted if name not in names})
        if unknown:
            raise ValueError(f"groups {unknown} are named by default_group or rules but not defined in `groups`")
        return self


class AssignmentConfig(_Strict):
    leads: LeadRules | None = Field(None, description="Lead distribution; none: leads are not distributed.")
    tickets: TicketRouting | None = Field(None, description="Ticket routing; none: tickets are not routed.")
    store: str | None = Field(
        None, description="The assignments' store (SQLAlchemy URL); none: the facade's own (identity.url)."
    )
