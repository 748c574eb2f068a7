"""Each lead rule kind and each routing rule, on the rules themselves (pure functions over the config)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crmgraph.workflows.assignment.hours import at_work
from crmgraph.workflows.assignment.keywords import KeywordClassifier
from crmgraph.workflows.assignment.lead_rules import LeadFacts, choose_rep, choose_team
from crmgraph.workflows.assignment.settings import LeadRules, TicketRouting, WorkingHours
from crmgraph.workflows.assignment.ticket_rules import OpenDeal, TicketFacts, route

WEDNESDAY_10_UTC = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)

RULES = LeadRules.model_validate({
    "regions": {"APAC": ["CN", "JP"], "EMEA": ["DE", "FR"]},
    "teams": [
        {"name": "apac", "territory": {"regions": ["APAC"]}, "members": [{"owner_id": "a1"}, {"owner_id": "a2"}]},
        {"name": "de-machinery", "territory": {"countries": ["DE"]}, "skills": ["machinery"],
         "members": [{"owner_id": "m1"}]},
        {"name": "emea", "territory": {"regions": ["EMEA"]},
         "members": [{"owner_id": "e1", "skills": ["retail"]}, {"owner_id": "e2", "skills": ["software"]},
                     {"owner_id": "e3", "capacity": 2},
                     {"owner_id": "e4", "hours": {"start": "09:00", "end": "17:00", "time_zone": "America/New_York"}}]},
        {"name": "rest", "members": [{"owner_id": "r1"}]},
    ],
})  # fmt: skip


def _rep(facts: LeadFacts, loads: dict[str, int] | None = None, turn: int = 0, now: datetime = WEDNESDAY_10_UTC,
         exclude: tuple[str, ...] = ()) -> str:  # fmt: skip
    team, _ = choose_team(RULES, facts)
    rep, _ = choose_rep(RULES, team, facts, now, loads or {}, turn, exclude)
    return rep.owner_id


def test_territory_chooses_the_team_by_country_or_region() -> None:
    assert choose_team(RULES, LeadFacts(country="JP"))[0].name == "apac"  # by region
    assert choose_team(RULES, LeadFacts(country="FR"))[0].name == "emea"
    assert choose_team(RULES, LeadFacts(country="BR"))[0].name == "rest"  # no territory holds it
    assert choose_team(RULES, LeadFacts())[0].name == "rest"


def test_industry_skill_chooses_the_team_and_the_rep() -> None:
    assert choose_team(RULES, LeadFacts(country="DE", industry="MACHINERY"))[0].name == "de-machinery"
    assert choose_team(RULES, LeadFacts(country="DE", industry="retail"))[0].name == "emea"  # DE team sells other
    # e1 sells retail only; e3 is a generalist (no skills); e4 is off work
    assert {_rep(LeadFacts(country="FR", industry="software"), turn=n) for n in range(8)} == {"e2", "e3"}
    # nobody in the team sells it: the skill is not applied, and the explanation says so
    team, _ = choose_team(RULES, LeadFacts(country="FR", industry="oil"))
    _, steps = choose_rep(
        RULES, team, LeadFacts(country="FR", industry="oil"), WEDNESDAY_10_UTC, {}, 0, exclude=("e3", "e4")
    )  # left: e1 and e2, who sell retail and software
    skill = next(step for step in steps if step.rule == "skill")
    assert skill.note.startswith("nobody sells oil")


def test_round_robin_takes_the_reps_in_turn() -> None:
    assert [_rep(LeadFacts(country="CN"), turn=n) for n in range(5)] == ["a1", "a2", "a1", "a2", "a1"]


def test_capacity_passes_over_a_full_rep_and_keeps_the_least_loaded_when_all_are_full() -> None:
    facts = LeadFacts(country="FR")
    chosen = {_rep(facts, loads={"e3": 2}, turn=n) for n in range(12)}
    assert "e3" not in chosen and chosen
    team, _ = choose_team(RULES, LeadFacts(country="CN"))
    rules = RULES.model_copy()
    full = {"a1": 50, "a2": 51}
    rep, steps = choose_rep(rules, team, LeadFacts(country="CN"), WEDNESDAY_10_UTC, full, 1)
    assert rep.owner_id == "a1" and steps[-2].note.startswith("everyone is at capacity")


def test_working_hours_pass_over_a_rep_off_work() -> None:
    # 10:00 UTC is 05:00 in New York: e4 is not at work
    assert "e4" not in {_rep(LeadFacts(country="FR"), turn=n) for n in range(12)}
    at_new_york_noon = datetime(2026, 12, 9, 17, 0, tzinfo=UTC)
    assert "e4" in {_rep(LeadFacts(country="FR"), turn=n, now=at_new_york_noon) for n in range(12)}


def test_working_hours_over_midnight_and_weekends() -> None:
    night = WorkingHours(days=("mon",), start="22:00", end="06:00", time_zone="UTC")  # type: ignore[arg-type]
    assert at_work(night, datetime(2026, 12, 7, 23, 0, tzinfo=UTC))  # Monday 23:00
    assert at_work(night, datetime(2026, 12, 8, 5, 0, tzinfo=UTC))  # Tuesday 05:00: Monday's shift
    assert not at_work(night, datetime(2026, 12, 8, 23, 0, tzinfo=UTC))
    assert not at_work(WorkingHours(), datetime(2026, 12, 12, 10, 0, tzinfo=UTC))  # a Saturday


def test_sla_reassignment_excludes_the_reps_who_had_the_lead() -> None:
    assert {_rep(LeadFacts(country="CN"), turn=n, exclude=("a1",)) for n in range(4)} == {"a2"}
    # every rep had it: it goes round again rather than to no one
    assert _rep(LeadFacts(country="CN"), exclude=("a1", "a2")) in {"a1", "a2"}


def test_unknown_region_and_duplicate_team_names_are_refused() -> None:
    with pytest.raises(ValueError, match="not in `regions`"):
        LeadRules.model_validate({"teams": [{"name": "x", "territory": {"regions": ["MARS"]},
                                             "members": [{"owner_id": "1"}]}]})  # fmt: skip
    with pytest.raises(ValueError, match="a name of its own"):
        LeadRules.model_validate({"teams": [{"name": "x", "members": [{"owner_id": "1"}]},
                                            {"name": "x", "members": [{"owner_id": "2"}]}]})  # fmt: skip


ROUTING = TicketRouting.model_validate({
    "groups": [
        {"name": "first", "group_id": "1",
         "agents": [{"id": "f1", "languages": ["en"]}, {"id": "f2", "languages": ["zh"]},
                    {"id": "f3", "skills": ["technical"]}]},
        {"name": "billing", "group_id": "2", "agents": [{"id": "b1"}]},
    ],
    "rules": [{"name": "vip-complaint", "when": {"categories": ["complaint"], "vip": True}, "group": "first",
               "priority": "urgent", "tags": ["escalated"]},
              {"name": "billing", "when": {"categories": ["billing"]}, "group": "billing"}],
    "default_group": "first",
    "vip": {"revenue_at_least": 1000},
})  # fmt: skip
CLASSIFY = KeywordClassifier()


def test_keyword_classifier_reads_english_and_chinese() -> None:
    complaint = CLASSIFY.one("Unacceptable service", "I want a refund, this is the worst support ever")
    assert (complaint.category, complaint.severity) == ("complaint", "high")
    assert CLASSIFY.one("发票错误", "我们的发票金额不对").category == "billing"
    assert CLASSIFY.one("系统崩溃 紧急", "生产环境报错").severity == "urgent"
    assert CLASSIFY.one("Hello", "Just a question about your opening hours").severity == "low"


def test_routing_by_rule_skill_language_and_load() -> None:
    billing = route(ROUTING, TicketFacts(CLASSIFY.one("Invoice wrong", "charged twice"), "en"), {}, 0)
    assert (billing.group.name, billing.agent.id, billing.rule) == ("billing", "b1", "billing")
    chinese = route(ROUTING, TicketFacts(CLASSIFY.one("登录", "无法登录账号"), "zh"), {}, 0)
    assert chinese.agent.id == "f2"
    technical = TicketFacts(CLASSIFY.one("Crash", "the app has a bug"), "en")
    # f2 answers in Chinese only; f1 (any category) and f3 (technical) take turns
    assert {route(ROUTING, technical, {}, turn).agent.id for turn in range(4)} == {"f1", "f3"}
    assert {route(ROUTING, technical, {"f1": 3, "f3": 1}, turn).agent.id for turn in range(4)} == {"f3"}  # least load
    inquiry = TicketFacts(CLASSIFY.one("Question", "how to export"), "en")
    assert route(ROUTING, inquiry, {"f1": 3, "f3": 1}, 0).agent.id == "f1"  # f3 handles technical tickets only


def test_vip_complaint_is_urgent_escalated_and_alerts_the_owner_of_the_largest_open_deal() -> None:
    deals = (OpenDeal("d1", "o1", 100.0), OpenDeal("d2", "o2", 900.0))
    facts = TicketFacts(CLASSIFY.one("Complaint", "unacceptable, I am angry"), "en", 7, 0.0, deals, ("web",))
    routed = route(ROUTING, facts, {}, 0)
    assert routed.rule == "vip-complaint" and routed.priority == "urgent" and routed.vip
    assert {"escalated", "vip", "complaint", "web", "severity_high"} <= set(routed.tags)
    assert routed.alert == deals[1]
    calm = route(ROUTING, TicketFacts(CLASSIFY.one("Complaint", "a small complaint"), "en", 7, 0.0, deals), {}, 0)
    assert calm.alert is None  # normal severity: no alert
    rich = route(ROUTING, TicketFacts(CLASSIFY.one("Question", "how to export"), "en", 7, 5000.0), {}, 0)
    assert rich.vip and rich.priority == "normal"  # a VIP's low-severity question: one level up


def test_a_mautic_delivery_is_read_as_lead_events_and_a_forged_one_refused() -> None:
    import orjson

    from crmgraph.demo.webhook_wires import mautic_headers
    from crmgraph.events.signatures import BadSignature, check_mautic
    from crmgraph.events.webhook_payloads import mautic_events

    contact = {"id": 7, "primaryCompany": {"id": 3}}
    body = orjson.dumps({"mautic.lead_post_save_new": [{"contact": contact, "timestamp": "2026-12-09T10:00:00+00:00"}],
                         "mautic.page_on_hit": [{"hit": {}}], "timestamp": datetime.now(UTC).isoformat()})  # fmt: skip

    def signed(secret: str) -> dict[str, str]:  # as a request's headers: case-insensitive, lower case here
        return {name.lower(): value for name, value in mautic_headers(secret, "POST", "", body).items()}

    check_mautic("s" * 16, body, signed("s" * 16))
    with pytest.raises(BadSignature, match="does not match"):
        check_mautic("s" * 16, body, signed("t" * 16))
    ((delivery, event),) = mautic_events("marketing", orjson.loads(body))
    assert (event.entity.value, event.record_id, event.kind.value, event.parents) == (
        "person", "7", "created", (("party", "3"),))  # fmt: skip
    assert mautic_events("marketing", orjson.loads(body))[0][0] == delivery  # a retry: the same delivery id
