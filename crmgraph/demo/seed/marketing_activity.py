"""A lead's life in the marketing system: the campaigns it joined, its segments, its timeline of events,
and the points and stage that follow from them.

Every event lies within the run of one of the lead's campaigns (after the lead joined it). Points are the
sum of the lead's ``point.gained`` events, each following the event that earned it (an e-mail read, a link
clicked, a page visited, a form submitted). A click is a ``page.hit`` whose ``details.hit.source`` is
``email``, as Mautic records it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from crmgraph.demo.seed.marketing_catalog import FORMS, PAGES, SITE, STAGE_IDS, Campaign, stamp
from crmgraph.demo.seed.party import AS_OF, random_instant
from crmgraph.demo.seed.sink import SqliteSink

POINTS = {"read": 2, "click": 3, "visit": 1, "form": 10}
KINDS = (("sent", 34), ("read", 22), ("click", 10), ("visit", 22), ("form", 12))
# (stage names, weights) by what the lead's company is to the business.
STAGE_ODDS = {
    "customer": (("Customer", "SQL", "MQL", "Lead"), (45, 30, 15, 10)),
    "known": (("Lead", "MQL", "SQL", None), (40, 35, 15, 10)),
    "prospect": (("Lead", "MQL", None), (55, 20, 25)),
}


@dataclass(frozen=True)
class LeadFacts:
    added: datetime
    modified: datetime
    last_active: datetime
    points: int
    stage_id: int | None


@dataclass(frozen=True)
class Lead:
    """Who the lead is to the business, as the segments and stage see it."""

    relation: str  # "customer" | "known" | "prospect"
    chinese: bool
    europe: bool


def _join_dates(rng: random.Random, chosen: list[Campaign]) -> list[datetime]:
    return [random_instant(rng, c.starts, c.running_until - timedelta(hours=1)) for c in chosen]


def _segments(rng: random.Random, lead: Lead, channels: set[int]) -> list[int]:
    candidates = [1, 8, 4]
    if lead.relation == "customer":
        candidates += [3, 3]
    if lead.chinese:
        candidates += [5, 5]
    if lead.europe:
        candidates.append(6)
    if 2 in channels:
        candidates.append(2)
    if 3 in channels:
        candidates.append(7)
    return sorted(set(rng.sample(candidates, rng.choice((0, 1, 1, 2)))))


def project_activity(
    rng: random.Random,
    lead_id: int,
    lead: Lead,
    all_campaigns: list[Campaign],
    next_event: Callable[[], int],
    sink: SqliteSink,
) -> LeadFacts:
    """Write the lead's memberships, segments and events; return the facts its contact row needs."""
    chosen = rng.sample(all_campaigns, rng.choice((1, 1, 1, 2, 2, 3)))
    joined = _join_dates(rng, chosen)
    added = min(joined) - timedelta(minutes=rng.randint(1, 600))
    events: list[tuple[datetime, str, int, str, dict[str, object]]] = []
    for campaign, when in zip(chosen, joined, strict=True):
        manual = rng.random() < 0.2
        sink.add("campaign_leads", (campaign.id, lead_id, stamp(when), 0, int(manual)))
        log = {"campaignId": str(campaign.id), "campaignName": campaign.name, "dateTriggered": stamp(when),
               "eventName": "Contact added to campaign", "type": "campaign.addlead"}  # fmt: skip
        events.append((when, "campaign.event", campaign.id, campaign.name, {"log": log}))
    for segment_id in _segments(rng, lead, {c.channel for c in chosen}):
        sink.add("segment_leads", (segment_id, lead_id, stamp(added + timedelta(days=rng.randint(0, 60))), 0))

    wanted = max(len(events) + 1, rng.randint(2, 15))
    points = 0
    while len(events) < wanted:
        index = rng.randrange(len(chosen))
        campaign, since = chosen[index], joined[index]
        when = random_instant(rng, since, campaign.running_until)
        kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        events.append(_event(rng, kind, when, campaign))
        if kind in POINTS and len(events) < wanted:
            delta = POINTS[kind]
            points += delta
            action = {"read": "Email read", "click": "Email link clicked", "visit": "Page visited",
                      "form": "Form submitted"}[kind]  # fmt: skip
            points_log: dict[str, object] = {
                "delta": delta,
                "type": kind,
                "eventName": action,
                "actionName": events[-1][3],
            }
            events.append((when, "point.gained", campaign.id, f"{action}: +{delta}", {"log": points_log}))
        elif kind in POINTS:
            events.pop()  # no room for the points it earns: keep points and events consistent
    events.sort(key=lambda event: event[0])
    for when, event, campaign_id, label, details in events:
        details["campaignId"] = str(campaign_id)
        sink.add(
            "events", (next_event(), lead_id, event, stamp(when), campaign_id, label, orjson.dumps(details).decode())
        )
    last_active = events[-1][0]
    stages, weights = STAGE_ODDS[lead.relation]
    stage = rng.choices(stages, weights)[0]
    if points >= 30 and stage in (None, "Lead"):
        stage = "MQL"  # a scoring rule moved it up
    modified = min(AS_OF, last_active + timedelta(minutes=rng.randint(0, 3000)))
    return LeadFacts(added, modified, last_active, points, STAGE_IDS[stage] if stage else None)


def _event(
    rng: random.Random, kind: str, when: datetime, campaign: Campaign
) -> tuple[datetime, str, int, str, dict[str, object]]:
    email_id, subject = rng.choice(campaign.emails)
    stat = {"emailId": str(email_id), "emailName": f"{campaign.name} - Email", "subject": subject,
            "dateSent": stamp(when), "isRead": "0"}  # fmt: skip
    match kind:
        case "sent":
            return when, "email.sent", campaign.id, subject, {"stat": stat, "type": "sent"}
        case "read":
            sent = when - timedelta(minutes=rng.randint(5, 2000))
            read = stat | {"dateSent": stamp(sent), "dateRead": stamp(when), "isRead": "1"}
            return when, "email.read", campaign.id, subject, {"stat": read, "type": "read"}
        case "click":
            url = f"{SITE}/{rng.choice(PAGES)}?utm_campaign={campaign.id}&utm_source=email"
            hit: dict[str, object] = {"url": url, "source": "email", "sourceId": str(email_id), "dateHit": stamp(when)}
            return when, "page.hit", campaign.id, f"Clicked in e-mail: {subject}", {"hit": hit}
        case "visit":
            url = f"{SITE}/{rng.choice(PAGES)}"
            visit: dict[str, object] = {"url": url, "source": None, "sourceId": None, "dateHit": stamp(when)}
            return when, "page.hit", campaign.id, url, {"hit": visit}
        case _:
            form_id, name, alias = rng.choice(FORMS)
            submission = {"form": {"id": form_id, "name": name, "alias": alias}, "dateSubmitted": stamp(when),
                          "referer": f"{SITE}/{rng.choice(PAGES)}"}  # fmt: skip
            return when, "form.submitted", campaign.id, name, {"submission": submission}
