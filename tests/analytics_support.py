"""Shared by the analytic store's tests: the marketing estate's configuration with a ``reports:`` section,
and a store rebuilt from it once per session."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from crmgraph.analytics.loader import RebuildSummary, rebuild
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.store import AnalyticStore
from crmgraph.config import Config
from crmgraph.demo.seed.vocabulary import USD_PER_UNIT
from crmgraph.identity.store import IdentityStore
from crmgraph.sources import OpenSources
from tests.conftest import Estate

# The demo's rates: EUR per unit of each currency the seed uses.
EUR_RATES = {code: Decimal(str(usd)) / Decimal(str(USD_PER_UNIT["EUR"])) for code, usd in USD_PER_UNIT.items()}


def with_reports(config: Config, **settings: Any) -> Config:
    reports = ReportsConfig(currency="EUR", exchange_rates=EUR_RATES, **settings)
    return config.model_copy(update={"reports": reports})


def rebuilt(config: Config, store: AnalyticStore) -> RebuildSummary:
    async def run() -> RebuildSummary:
        identity = IdentityStore(config.identity.url)
        try:
            async with OpenSources(config) as adapters:
                return await rebuild(config, store, adapters, identity)
        finally:
            identity.close()

    return asyncio.run(run())


def zendesk_tickets(estate: Estate) -> list[dict[str, Any]]:
    """Every ticket the ticket system holds, through its own incremental export (cursor paging)."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"start_time": 0}
    with estate.tickets() as tickets:
        while True:
            body = tickets.get("/api/v2/incremental/tickets/cursor.json", params=params).raise_for_status().json()
            found.extend(body["tickets"])
            if body.get("end_of_stream") or not body.get("after_cursor"):
                return found
            params = {"cursor": body["after_cursor"]}
