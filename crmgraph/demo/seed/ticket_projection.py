"""How the ticket system (Zendesk) records a party: an organization, its users, tickets and comments."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import orjson

from crmgraph.demo.seed import timefmt
from crmgraph.demo.seed import vocabulary as vocab
from crmgraph.demo.seed.ids import Counters, crm_company_id, crm_contact_id
from crmgraph.demo.seed.noise import Noise, case_spacing, email_case, phone_as_recorded, typo
from crmgraph.demo.seed.party import AS_OF, Party, random_instant, skewed, stream
from crmgraph.demo.seed.sink import SqliteSink, TruthSink

AGENT_COUNT = 25
GROUPS = (20_000_001, 20_000_002, 20_000_003)  # first line, billing, logistics
OPEN_STATUSES = ("new", "open", "pending", "hold")
CHANNELS = ("email", "web", "api", "voice", "chat")


def agents(counters: Counters) -> list[tuple[object, ...]]:
    """The support agents' user rows: they are assigned tickets and write most replies."""
    rng = random.Random("agents")
    stamp = timefmt.zendesk(AS_OF - timedelta(days=1500))
    rows: list[tuple[object, ...]] = []
    for n in range(AGENT_COUNT):
        first, last = rng.choice(vocab.EN_FIRST_NAMES), rng.choice(vocab.EN_LAST_NAMES)
        email = f"{first}.{last}{n}@support.demo.crmgraph.test".lower()
        rows.append(
            (next(counters.zd_user), f"{first} {last}", email, None, None, None, "agent", "UTC", "en-US",
             "[]", stamp, stamp, 1, 1)
        )  # fmt: skip
    return rows


def _organization(party: Party, rng: random.Random, duplicate: bool) -> tuple[str, str | None, list[Noise], str]:
    noise: list[Noise] = [Noise.DUPLICATE] if duplicate else []
    name = party.name
    if duplicate or rng.random() < 0.1:
        name = case_spacing(rng, name)
        noise.append(Noise.CASE_SPACING)
    if rng.random() < (0.3 if duplicate else 0.03):
        name = typo(rng, name)
        noise.append(Noise.TYPO)
    domains = [party.domain]
    if rng.random() < (0.5 if duplicate else 0.15):
        domains = []
        noise.append(Noise.MISSING_DOMAIN)
    external_id = None
    if party.in_crm and not duplicate and rng.random() < 0.35:
        external_id = str(crm_company_id(party.index))
    return name, external_id, noise, orjson.dumps(domains).decode()


def project_tickets(
    party: Party, seed: int, counters: Counters, agent_ids: list[int], sink: SqliteSink, truth: TruthSink
) -> None:
    rng = stream(seed, party.index, "tickets")
    created = random_instant(rng, party.since, min(AS_OF, party.since + timedelta(days=90)))
    org_id = next(counters.zd_organization)
    name, external_id, noise, domains = _organization(party, rng, duplicate=False)
    tags = orjson.dumps([party.industry[0].lower(), party.place.country.lower()]).decode()
    org_stamp = timefmt.zendesk(created)
    details = f"{party.street}, {party.place.city}"
    sink.add("organizations", (org_id, name, external_id, domains, details, None, tags, org_stamp, org_stamp))
    truth.add(party.key, "", "tickets", "organizations", org_id, noise, external_id or "")
    if "tickets" in party.duplicated_in:
        dup_id = next(counters.zd_organization)
        dup_name, _, dup_noise, dup_domains = _organization(party, rng, duplicate=True)
        sink.add("organizations", (dup_id, dup_name, None, dup_domains, None, None, "[]", org_stamp, org_stamp))
        truth.add(party.key, "", "tickets", "organizations", dup_id, dup_noise)

    users: list[tuple[int, int | None]] = []  # (user id, organization id)
    for number, person in enumerate(party.persons, start=1):
        if not person.in_tickets:
            continue
        user_id = next(counters.zd_user)
        person_noise: list[Noise] = []
        email: str | None = person.email
        if rng.random() < 0.03:
            email, person_noise = None, [Noise.MISSING_EMAIL]
        elif rng.random() < 0.08:
            email = email_case(rng, person.email)
            person_noise.append(Noise.EMAIL_CASE)
        phone: str | None
        phone, reformatted = phone_as_recorded(rng, person.phone, "e164", 0.2)
        if rng.random() < 0.5:
            phone = None
            person_noise.append(Noise.MISSING_PHONE)
        elif reformatted:
            person_noise.append(Noise.PHONE_FORMAT)
        user_external = None
        if party.in_crm and person.in_crm and rng.random() < 0.3:
            user_external = str(crm_contact_id(party.index, number))
        user_org = org_id if rng.random() < 0.9 else None
        stamp = timefmt.zendesk(random_instant(rng, created))
        sink.add(
            "users",
            (user_id, person.display_name, email, phone, user_external, user_org, "end-user",
             "Asia/Shanghai" if person.chinese else "UTC", "zh-cn" if person.chinese else "en-US",
             "[]", stamp, stamp, 1, 1),
        )  # fmt: skip
        users.append((user_id, user_org))
        truth.add(party.key, person.key, "tickets", "users", user_id, person_noise, user_external or "")
    if not users:
        return

    count = rng.randint(60, 250) if party.whale else skewed(rng, 3, 60)
    for _ in range(count):
        _ticket(rng, counters, agent_ids, users, created, sink)


def _ticket(
    rng: random.Random,
    counters: Counters,
    agent_ids: list[int],
    users: list[tuple[int, int | None]],
    since: datetime,
    sink: SqliteSink,
) -> None:
    ticket_id = next(counters.zd_ticket)
    opened = random_instant(rng, since)
    recent = opened > AS_OF - timedelta(days=30)
    status = rng.choice(OPEN_STATUSES) if recent and rng.random() < 0.7 else rng.choice(("solved", "closed"))
    requester, org_id = rng.choice(users)
    assignee = rng.choice(agent_ids) if status != "new" else None
    subject = rng.choice(vocab.TICKET_SUBJECTS)
    comments = rng.randint(1, 6)
    moment = opened
    last = opened
    for n in range(comments):
        author = requester if n == 0 or assignee is None or rng.random() < 0.35 else assignee
        body = f"{subject}." if n == 0 else rng.choice(vocab.COMMENT_BODIES)
        sink.add("comments", (next(counters.zd_comment), ticket_id, author, body, 1, timefmt.zendesk(moment)))
        last = moment
        moment = min(AS_OF, moment + timedelta(minutes=rng.randint(5, 4000)))
    updated = last if status in OPEN_STATUSES else min(AS_OF, last + timedelta(hours=rng.randint(1, 72)))
    sink.add(
        "tickets",
        (ticket_id, None, rng.choice(("problem", "incident", "question", "task")), subject, f"{subject}.",
         rng.choice(("urgent", "high", "normal", "normal", "low")), status, requester, requester, assignee,
         org_id, rng.choice(GROUPS), "[]", rng.choice(CHANNELS), timefmt.zendesk(opened),
         timefmt.zendesk(updated), None),
    )  # fmt: skip
