"""How the CRM (HubSpot) records a party: companies, contacts, deals and engagements, with noise."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import orjson

from crmgraph.demo.seed import timefmt
from crmgraph.demo.seed import vocabulary as vocab
from crmgraph.demo.seed.address_noise import CRM_HABIT, record_address
from crmgraph.demo.seed.ids import CRM_OWNER_BASE, Ids
from crmgraph.demo.seed.noise import (
    Noise,
    case_spacing,
    email_case,
    name_case,
    phone_as_recorded,
    private_email,
    typo,
)
from crmgraph.demo.seed.onboarding import crm_created
from crmgraph.demo.seed.party import AS_OF, Party, Person, random_instant, skewed, stream
from crmgraph.demo.seed.passes import Later
from crmgraph.demo.seed.sink import SqliteSink, TruthSink
from crmgraph.demo.stores.crm import ASSOCIATION_TYPE_IDS

COUNTRY_NAMES = {
    "CN": "China", "US": "United States", "GB": "United Kingdom", "DE": "Germany",
    "FR": "France", "SG": "Singapore", "JP": "Japan",
}  # fmt: skip
DEAL_STAGES_OPEN = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "contractsent")
ENGAGEMENT_WEIGHTS = (("emails", 40), ("calls", 25), ("meetings", 15), ("notes", 20))


def owners(count: int) -> list[tuple[object, ...]]:
    rng = random.Random("owners")
    rows: list[tuple[object, ...]] = []
    for n in range(count):
        first, last = rng.choice(vocab.EN_FIRST_NAMES), rng.choice(vocab.EN_LAST_NAMES)
        stamp = timefmt.hubspot(AS_OF - timedelta(days=1500 - n))
        email = f"{first}.{last}{n}@sales.demo.crmgraph.test".lower()
        rows.append((CRM_OWNER_BASE + n, email, first, last, stamp, stamp))
    return rows


def _associate(sink: SqliteSink, a_type: str, a_id: int, b_type: str, b_id: int) -> None:
    sink.add("associations", (a_type, a_id, b_type, b_id, ASSOCIATION_TYPE_IDS[(a_type, b_type)]))
    sink.add("associations", (b_type, b_id, a_type, a_id, ASSOCIATION_TYPE_IDS[(b_type, a_type)]))


def _object(
    sink: SqliteSink, rng: random.Random, kind: str, oid: int, props: dict[str, str], created: datetime
) -> None:
    updated = random_instant(rng, created)
    clean = {k: v for k, v in props.items() if v != ""}
    sink.add(
        "objects",
        (kind, oid, orjson.dumps(clean).decode(), timefmt.hubspot(created), timefmt.hubspot(updated)),
    )


def _company(party: Party, rng: random.Random, duplicate: bool) -> tuple[dict[str, str], list[Noise]]:
    noise: list[Noise] = [Noise.DUPLICATE] if duplicate else []
    name = party.name
    if duplicate or rng.random() < 0.08:
        name = case_spacing(rng, name)
        noise.append(Noise.CASE_SPACING)
    if rng.random() < (0.3 if duplicate else 0.03):
        name = typo(rng, name)
        noise.append(Noise.TYPO)
    domain = party.domain
    if rng.random() < (0.5 if duplicate else 0.08):
        domain = ""
        noise.append(Noise.MISSING_DOMAIN)
    phone, reformatted = phone_as_recorded(rng, party.phone, "international", 0.15)
    if rng.random() < 0.1:
        phone = ""
        noise.append(Noise.MISSING_PHONE)
    elif reformatted:
        noise.append(Noise.PHONE_FORMAT)
    tax_id = party.tax_id
    if rng.random() < 0.4:
        tax_id = ""
        noise.append(Noise.MISSING_TAX_ID)
    address = record_address(rng, party.address, CRM_HABIT, scale=2.0 if duplicate else 1.0)
    noise += address.noise
    stage = "customer" if party.in_erp else rng.choice(("lead", "marketingqualifiedlead", "opportunity"))
    props = {
        "name": name,
        "domain": domain,
        "website": f"https://www.{domain}" if domain else "",
        "phone": phone,
        "address": address.street,
        "city": address.city,
        "zip": address.postcode,
        "country": COUNTRY_NAMES[party.place.country],
        "industry": party.industry[0],
        "lifecyclestage": stage,
        "hubspot_owner_id": str(CRM_OWNER_BASE + party.owner_index),
        "tax_id": tax_id,
        "numberofemployees": str(party.employees),
        "annualrevenue": str(party.annual_revenue),
    }
    return props, noise


def _contact(person: Person, rng: random.Random, duplicate: bool) -> tuple[dict[str, str], list[Noise]]:
    """A contact's own properties; a duplicate is typed again by someone else, without the work address
    (HubSpot refuses a second contact with the same e-mail)."""
    noise: list[Noise] = [Noise.DUPLICATE] if duplicate else []
    first, last = person.first_name, person.last_name
    if duplicate and person.chinese and rng.random() < 0.3:
        first, last = person.first_latin, person.last_latin
        noise.append(Noise.NAME_SCRIPT)
    if first.isascii():
        if rng.random() < (0.2 if duplicate else 0.02):
            last = typo(rng, last)
            noise.append(Noise.TYPO)
        if rng.random() < (0.15 if duplicate else 0.02):
            first, last = name_case(rng, first), name_case(rng, last)
            noise.append(Noise.CASE_SPACING)
    email = person.email
    if duplicate:
        if rng.random() < 0.5:
            email = ""
            noise.append(Noise.MISSING_EMAIL)
        else:
            email = private_email(rng, person)
            noise.append(Noise.OTHER_EMAIL)
    elif rng.random() < 0.05:
        email = ""
        noise.append(Noise.MISSING_EMAIL)
    elif rng.random() < 0.05:
        email = email_case(rng, email)
        noise.append(Noise.EMAIL_CASE)
    phone, reformatted = phone_as_recorded(rng, person.phone, "international", 0.2)
    if rng.random() < 0.3:
        phone = ""
        noise.append(Noise.MISSING_PHONE)
    elif reformatted:
        noise.append(Noise.PHONE_FORMAT)
    props = {
        "firstname": first,
        "lastname": last,
        "email": email,
        "phone": phone,
        "jobtitle": person.job_title,
        "hs_language": "zh-cn" if person.chinese else "en",
    }
    return props, noise


def project_crm(party: Party, seed: int, ids: Ids, sink: SqliteSink, truth: TruthSink) -> list[Later]:
    """The party's CRM records; duplicates come at once, as their ids are keyed by party (nothing waits)."""
    rng = stream(seed, party.index, "crm")
    created = crm_created(rng, party.since)
    company_id = ids.crm_company(party.index)
    props, noise = _company(party, rng, duplicate=False)
    _object(sink, rng, "companies", company_id, props, created)
    truth.add(party.key, "", "crm", "companies", company_id, noise)
    company_ids = [company_id]
    if "crm" in party.duplicated_in:
        dup_id = ids.crm_company(party.index, duplicate=True)
        dup_props, dup_noise = _company(party, rng, duplicate=True)
        _object(sink, rng, "companies", dup_id, dup_props, random_instant(rng, created))
        truth.add(party.key, "", "crm", "companies", dup_id, dup_noise)
        company_ids.append(dup_id)

    shared = {
        "lifecyclestage": props["lifecyclestage"],
        "hubspot_owner_id": props["hubspot_owner_id"],
        "company": party.name,
    }
    contact_ids: list[int] = []
    for number, person in enumerate(party.persons, start=1):
        if not person.in_crm:
            continue
        contact_id = ids.crm_contact(party.index, number)
        contact_ids.append(contact_id)
        contact, person_noise = _contact(person, rng, duplicate=False)
        added = random_instant(rng, created)
        _object(sink, rng, "contacts", contact_id, contact | shared, added)
        _associate(sink, "contacts", contact_id, "companies", company_id)
        truth.add(party.key, person.key, "crm", "contacts", contact_id, person_noise)
        if rng.random() < 0.03:
            dup_id = ids.crm_contact(party.index, number, duplicate=True)
            dup, dup_noise = _contact(person, rng, duplicate=True)
            _object(sink, rng, "contacts", dup_id, dup | shared, random_instant(rng, added))
            _associate(sink, "contacts", dup_id, "companies", rng.choice(company_ids))
            truth.add(party.key, person.key, "crm", "contacts", dup_id, dup_noise)
            contact_ids.append(dup_id)

    deals = rng.randint(15, 50) if party.whale else skewed(rng, 1.5, 40)
    for _ in range(deals):
        deal_id = ids.crm_deal()
        opened = random_instant(rng, created)
        closed = opened + timedelta(days=rng.randint(7, 120))
        stage = (
            rng.choice(DEAL_STAGES_OPEN) if closed > AS_OF else ("closedwon" if rng.random() < 0.6 else "closedlost")
        )
        product = rng.choice(vocab.PRODUCTS)
        amount = round(product[3] * rng.randint(5, 400) / vocab.USD_PER_UNIT[party.place.currency], -1)
        deal = {
            "dealname": f"{party.name} - {product[1]}",
            "amount": f"{amount:.2f}",
            "deal_currency_code": party.place.currency,
            "pipeline": "default",
            "dealstage": stage,
            "closedate": timefmt.hubspot(closed),
            "hubspot_owner_id": props["hubspot_owner_id"],
        }
        _object(sink, rng, "deals", deal_id, deal, opened)
        _associate(sink, "deals", deal_id, "companies", company_id)
        if contact_ids:
            _associate(sink, "deals", deal_id, "contacts", rng.choice(contact_ids))

    engagements = rng.randint(100, 600) if party.whale else skewed(rng, 5, 300)
    kinds = [kind for kind, _ in ENGAGEMENT_WEIGHTS]
    weights = [weight for _, weight in ENGAGEMENT_WEIGHTS]
    for kind in rng.choices(kinds, weights, k=engagements):
        engagement_id = ids.crm_engagement()
        when = random_instant(rng, created)
        topic = rng.choice(vocab.ENGAGEMENT_TOPICS)
        _object(sink, rng, kind, engagement_id, _engagement(rng, kind, topic, when, props), when)
        _associate(sink, kind, engagement_id, "companies", company_id)
        if contact_ids:
            _associate(sink, kind, engagement_id, "contacts", rng.choice(contact_ids))
    return []


def _engagement(rng: random.Random, kind: str, topic: str, when: datetime, company: dict[str, str]) -> dict[str, str]:
    stamp = timefmt.hubspot(when)
    common = {"hs_timestamp": stamp, "hubspot_owner_id": company["hubspot_owner_id"]}
    match kind:
        case "calls":
            return common | {
                "hs_call_title": topic,
                "hs_call_body": f"Call about {topic.lower()}.",
                "hs_call_direction": rng.choice(("INBOUND", "OUTBOUND")),
                "hs_call_duration": str(rng.randint(30, 3600) * 1000),
                "hs_call_status": "COMPLETED",
            }
        case "emails":
            return common | {
                "hs_email_subject": topic,
                "hs_email_text": f"Following up on {topic.lower()}.",
                "hs_email_direction": rng.choice(("EMAIL", "INCOMING_EMAIL")),
                "hs_email_status": "SENT",
            }
        case "meetings":
            end = when + timedelta(minutes=rng.choice((30, 45, 60, 90)))
            return common | {
                "hs_meeting_title": topic,
                "hs_meeting_body": f"Agenda: {topic.lower()}.",
                "hs_meeting_start_time": stamp,
                "hs_meeting_end_time": timefmt.hubspot(end),
                "hs_meeting_outcome": "COMPLETED" if when < AS_OF - timedelta(days=1) else "SCHEDULED",
            }
        case _:
            return common | {"hs_note_body": f"Note: {topic.lower()}."}
