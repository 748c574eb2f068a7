"""``crmgraph reports rebuild``: every table of the analytic store re-created from the systems.

Everything is read first, through the adapters (every source at once), then written in one transaction:
readers see the old store until the new one is complete, and a source that fails while being read leaves
the old store as it was (the error names the source). Rows go in bulk (:mod:`crmgraph.analytics.writer`),
never one round trip per row. The customer value model is fitted on the orders just read.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.analytics import tables as t
from crmgraph.analytics.categories import ticket_categories, ticket_classifier
from crmgraph.analytics.convert import Converter
from crmgraph.analytics.golden import customer_rows
from crmgraph.analytics.reading import (
    AGGREGATED,
    Progress,
    aggregating,
    daily_totals,
    read_all,
    read_pages,
    related_lists,
    run_all,
    scanning,
)
from crmgraph.analytics.rows import (
    Filing,
    Row,
    SourceRecord,
    campaign_row,
    deal_rows,
    lead_row,
    party_day_row,
    record_key,
    ticket_row,
)
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.store import AnalyticStore
from crmgraph.analytics.value_model import ValueModel, value_rows
from crmgraph.analytics.writer import replace_all
from crmgraph.config import Config
from crmgraph.identity.store import IdentityStore
from crmgraph.identity.tables import customers as golden_customers
from crmgraph.records import (
    CampaignRecord,
    DealRecord,
    LeadRecord,
    PartyRecord,
    Record,
    SegmentRecord,
    TicketRecord,
)
from crmgraph.workflows.triage.verdict import TicketClassifier

TOTALS_PARTIES = 500  # parties per aggregate_daily call (the sql adapter's statement takes as many)


@dataclass
class Snapshot:
    """What a rebuild read, already as rows: each page of records becomes rows as it arrives (filed under its
    customer, amounts converted), so a large estate's records are never all held at once."""

    filing: Filing
    converter: Converter
    reports: ReportsConfig
    parties: dict[SourceRecord, PartyRecord] = field(default_factory=dict)  # for the golden fields
    deals: list[Row] = field(default_factory=list)
    deal_stages: list[Row] = field(default_factory=list)
    tickets: list[Row] = field(default_factory=list)
    party_days: list[Row] = field(default_factory=list)
    campaigns: list[Row] = field(default_factory=list)
    leads: list[Row] = field(default_factory=list)
    lead_customers: dict[str, str | None] = field(default_factory=dict)  # lead key -> customer
    campaign_members: dict[str, list[str]] = field(default_factory=dict)  # campaign key -> lead keys
    segments: dict[str, str] = field(default_factory=dict)  # segment key -> name
    segment_members: dict[str, list[str]] = field(default_factory=dict)  # segment key -> lead keys
    read: Counter[str] = field(default_factory=Counter)  # "source.entity" -> records read
    classifier: TicketClassifier | None = None  # what puts each ticket in a category (workflows.triage)


@dataclass
class RebuildSummary:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows written
    read: dict[str, int] = field(default_factory=dict)  # "source.entity" -> records read
    missing_rates: list[str] = field(default_factory=list)  # currencies without an exchange rate
    value_model: str = ""  # how the customer value model was fitted, or why it was not
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # read (systems and identity), model, write: seconds
    version: int = 0  # the store's version after the rebuild


async def read_snapshot(
    adapters: Mapping[str, Adapter], filing: Filing, config: Config, progress: Progress | None = None,
    classifier: TicketClassifier | None = None,
) -> Snapshot:  # fmt: skip
    """Every record the reports need, read from every source at once, as rows."""
    snapshot = Snapshot(filing, Converter(config.reports), config.reports, classifier=classifier)
    totalled = {name for entity in AGGREGATED for name in aggregating(adapters, entity)}
    reads = [
        *(
            _parties(snapshot, name, adapter, progress, totals=name in totalled)
            for name, adapter in scanning(adapters, "party").items()
        ),
        *(_deals(snapshot, name, adapter, progress) for name, adapter in scanning(adapters, "deal").items()),
        *(_tickets(snapshot, name, adapter, progress) for name, adapter in scanning(adapters, "ticket").items()),
        *(
            _totals(snapshot, name, adapter, entity, None, progress)
            for entity in AGGREGATED
            for name, adapter in aggregating(adapters, entity).items()
            if "party" not in adapter.scannable  # else totalled by party once its parties are read
        ),
        *(_marketing(snapshot, name, adapter, progress) for name, adapter in scanning(adapters, "campaign").items()),
    ]
    await run_all(reads)
    order = {name: position for position, name in enumerate(adapters)}  # precedence: configured order
    snapshot.parties = dict(sorted(snapshot.parties.items(), key=lambda item: order[item[0][0]]))
    return snapshot


async def _parties(snapshot: Snapshot, name: str, adapter: Adapter, progress: Progress | None, *, totals: bool) -> None:
    found = await read_all(name, adapter, "party", progress)
    snapshot.parties.update({(name, r.source_id): r for r in found if isinstance(r, PartyRecord)})
    snapshot.read[f"{name}.party"] += len(found)
    if totals:
        ids = [record.source_id for record in found]
        del found
        for entity in AGGREGATED:
            if entity in adapter.aggregatable:
                await _totals(snapshot, name, adapter, entity, ids, progress)


async def _deals(snapshot: Snapshot, name: str, adapter: Adapter, progress: Progress | None) -> None:
    def rows(page: Sequence[Record]) -> None:
        for deal in page:
            if isinstance(deal, DealRecord):
                row, entered = deal_rows(deal, snapshot.filing, snapshot.converter)
                snapshot.deals.append(row)
                snapshot.deal_stages.extend(entered)

    snapshot.read[f"{name}.deal"] += await read_pages(name, adapter, "deal", rows, progress)


async def _tickets(snapshot: Snapshot, name: str, adapter: Adapter, progress: Progress | None) -> None:
    async def rows(page: Sequence[Record]) -> None:
        tickets = [r for r in page if isinstance(r, TicketRecord)]
        categories = await ticket_categories(snapshot.classifier, tickets)
        snapshot.tickets.extend(
            ticket_row(r, snapshot.filing, snapshot.reports, category)
            for r, category in zip(tickets, categories, strict=True)
        )

    snapshot.read[f"{name}.ticket"] += await read_pages(name, adapter, "ticket", rows, progress)


async def _totals(
    snapshot: Snapshot, name: str, adapter: Adapter, entity: str, parties: Sequence[str] | None,
    progress: Progress | None,
) -> None:  # fmt: skip
    """The source's daily totals of ``entity``: of every party at once, or ``TOTALS_PARTIES`` parties a call
    (each call short, well inside the source's timeout however large the estate, and several in flight)."""
    if parties is None:
        answers = [await daily_totals(name, adapter, entity, progress=progress)]
    else:
        chunks = [parties[i : i + TOTALS_PARTIES] for i in range(0, len(parties), TOTALS_PARTIES)]
        answers = list(await asyncio.gather(*(daily_totals(name, adapter, entity, chunk) for chunk in chunks)))
    count = 0
    for found in answers:
        snapshot.party_days.extend(party_day_row(entity, t, snapshot.filing, snapshot.converter) for t in found)
        count += len(found)
    if progress is not None and parties is not None:
        progress(f"aggregate {name} {entity}", count, count)
    snapshot.read[f"{name}.{entity}"] += count


async def _marketing(snapshot: Snapshot, name: str, adapter: Adapter, progress: Progress | None) -> None:
    """Campaigns, the leads (the source's persons) and who is a member of which campaign and segment."""
    campaigns = [r for r in await read_all(name, adapter, "campaign", progress) if isinstance(r, CampaignRecord)]
    snapshot.campaigns.extend(campaign_row(campaign, snapshot.converter) for campaign in campaigns)
    snapshot.read[f"{name}.campaign"] += len(campaigns)
    lead_ids: list[str] = []

    def leads(page: Sequence[Record]) -> None:
        for lead in page:
            if isinstance(lead, LeadRecord):
                row = lead_row(lead, snapshot.filing)
                snapshot.leads.append(row)
                snapshot.lead_customers[row["lead_key"]] = row["customer_id"]
                lead_ids.append(lead.source_id)

    snapshot.read[f"{name}.person"] += await read_pages(name, adapter, "person", leads, progress)
    if adapter.serves("person", "campaign"):
        ids = [campaign.source_id for campaign in campaigns]
        members = related_lists(name, ids, await adapter.fetch_related("person", "campaign", ids))
        for campaign_id, found in members.items():
            snapshot.campaign_members[record_key(name, campaign_id)] = _keys(name, found)
    await _segments(snapshot, name, adapter, lead_ids)


async def _segments(snapshot: Snapshot, name: str, adapter: Adapter, lead_ids: list[str]) -> None:
    """Who is in which segment: each segment's members in one paged read where the source offers it (by the
    segment's id, or its alias as Mautic's contact search takes it), else each lead's segments (a call per lead)."""
    by = next((by for by in ("segment", "segment_alias") if adapter.serves("person", by)), None)
    if "segment" in adapter.scannable and by is not None:
        listed = await read_all(name, adapter, "segment")
        segments = [r for r in listed if isinstance(r, SegmentRecord) and (by == "segment" or r.alias)]
        keys = [segment.source_id if by == "segment" else str(segment.alias) for segment in segments]
        members = related_lists(name, keys, await adapter.fetch_related("person", by, keys))
        for segment, key in zip(segments, keys, strict=True):
            segment_key = record_key(name, segment.source_id)
            snapshot.segments[segment_key] = segment.name
            snapshot.segment_members[segment_key] = _keys(name, members[key])
    elif adapter.serves("segment", "person"):
        of_lead = related_lists(name, lead_ids, await adapter.fetch_related("segment", "person", lead_ids))
        for lead_id, found in of_lead.items():
            for record in found:
                if isinstance(record, SegmentRecord):
                    key = record_key(name, record.source_id)
                    snapshot.segments[key] = record.name
                    snapshot.segment_members.setdefault(key, []).append(record_key(name, lead_id))


def _keys(name: str, records: Sequence[Record]) -> list[str]:
    return [record_key(name, record.source_id) for record in records]


def read_filing(identity: IdentityStore) -> tuple[list[int], Filing]:
    """Every golden customer id, and which customer each linked record belongs to."""
    parties, _persons = identity.golden_of_records()
    with identity.engine.connect() as conn:
        customer_ids = list(conn.scalars(select(golden_customers.c.id).order_by(golden_customers.c.id)))
    return customer_ids, Filing(parties, identity.customers_of_person_records())


def build_tables(
    snapshot: Snapshot, customer_ids: Sequence[int], config: Config, sources: Sequence[str]
) -> dict[str, list[Row]]:
    """Every table's rows (but the value model's) from what was read."""
    segment_rows: dict[tuple[str, str], Row] = {}
    for segment, members in snapshot.segment_members.items():
        for lead_key in members:
            customer = snapshot.lead_customers.get(lead_key)
            if customer is not None:  # a customer is in a segment when one of its leads is
                segment_rows[(customer, segment)] = {
                    "customer_id": customer, "segment_key": segment, "segment_name": snapshot.segments.get(segment),
                }  # fmt: skip
    return {
        "customers": customer_rows(
            customer_ids, snapshot.parties, snapshot.filing.parties, sources, config.identity.survivorship
        ),
        "deals": snapshot.deals,
        "deal_stages": snapshot.deal_stages,
        "tickets": snapshot.tickets,
        "party_days": snapshot.party_days,
        "campaigns": snapshot.campaigns,
        "leads": snapshot.leads,
        "campaign_members": [
            {"campaign_key": campaign, "lead_key": lead}
            for campaign, members in snapshot.campaign_members.items()
            for lead in dict.fromkeys(members)
        ],
        "customer_segments": list(segment_rows.values()),
    }


def freshness_rows(read: Mapping[str, int], tables: Mapping[str, list[Row]], now: datetime) -> list[Row]:
    """One row per source and entity read, one for the golden customers and one for the value model."""
    rows = [{"name": name, "loaded_at": now, "changed_at": None, "rows": count} for name, count in sorted(read.items())]
    rows.append({"name": "identity.customer", "loaded_at": now, "changed_at": None, "rows": len(tables["customers"])})
    rows.append(
        {"name": "model.customer_value", "loaded_at": now, "changed_at": None, "rows": len(tables["customer_value"])}
    )
    return rows


def rebuild_config(config: Config) -> Config:
    """``config`` with every source's call timeout raised to ``reports.rebuild_timeout_s``: a rebuild's calls
    are few and large (a segment's members, a source's daily totals), not a request's many small ones."""
    sources = {}
    for name, source in config.sources.items():
        settings = source.settings()
        resilience = dict(settings.get("resilience") or {})
        resilience["timeout_s"] = max(float(resilience.get("timeout_s", 0)), config.reports.rebuild_timeout_s)
        sources[name] = source.model_copy(update={"resilience": resilience})
    return config.model_copy(update={"sources": sources})


async def rebuild(
    config: Config,
    store: AnalyticStore,
    adapters: Mapping[str, Adapter],
    identity: IdentityStore,
    progress: Progress | None = None,
    classifier: TicketClassifier | None = None,
) -> RebuildSummary:
    """Re-create every table from the systems; the old store stays until the new one is complete.
    ``classifier`` puts tickets in categories (default: the one ``workflows.triage`` configures)."""
    started = time.monotonic()
    now = datetime.now(UTC)
    if classifier is None:
        classifier = ticket_classifier(config.reports, config.workflows.triage)
    customer_ids, filing = await asyncio.to_thread(read_filing, identity)
    snapshot = await read_snapshot(adapters, filing, config, progress, classifier)
    read = time.monotonic()
    converter = snapshot.converter
    tables = build_tables(snapshot, customer_ids, config, list(adapters))
    counts = dict(sorted(snapshot.read.items()))
    del snapshot, filing  # the party records: what a large estate's rebuild must not hold while it writes
    model = await asyncio.to_thread(ValueModel.fit, tables["party_days"], config.reports.value, now)
    tables["customer_value"] = value_rows(model, tables["party_days"], config.reports.value, now)
    fresh = freshness_rows(counts, tables, now)
    modelled = time.monotonic()
    summary = RebuildSummary(read=counts, value_model=model.status)
    summary.rows = {name: len(rows) for name, rows in tables.items()}
    summary.version = await asyncio.to_thread(_write, store, tables, fresh, model, now, progress)
    summary.missing_rates = sorted(converter.missing)
    summary.seconds = time.monotonic() - started
    summary.phases = {"read": read - started, "model": modelled - read, "write": time.monotonic() - modelled}
    return summary


TABLES = {
    "customers": t.customers, "customer_segments": t.customer_segments, "deals": t.deals,
    "deal_stages": t.deal_stages, "tickets": t.tickets, "party_days": t.party_days, "campaigns": t.campaigns,
    "leads": t.leads, "campaign_members": t.campaign_members, "customer_value": t.customer_value,
}  # fmt: skip


def _write(
    store: AnalyticStore, tables: dict[str, list[Row]], fresh: list[Row], model: ValueModel, now: datetime,
    progress: Progress | None,
) -> int:  # fmt: skip
    """Every table replaced in one transaction; each table's rows are let go once the database has them."""
    with store.writing() as conn:
        for done, (name, table) in enumerate(TABLES.items(), start=1):
            replace_all(conn, table, tables.pop(name))
            if progress is not None:
                progress("write", done, len(TABLES) + 1)
        replace_all(conn, t.freshness, fresh)
        model.save(conn, now)
    if progress is not None:
        progress("write", len(TABLES) + 1, len(TABLES) + 1)
    return store.version()
