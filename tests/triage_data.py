"""Labelled tickets drawn straight from the seed's text generator: more than a small estate holds, in
seconds, from the same generator the estate's tickets come from."""

from __future__ import annotations

import random

from crmgraph.demo.seed.ticket_texts import draw_ticket_text
from crmgraph.workflows.triage.dataset import Label, LabelledTicket


def drawn_tickets(count: int, seed: int = 1) -> list[LabelledTicket]:
    rng = random.Random(f"triage-tests:{seed}")
    tickets = []
    for n in range(1, count + 1):
        chinese = rng.random() < 0.35
        text = draw_ticket_text(rng, chinese_writer=chinese, signature=rng.choice(("Ann Lee", "王秀英", "")))
        label = Label(text.severity, text.category, text.tags, text.language)
        tickets.append(LabelledTicket(str(n), text.subject, text.body, label))
    return tickets
