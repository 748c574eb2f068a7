"""Tickets are put in a category by the configured triage classifier when the store is rebuilt: the service
report's categories and the complaints report's counts come from it; a classifier that fails leaves the
ticket system's own type in its place, and the rebuild goes on."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from crmgraph.analytics import tables as t
from crmgraph.analytics.loader import rebuild
from crmgraph.analytics.reports import ReportFilter, ReportRequest, report_now
from crmgraph.analytics.store import AnalyticStore
from crmgraph.config import Config
from crmgraph.identity.store import IdentityStore
from crmgraph.sources import OpenSources
from crmgraph.workflows.assignment.keywords import KeywordClassifier
from crmgraph.workflows.triage.http import HttpClassifier
from crmgraph.workflows.triage.settings import TriageEndpoint
from crmgraph.workflows.triage.verdict import TicketClassifier
from tests.analytics_support import with_reports, zendesk_tickets
from tests.marketing_source import MarketingEstate


def _rebuilt(config: Config, path: Path, classifier: TicketClassifier) -> AnalyticStore:
    store = AnalyticStore(f"duckdb:///{path}")

    async def run() -> None:
        identity = IdentityStore(config.identity.url)
        try:
            async with OpenSources(config) as adapters:
                await rebuild(config, store, adapters, identity, classifier=classifier)
        finally:
            identity.close()

    asyncio.run(run())
    return store


@pytest.fixture(scope="module")
def config(marketing_estate: MarketingEstate) -> Config:
    return with_reports(marketing_estate.config())


@pytest.fixture(scope="module")
def categorised(config: Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalyticStore]:
    store = _rebuilt(config, tmp_path_factory.mktemp("categories") / "analytics.duckdb", KeywordClassifier())
    yield store
    store.close()


def test_each_tickets_category_is_the_classifiers_verdict_on_its_text(
    categorised: AnalyticStore, marketing_estate: MarketingEstate
) -> None:
    classifier = KeywordClassifier()
    expected = {
        str(ticket["id"]): classifier.one(str(ticket["subject"]), str(ticket["description"])).category
        for ticket in zendesk_tickets(marketing_estate.estate)
    }
    with categorised.engine.connect() as conn:
        stored = {row.source_id: (row.category, row.complaint) for row in conn.execute(select(t.tickets))}
    assert {key: category for key, (category, _) in stored.items()} == expected
    assert all(complaint == (category == "complaint") for category, complaint in stored.values())
    assert Counter(expected.values())["complaint"] > 0, "the seeded tickets hold complaints"


def test_the_reports_count_complaints_and_categories_from_it(categorised: AnalyticStore, config: Config) -> None:
    with categorised.engine.connect() as conn:
        rows = list(conn.execute(select(t.tickets.c.category, t.tickets.c.complaint, t.tickets.c.customer_id)))
    request = ReportRequest(ReportFilter())
    service = report_now(categorised, "serviceReport", request, config.reports)
    assert {b.key: b.tickets for b in service.by_category} == dict(Counter(category for category, _, _ in rows))
    complaints = report_now(categorised, "complaintsAgainstRevenue", request, config.reports)
    filed = sum(1 for _, complaint, customer in rows if complaint and customer is not None)
    assert sum(band.complaints for band in complaints.bands) == filed > 0


def test_a_classifier_that_fails_leaves_the_ticket_systems_type(config: Config, tmp_path: Path) -> None:
    down = HttpClassifier(TriageEndpoint(url="http://127.0.0.1:9/classify", timeout_s=2))
    store = _rebuilt(config, tmp_path / "analytics.duckdb", down)
    try:
        with store.engine.connect() as conn:
            pairs = list(conn.execute(select(t.tickets.c.kind, t.tickets.c.category)))
    finally:
        store.close()
    assert pairs and all(category == kind for kind, category in pairs)
