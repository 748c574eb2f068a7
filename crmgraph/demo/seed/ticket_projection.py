"""How the ticket system (Zendesk) records a party: an organization, its users, tickets and comments."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import NamedTuple

import orjson

from crmgraph.demo.seed import timefmt
from crmgraph.demo.seed import vocabulary as vocab
from crmgraph.demo.seed.address_noise import TICKET_HABIT, as_free_text, record_address
from crmgraph.demo.seed.ids import Ids
from crmgraph.demo.seed.noise import (
    Noise,
    case_spacing,
    email_case,
    name_case,
    phone_as_recorded,
    private_email,
    typo,
)
from crmgraph.demo.seed.onboarding import tickets_created
from crmgraph.demo.seed.party import AS_OF, Party, Person, random_instant, skewed, stream
from crmgraph.demo.seed.passes import Later
from crmgraph.demo.seed.sink import LabelSink, SqliteSink, TruthSink
from crmgraph.demo.seed.ticket_phrases import COMMENTS
from crmgraph.demo.seed.ticket_texts import draw_ticket_text

AGENT_COUNT = 25
GROUPS = (20_000_001, 20_000_002, 20_000_003)  # first line, billing, logistics
OPEN_STATUSES = ("new", "open", "pending", "hold")
CHANNELS = ("email", "web", "api", "voice", "chat")


def agents(ids: Ids) -> list[tuple[object, ...]]:
    """The support agents' user rows: they are assigned tickets and write most replies."""
    rng = random.Random("agents")
    stamp = timefmt.zendesk(AS_OF - timedelta(days=1500))
    rows: list[tuple[object, ...]] = []
    for n in range(AGENT_COUNT):
        first, last = rng.choice(vocab.EN_FIRST_NAMES), rng.choice(vocab.EN_LAST_NAMES)
        email = f"{first}.{last}{n}@support.demo.crmgraph.test".lower()
        rows.append(
            (ids.zd_user(), f"{first} {last}", email, None, None, None, "agent", "UTC", "en-US",
             "[]", stamp, stamp, 1, 1)
        )  # fmt: skip
    return rows


class _Organization(NamedTuple):
    name: str
    external_id: str | None
    domains: str  # JSON array
    details: str | None
    noise: list[Noise]


def _organization(party: Party, rng: random.Random, ids: Ids, duplicate: bool) -> _Organization:
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
        external_id = str(ids.crm_company(party.index))
    address = record_address(rng, party.address, TICKET_HABIT, scale=1.5 if duplicate else 1.0)
    details = as_free_text(rng, party.address, address)
    return _Organization(name, external_id, orjson.dumps(domains).decode(), details, noise + address.noise)


def _user(person: Person, rng: random.Random, duplicate: bool) -> tuple[str, str | None, str | None, list[Noise]]:
    """(name, e-mail, phone, noise) of an end user; a duplicate is the same person arriving through another
    channel: a call without an e-mail, or mail from a private address."""
    noise: list[Noise] = [Noise.DUPLICATE] if duplicate else []
    name = person.display_name
    if person.chinese and rng.random() < (0.4 if duplicate else 0.1):
        name = person.latin_name
        noise.append(Noise.NAME_SCRIPT)
    if name.isascii():
        if rng.random() < (0.15 if duplicate else 0.02):
            name = typo(rng, name)
            noise.append(Noise.TYPO)
        if rng.random() < (0.1 if duplicate else 0.03):
            name = name_case(rng, name)
            noise.append(Noise.CASE_SPACING)
    email: str | None = person.email
    if duplicate:
        if rng.random() < 0.7:
            email = None
            noise.append(Noise.MISSING_EMAIL)
        else:
            email = private_email(rng, person)
            noise.append(Noise.OTHER_EMAIL)
    elif rng.random() < 0.03:
        email = None
        noise.append(Noise.MISSING_EMAIL)
    elif rng.random() < 0.08:
        email = email_case(rng, person.email)
        noise.append(Noise.EMAIL_CASE)
    phone: str | None
    phone, reformatted = phone_as_recorded(rng, person.phone, "e164", 0.2)
    if rng.random() < (0.3 if duplicate else 0.5):
        phone = None
        noise.append(Noise.MISSING_PHONE)
    elif reformatted:
        noise.append(Noise.PHONE_FORMAT)
    return name, email, phone, noise


class _Requester(NamedTuple):
    user_id: int
    organization_id: int | None
    chinese: bool  # writes Chinese most of the time
    name: str  # how they sign


def project_tickets(
    party: Party, seed: int, ids: Ids, agent_ids: list[int], sink: SqliteSink, truth: TruthSink, labels: LabelSink
) -> list[Later]:
    rng = stream(seed, party.index, "tickets")
    created = tickets_created(rng, party.since)  # first: duplicates draw it again
    org_id = ids.zd_organization()
    org = _organization(party, rng, ids, duplicate=False)
    tags = orjson.dumps([party.industry[0].lower(), party.place.country.lower()]).decode()
    stamp = timefmt.zendesk(created)
    sink.add("organizations", (org_id, org.name, org.external_id, org.domains, org.details, None, tags, stamp, stamp))
    truth.add(party.key, "", "tickets", "organizations", org_id, org.noise, org.external_id or "")
    later = [Later(rng.random(), "organization")] if "tickets" in party.duplicated_in else []

    users: list[_Requester] = []
    for number, person in enumerate(party.persons, start=1):
        if not person.in_tickets:
            continue
        user_id = ids.zd_user()
        name, email, phone, person_noise = _user(person, rng, duplicate=False)
        user_external = None
        if party.in_crm and person.in_crm and rng.random() < 0.3:
            user_external = str(ids.crm_contact(party.index, number))
        user_org = org_id if rng.random() < 0.9 else None
        _add_user(sink, person, user_id, name, email, phone, user_external, user_org, random_instant(rng, created))
        users.append(_Requester(user_id, user_org, person.chinese, name))
        truth.add(party.key, person.key, "tickets", "users", user_id, person_noise, user_external or "")
        if rng.random() < 0.04:
            later.append(Later(rng.random(), "user", number, org_id))
    # People land in the ticket system by asking for help: at least one ticket.
    count = (rng.randint(60, 250) if party.whale else 1 + skewed(rng, 3, 60)) if users else 0
    for _ in range(count):
        _ticket(rng, ids, agent_ids, users, created, sink, labels)
    return later


def project_tickets_later(
    party: Party,
    later: Later,
    seed: int,
    ids: Ids,
    agent_ids: list[int],
    sink: SqliteSink,
    truth: TruthSink,
    labels: LabelSink,
) -> None:
    """A second organization for the party, or a person who came in again through another channel (and
    asked for help that way)."""
    created = tickets_created(stream(seed, party.index, "tickets"), party.since)
    rng = stream(seed, party.index, f"tickets-duplicate-{later.what}-{later.number}")
    if later.what == "organization":
        org_id = ids.zd_organization()
        org = _organization(party, rng, ids, duplicate=True)
        stamp = timefmt.zendesk(random_instant(rng, created))
        sink.add("organizations", (org_id, org.name, None, org.domains, org.details, None, "[]", stamp, stamp))
        truth.add(party.key, "", "tickets", "organizations", org_id, org.noise)
        return
    person = party.persons[later.number - 1]
    user_id = ids.zd_user()
    name, email, phone, noise = _user(person, rng, duplicate=True)
    user_org = later.owner if rng.random() < 0.8 else None
    joined = random_instant(rng, created)
    _add_user(sink, person, user_id, name, email, phone, None, user_org, joined)
    truth.add(party.key, person.key, "tickets", "users", user_id, noise)
    for _ in range(rng.randint(1, 2)):
        _ticket(rng, ids, agent_ids, [_Requester(user_id, user_org, person.chinese, name)], joined, sink, labels)


def _add_user(
    sink: SqliteSink,
    person: Person,
    user_id: int,
    name: str,
    email: str | None,
    phone: str | None,
    external_id: str | None,
    organization_id: int | None,
    joined: datetime,
) -> None:
    stamp = timefmt.zendesk(joined)
    sink.add(
        "users",
        (user_id, name, email, phone, external_id, organization_id, "end-user",
         "Asia/Shanghai" if person.chinese else "UTC", "zh-cn" if person.chinese else "en-US",
         "[]", stamp, stamp, 1, 1),
    )  # fmt: skip


def _ticket(
    rng: random.Random,
    ids: Ids,
    agent_ids: list[int],
    users: list[_Requester],
    since: datetime,
    sink: SqliteSink,
    labels: LabelSink,
) -> None:
    """One request and its conversation. Its priority is the severity it was written with: the labels file
    holds the rest of what it truly is (category, tags, language)."""
    ticket_id = ids.zd_ticket()
    opened = random_instant(rng, since)
    recent = opened > AS_OF - timedelta(days=30)
    status = rng.choice(OPEN_STATUSES) if recent and rng.random() < 0.7 else rng.choice(("solved", "closed"))
    requester = rng.choice(users)
    assignee = rng.choice(agent_ids) if status != "new" else None
    text = draw_ticket_text(rng, chinese_writer=requester.chinese, signature=requester.name)
    labels.add(ticket_id, text)
    comments = rng.randint(1, 6)
    moment = opened
    last = opened
    for n in range(comments):
        author = requester.user_id if n == 0 or assignee is None or rng.random() < 0.35 else assignee
        body = text.body if n == 0 else rng.choice(COMMENTS[text.language])
        sink.add("comments", (ids.zd_comment(), ticket_id, author, body, 1, timefmt.zendesk(moment)))
        last = moment
        moment = min(AS_OF, moment + timedelta(minutes=rng.randint(5, 4000)))
    updated = last if status in OPEN_STATUSES else min(AS_OF, last + timedelta(hours=rng.randint(1, 72)))
    sink.add(
        "tickets",
        (ticket_id, None, rng.choice(("problem", "incident", "question", "task")), text.subject, text.body,
         text.severity, status, requester.user_id, requester.user_id, assignee, requester.organization_id,
         rng.choice(GROUPS), "[]", rng.choice(CHANNELS), timefmt.zendesk(opened), timefmt.zendesk(updated), None),
    )  # fmt: skip
