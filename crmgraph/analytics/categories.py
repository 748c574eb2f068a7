"""Tickets put in a category by the triage classifier (workflows.triage), for the reports.

A ticket system's own type of request (Zendesk's problem, incident, question, task) says little about what
the customer wants; the service report breaks down by, and the complaints report counts, what the
request is about: the same classifier that routes new tickets (the trained model, or a deployment's own
behind HTTP) reads each ticket's subject and text once, when its row is written. Without a classifier,
or when it fails, the system's type stands in (the row says which: ``category`` equals ``kind``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from crmgraph.analytics.settings import ReportsConfig
from crmgraph.records import TicketRecord
from crmgraph.workflows.triage.settings import TriageConfig
from crmgraph.workflows.triage.verdict import TicketClassifier

log = logging.getLogger(__name__)

BATCH = 500  # tickets a classifier call carries: a model's cost per ticket falls with the batch


def ticket_classifier(reports: ReportsConfig, triage: TriageConfig) -> TicketClassifier | None:
    """The classifier reports categorise tickets with; None when ``reports.service.categorize`` is off or
    no triage classifier is configured."""
    if not reports.service.categorize:
        return None
    from crmgraph.workflows.triage.factory import build_classifier  # scikit-learn: only when configured

    return build_classifier(triage)


async def ticket_categories(classifier: TicketClassifier | None, tickets: Sequence[TicketRecord]) -> list[str | None]:
    """One category per ticket, in order; all None without a classifier or when it fails (logged)."""
    if classifier is None or not tickets:
        return [None] * len(tickets)
    found: list[str | None] = []
    try:
        for start in range(0, len(tickets), BATCH):
            batch = tickets[start : start + BATCH]
            verdicts = await classifier.classify([(t.subject, t.description) for t in batch])
            found.extend(verdict.category for verdict in verdicts)
    except Exception as exc:  # an HTTP hook down, a bad answer: the system's own type stands in
        log.warning("reports: the triage classifier failed (%s); tickets keep their system's type", exc)
        return [None] * len(tickets)
    return found
