"""A customer's support request written from parts, and the labels it was written for.

The seed writes each ticket's subject and first comment here, and ``tickets_labels.csv`` says what each
ticket truly is: the triage model is trained and scored against it (docs/workflows.md). The
variety is deliberate: several phrasings of every part, a generic subject now and then, sentences that
talk about other classes' things, a second matter mentioned after the main one, typos, case and
punctuation slips, English words in Chinese text, and a few requests whose cue says less (or more) than
the label; so a model has to generalise.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from crmgraph.demo.seed import ticket_phrases as ph
from crmgraph.demo.seed.noise import typo


@dataclass(frozen=True)
class TicketText:
    subject: str
    body: str
    language: str  # en | zh
    severity: str
    category: str
    tags: tuple[str, ...]


def draw_ticket_text(rng: random.Random, *, chinese_writer: bool, signature: str = "") -> TicketText:
    """One labelled request; a Chinese writer writes Chinese most of the time."""
    language = "zh" if chinese_writer and rng.random() < 0.85 else "en"
    category = rng.choices(list(ph.CATEGORY_MIX), weights=list(ph.CATEGORY_MIX.values()))[0]
    severity = rng.choices(ph.SEVERITIES, weights=ph.SEVERITY_MIX[category])[0]
    topic = rng.choice(ph.TOPICS[category])
    slots = _slots(rng, language)
    tags = [topic]

    subject = (
        rng.choice(ph.SUBJECTS[language][topic]) if rng.random() < 0.75 else rng.choice(ph.GENERIC_SUBJECTS[language])
    )
    # An urgent request often shouts in its subject; a high one now and then does too.
    if rng.random() < {"urgent": 0.5, "high": 0.08}.get(severity, 0.0):
        subject = rng.choice(ph.URGENT_PREFIXES[language]) + subject

    parts = [rng.choice(ph.GREETINGS[language])]
    if rng.random() < 0.4:
        parts.append(rng.choice(ph.CONTEXT[language]))
    problems = list(ph.PROBLEMS[language][topic])
    rng.shuffle(problems)
    parts.extend(problems[: 2 if rng.random() < 0.3 else 1])
    if rng.random() < 0.12:
        other = rng.choice([c for c in ph.CATEGORIES if c != category])
        aside = rng.choice(ph.PROBLEMS[language][rng.choice(ph.TOPICS[other])])
        parts.append(rng.choice(ph.ALSO[language]) + (aside[0].lower() + aside[1:] if language == "en" else aside))
    parts.extend(_cues(rng, language, severity))
    if rng.random() < 0.1:
        parts.append(rng.choice(ph.CALLBACK[language]))
        tags.append(ph.CALLBACK_TAG)
    parts.append(rng.choice(ph.SIGNOFFS[language]))
    if signature and rng.random() < 0.5:
        parts.append(signature)
    joiner = "" if language == "zh" else (" " if rng.random() < 0.6 else "\n")
    body = joiner.join(part for part in parts if part).format(**slots)
    subject, body = _slips(rng, language, subject.format(**slots), body)
    return TicketText(subject, body, language, severity, category, tuple(tags))


def _cues(rng: random.Random, language: str, severity: str) -> list[str]:
    """The impact and urgency cues: usually one or two of the severity's own; sometimes none, and now and
    then one from the next level (people over- and understate)."""
    roll = rng.random()
    if roll < 0.08:
        return []
    if roll < 0.12:
        level = ph.SEVERITIES.index(severity) + rng.choice((-1, 1))
        neighbour = ph.SEVERITIES[min(max(level, 0), len(ph.SEVERITIES) - 1)]
        return [rng.choice(ph.CUES[language][neighbour]), rng.choice(ph.CUES[language][severity])]
    own = list(ph.CUES[language][severity])
    rng.shuffle(own)
    return own[: 2 if rng.random() < 0.25 else 1]


def _slots(rng: random.Random, language: str) -> dict[str, str]:
    products = ph.ZH_PRODUCTS if language == "zh" else ph.EN_PRODUCTS
    currency = rng.choice(("¥", "CNY ", "RMB ") if language == "zh" else ("$", "EUR ", "USD ", "£"))
    day = (
        f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
        if language == "zh"
        else (f"{rng.randint(1, 28)}/{rng.randint(1, 12)}" if rng.random() < 0.5 else f"March {rng.randint(1, 28)}")
    )
    return {
        "order": rng.choice(("", "SO-", "PO ", "#")) + str(rng.randint(4_500_000, 4_599_999)),
        "invoice": rng.choice(("INV-", "", "RE")) + str(rng.randint(90_000_000, 90_999_999)),
        "product": rng.choice(products),
        "amount": f"{currency}{rng.randint(20, 90_000):,}",
        "qty": str(rng.choice((2, 5, 10, 12, 20, 50, 100, 200, 500))),
        "date": day,
        "days": str(rng.randint(2, 30)),
        "phone": f"+{rng.choice(('86 ', '1 ', '44 ', '65 '))}{rng.randint(100_000_000, 999_999_999)}",
    }


def _slips(rng: random.Random, language: str, subject: str, body: str) -> tuple[str, str]:
    """What hurried writing does to a text: typos, lower case, lost punctuation, half-width marks."""
    if language == "en":
        words = body.split(" ")
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            at = rng.randrange(len(words))
            if len(words[at]) > 3:
                words[at] = typo(rng, words[at])
        body = " ".join(words)
        if rng.random() < 0.1:
            body, subject = body.lower(), subject.lower()
        if rng.random() < 0.05:
            subject = subject.upper()
    else:
        if rng.random() < 0.2:
            body = body.replace("，", ",").replace("。", ". ").replace("！", "!").replace("？", "?")
        if rng.random() < 0.1:
            body = body.replace("。", " ")
        if rng.random() < 0.15:
            body = rng.choice(("PO号", "订单号order", "ERP", "invoice", "急急急")) + " " + body
    if rng.random() < 0.1:
        subject = typo(rng, subject)
    return subject, body.strip()
