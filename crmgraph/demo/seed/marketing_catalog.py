"""What the marketing system holds before any lead: its users, stages, channels, campaigns, e-mails, forms
and segments. Drawn from streams of their own, so the other systems' rows never move when this changes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from crmgraph.demo.seed.crm_projection import owners
from crmgraph.demo.seed.party import AS_OF, random_instant

STAGES = ((1, "Lead", 1), (2, "MQL", 2), (3, "SQL", 3), (4, "Customer", 4))  # (id, name, weight)
STAGE_IDS = {name: stage_id for stage_id, name, _ in STAGES}
# Campaign categories, used as the channel: (id, title, alias, budget range in EUR).
CHANNELS = (
    (1, "Email", "email", (500, 5_000)),
    (2, "Webinar", "webinar", (2_000, 15_000)),
    (3, "Trade show", "trade-show", (15_000, 80_000)),
    (4, "Paid search", "paid-search", (5_000, 40_000)),
    (5, "Social", "social", (2_000, 20_000)),
    (6, "Content", "content", (1_000, 12_000)),
)
THEMES = (
    "Spring Launch", "Supply Chain Summit", "Cloud Migration", "Cost Control", "Customer Stories",
    "Product Tour", "Year-End Offer", "Partner Days", "Automation Week", "Quality Days", "New Markets",
    "Security Briefing", "Sustainability", "Industry 4.0", "Expert Series",
)  # fmt: skip
SUBJECTS = (
    "Your invitation", "Last chance to register", "Thank you for joining", "The recording is ready",
    "Five ideas for next quarter", "See you at our booth", "A case study for you", "Your guide is here",
)  # fmt: skip
FORMS = (
    (1, "Contact us", "contact_us"),
    (2, "Webinar registration", "webinar_registration"),
    (3, "Whitepaper download", "whitepaper_download"),
    (4, "Trial sign-up", "trial_signup"),
    (5, "Newsletter", "newsletter"),
)
PAGES = ("pricing", "products", "case-studies", "blog/automation", "events", "contact", "whitepapers", "about")
SEGMENTS = (
    (1, "Newsletter subscribers", "newsletter-subscribers"),
    (2, "Webinar attendees", "webinar-attendees"),
    (3, "Customers", "customers"),
    (4, "Enterprise prospects", "enterprise-prospects"),
    (5, "China market", "china-market"),
    (6, "EMEA", "emea"),
    (7, "Event leads", "event-leads"),
    (8, "Re-engagement", "re-engagement"),
)
CAMPAIGN_YEARS = 2
SITE = "https://www.demo-marketing.crmgraph.test"


def stamp(moment: datetime) -> str:
    """Mautic's API form of an instant: ISO 8601 with the UTC offset."""
    m = moment
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}+00:00"


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    channel: int  # category id
    starts: datetime
    ends: datetime
    budget: int
    emails: tuple[tuple[int, str], ...]  # (email id, subject)

    @property
    def running_until(self) -> datetime:
        return min(self.ends, AS_OF)


def users(count: int) -> list[tuple[object, ...]]:
    """Mautic users: the CRM's ``count`` owners, the same people under the same e-mail; user ``n + 1`` is
    CRM owner ``n`` (Mautic numbers its users from 1)."""
    rows: list[tuple[object, ...]] = []
    for n, (_, email, first, last, _, _) in enumerate(owners(count), start=1):
        rows.append((n, str(email).split("@")[0], email, first, last))
    return rows


def campaigns(seed: int, customers: int) -> list[Campaign]:
    """About 20 plus one for every 50 customers, spread over the channels and the last two years."""
    rng = random.Random(f"{seed}:marketing:campaigns")
    found: list[Campaign] = []
    email_id = 1
    first_start = AS_OF - timedelta(days=365 * CAMPAIGN_YEARS)
    for campaign_id in range(1, 21 + customers // 50):
        channel, title, _, (low, high) = CHANNELS[(campaign_id - 1) % len(CHANNELS)]
        starts = random_instant(rng, first_start, AS_OF - timedelta(days=14))
        ends = starts + timedelta(days=rng.randint(14, 120))
        quarter = f"Q{(starts.month - 1) // 3 + 1} {starts.year}"
        emails = []
        for _ in range(rng.randint(1, 3)):
            emails.append((email_id, rng.choice(SUBJECTS)))
            email_id += 1
        budget = rng.randrange(low, high, 50)
        found.append(Campaign(campaign_id, f"{rng.choice(THEMES)} {title} {quarter}", channel, starts, ends,
                              budget, tuple(emails)))  # fmt: skip
    return found


def campaign_rows(found: list[Campaign], seed: int) -> list[tuple[object, ...]]:
    rng = random.Random(f"{seed}:marketing:campaign-rows")
    rows: list[tuple[object, ...]] = []
    for campaign in found:
        added = campaign.starts - timedelta(days=rng.randint(3, 30))
        modified = random_instant(rng, added, campaign.running_until)
        published = campaign.ends > AS_OF or rng.random() < 0.4
        title = CHANNELS[campaign.channel - 1][1]
        description = f"{title} campaign, {campaign.starts:%B %Y}."
        rows.append((campaign.id, campaign.name, description, campaign.channel, int(published),
                     stamp(campaign.starts), stamp(campaign.ends), f"{campaign.budget:.2f}", "EUR",
                     stamp(added), stamp(modified)))  # fmt: skip
    return rows


def email_rows(found: list[Campaign]) -> list[tuple[object, ...]]:
    return [
        (email_id, f"{campaign.name} - Email {n}", subject, campaign.id, stamp(campaign.starts))
        for campaign in found
        for n, (email_id, subject) in enumerate(campaign.emails, start=1)
    ]


def segment_rows() -> list[tuple[object, ...]]:
    added = stamp(AS_OF - timedelta(days=365 * CAMPAIGN_YEARS + 30))
    return [(sid, name, alias, f"Contacts in {name.lower()}.", 1, added, added) for sid, name, alias in SEGMENTS]
