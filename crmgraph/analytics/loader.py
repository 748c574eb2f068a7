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
from crmgraph.analytics.convert import Converter
from crmgraph.analytics.golden import customer_rows
from crmgraph.analytics.reading import (
    AGGREGATED,
    Progress,
    aggregating,
    daily_totals,
    read_all,
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
    lead_customer,
    lead_row,
    party_day_row,
    record_key,
    ticket_row,
)
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
    PartyDayTotal,
    PartyRecord,
    Record,
    SegmentRecord,
    TicketRecord,
)

TOTALS_PARTIES = 500  # parties per aggregate_daily call (the sql adapter's statement takes as many)


@dataclass
class Snapshot:
    """Everything a rebuild read from the systems."""

    parties: dict[SourceRecord, PartyRecord] = field(default_factory=dict)
    deals: list[DealRecord] = field(default_factory=list)
    tickets: list[TicketRecord] = field(default_factory=list)
    totals: list[tuple[str, PartyDayTotal]] = field(default_factory=list)  # (order | invoice, total)
    campaigns: list[CampaignRecord] = field(default_factory=list)
    leads: list[LeadRecord] = field(default_factory=list)
    campaign_members: dict[str, list[str]] = field(default_factory=dict)  # campaign key -> lead keys
    segments: dict[str, str] = field(default_factory=dict)  # segment key -> name
    segment_members: dict[str, list[str]] = field(default_factory=dict)  # segment key -> lead keys
    read: Counter[str] = field(default_factory=Counter)  # "source.entity" -> records read


@dataclass
class RebuildSummary:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows written
    read: dict[str, int] = field(default_factory=dict)  # "source.entity" -> records read
    missing_rates: list[str] = field(default_factory=list)  # currencies without an exchange rate
    value_model: str = ""  # how the customer value model was fitted, or why it was not
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # read (systems and identity), model, write: seconds
    version: int = 0  # the store's version after the rebuild


async def read_snapshot(adapters: Mapping[str, Adapter], progress: Progress | None = None) -> Snapshot:
    """Every record the reports need, read from every source at once."""
    snapshot = Snapshot()
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
        for entity in AGGREGATED:
            if entity in adapter.aggregatable:
                await _totals(snapshot, name, adapter, entity, ids, progress)


async def _deals(snapshot: Snapshot, name: str, adapter: Adapter, progress: Progress | None) -> None:
    found = await read_all(name, adapter, "deal", progress)
    snapshot.deals.extend(r for r in found if isinstance(r, DealRecord))
    snapshot.read[f"{name}.deal"] += len(found)


async def _tickets(snapshot: Snapshot, name: str, adapter: Adapter, progress: Progress | None) -> None:
    found = await read_all(name, adapter, "ticket", progress)
    snapshot.tickets.extend(r for r in found if isinstance(r, TicketRecord))
    snapshot.read[f"{name}.ticket"] += len(found)


async def _totals(
    snapshot: Snapshot, name: str, adapter: Adapter, entity: str, parties: Sequence[str] | None,
    progress: Progress | None,
) -> None:  # fmt: skip
    """The source's daily totals of ``entity``: of every party at once, or ``TOTALS_PARTIES`` parties a call
    (each call short, well inside the source's timeout however large the estate, and several in flight)."""
    if parties is None:
        found = await daily_totals(name, adapter, entity, progress=progress)
    else:
        chunks = [parties[i : i + TOTALS_PARTIES] for i in range(0, len(parties), TOTALS_PARTIES)]
        found = []
        for answer in await asyncio.gather(*(daily_totals(name, adapter, entity, chunk) for chunk in chunks)):
            found.extend(answer)
        if progress is not None:
            progress(f"aggregate {name} {entity}", len(found), len(found))
    snapshot.totals.extend((entity, total) for total in found)
    snapshot.read[f"{name}.{entity}"] += len(found)


async def _marketing(snapshot: Snapshot, name: str, adapter: Adapter, progress: Progress | None) -> None:
    """Campaigns, the leads (the source's persons) and who is a member of which campaign and segment."""
    campaigns = await read_all(name, adapter, "campaign", progress)
    people = await read_all(name, adapter, "person", progress)
    snapshot.campaigns.extend(r for r in campaigns if isinstance(r, CampaignRecord))
    snapshot.leads.extend(r for r in people if isinstance(r, LeadRecord))
    snapshot.read[f"{name}.campaign"] += len(campaigns)
    snapshot.read[f"{name}.person"] += len(people)
    if adapter.serves("person", "campaign"):
        ids = [campaign.source_id for campaign in campaigns]
        members = related_lists(name, ids, await adapter.fetch_related("person", "campaign", ids))
        for campaign_id, leads in members.items():
            snapshot.campaign_members[record_key(name, campaign_id)] = _keys(name, leads)
    await _segments(snapshot, name, adapter, [lead.source_id for lead in snapshot.leads if lead.source == name])


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
    snapshot: Snapshot, customer_ids: Sequence[int], filing: Filing, config: Config, converter: Converter,
    sources: Sequence[str],
) -> dict[str, list[Row]]:  # fmt: skip
    """Every table's rows (but the value model's) from what was read."""
    reports = config.reports
    deals: list[Row] = []
    stages: list[Row] = []
    for deal in snapshot.deals:
        row, entered = deal_rows(deal, filing, converter)
        deals.append(row)
        stages.extend(entered)
    leads_by_key = {record_key(lead.source, lead.source_id): lead for lead in snapshot.leads}
    segment_rows: dict[tuple[str, str], Row] = {}
    for segment, members in snapshot.segment_members.items():
        for lead_key in members:
            lead = leads_by_key.get(lead_key)
            customer = lead_customer(lead, filing) if lead is not None else None
            if customer is not None:  # a customer is in a segment when one of its leads is
                segment_rows[(customer, segment)] = {
                    "customer_id": customer, "segment_key": segment, "segment_name": snapshot.segments.get(segment),
                }  # fmt: skip
    return {
        "customers": customer_rows(
            customer_ids, snapshot.parties, filing.parties, sources, config.identity.survivorship
        ),
        "deals": deals,
        "deal_stages": stages,
        "tickets": [ticket_row(ticket, filing, reports) for ticket in snapshot.tickets],
        "party_days": [party_day_row(entity, total, filing, converter) for entity, total in snapshot.totals],
        "campaigns": [campaign_row(campaign, converter) for campaign in snapshot.campaigns],
        "leads": [lead_row(lead, filing) for lead in snapshot.leads],
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
) -> RebuildSummary:
    """Re-create every table from the systems; the old store stays until the new one is complete."""
    started = time.monotonic()
    now = datetime.now(UTC)
    snapshot = await read_snapshot(adapters, progress)
    customer_ids, filing = await asyncio.to_thread(read_filing, identity)
    read = time.monotonic()
    converter = Converter(config.reports)
    tables = build_tables(snapshot, customer_ids, filing, config, converter, list(adapters))
    counts = dict(sorted(snapshot.read.items()))
    del snapshot, filing  # the records are rows now: what a large estate's rebuild must not hold twice
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
