"""Keeping the analytic store current from the change events, without a full reload.

The updater subscribes to the instance's :class:`~crmgraph.events.hub.EventHub`, gathers events for
``reports.apply_every_s``, and applies each batch in one transaction of the store:

- deals and tickets: the named records are fetched again by id (one batch per source) and their rows
  replaced; a record the system no longer has is deleted;
- orders and invoices: the parties they belong to are totalled again by the source itself
  (``aggregate_daily(entity, parties=[...])``) and those parties' ``party_days`` rows replaced;
- parties: the golden customers they belong to get their report fields again (every record of theirs,
  survivorship applied), and the rows of those parties are filed under the customer the identity store
  now names (a steward's link or unlink shows with the party's next change, or the next rebuild);
- leads (persons of a source that has campaigns): fetched again and their rows replaced;
- the customers whose orders or invoices changed are scored again with the fitted value model.

A store no rebuild has filled is left alone: the updater subscribes once a rebuild (here or in another
process sharing the store) has filled it, and that rebuild read what changed before. Each part's
``freshness.changed_at`` is set to when its change was applied, and the store's version rises
(report caches key on it). A batch that fails (a source down) is logged and dropped; the next change of the
same records, or a rebuild, repairs it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, tuple_, update

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.analytics import tables as t
from crmgraph.analytics.categories import ticket_categories
from crmgraph.analytics.convert import Converter
from crmgraph.analytics.golden import customer_rows
from crmgraph.analytics.reading import aggregating, daily_totals
from crmgraph.analytics.rows import (
    Filing,
    Row,
    SourceRecord,
    deal_rows,
    lead_row,
    party_day_row,
    record_key,
    ticket_row,
)
from crmgraph.analytics.store import AnalyticStore
from crmgraph.analytics.value_model import ValueModel, rescore
from crmgraph.analytics.writer import delete_keys, delete_tuples, insert_rows, upsert_rows
from crmgraph.config import Config
from crmgraph.errors import SourceError
from crmgraph.events.change import ChangeEvent, ChangeKind, Entity
from crmgraph.events.fanout import Delivery, SlowSubscriber, Subscriber
from crmgraph.events.hub import EventHub
from crmgraph.identity.store import IdentityStore
from crmgraph.identity.tables import links, person_links, persons
from crmgraph.records import DealRecord, LeadRecord, PartyRecord, TicketRecord
from crmgraph.workflows.triage.verdict import TicketClassifier

log = logging.getLogger(__name__)

LOADED_POLL_S = 5.0  # how often an updater whose store was never rebuilt looks whether it has been
APPLIED = frozenset({Entity.DEAL, Entity.TICKET, Entity.ORDER, Entity.INVOICE, Entity.PARTY, Entity.PERSON})


@dataclass
class Changes:
    """What one batch of events names, by source: ids to fetch again, parties to total again."""

    ids: defaultdict[tuple[str, Entity], set[str]] = field(default_factory=lambda: defaultdict(set))
    deleted: defaultdict[tuple[str, Entity], set[str]] = field(default_factory=lambda: defaultdict(set))
    parties: defaultdict[tuple[str, Entity], set[str]] = field(default_factory=lambda: defaultdict(set))
    needs_party: defaultdict[tuple[str, Entity], set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def of(cls, events: Sequence[ChangeEvent]) -> Changes:
        found = cls()
        for event in events:
            key = (event.system, event.entity)
            if event.entity in (Entity.ORDER, Entity.INVOICE):
                party = event.parent("party")
                (found.parties[key].add(party) if party else found.needs_party[key].add(event.record_id))
            elif event.kind is ChangeKind.DELETED:
                found.deleted[key].add(event.record_id)
            else:
                found.ids[key].add(event.record_id)
        return found


@dataclass
class Applied:
    rows: int = 0
    parts: set[str] = field(default_factory=set)  # freshness names changed ("crm.deal")
    rescored: set[str] = field(default_factory=set)  # customers whose value rows changed


class StoreUpdater:
    """Applies change events to the analytic store in batches (``reports.apply_every_s``)."""

    def __init__(
        self, config: Config, store: AnalyticStore, adapters: Mapping[str, Adapter], identity: IdentityStore,
        hub: EventHub, classifier: TicketClassifier | None = None,
    ) -> None:  # fmt: skip
        self.config = config
        self.classifier = classifier  # puts changed tickets in a category, as the rebuild does
        self.reports = config.reports
        self.store = store
        self.adapters = adapters
        self.identity = identity
        self.hub = hub
        self.converter = Converter(config.reports)
        self.applied = 0  # events applied since start (tests wait on it)
        self._subscriber: Subscriber | None = None
        self._task: asyncio.Task[None] | None = None
        self._model: ValueModel | None = None
        self._was_loaded = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="reports: apply changes")

    async def _run(self) -> None:
        # A store no rebuild has filled is left alone (the rebuild reads what changes meanwhile): the updater
        # subscribes once one has, here or in another process sharing the store.
        while True:
            if await asyncio.to_thread(self._loaded):
                break
            await asyncio.sleep(LOADED_POLL_S)
        self._subscribe()
        await self._consume()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._subscriber is not None:
            self.hub.unsubscribe(self._subscriber)

    def _subscribe(self) -> None:
        def accepts(delivery: Delivery) -> bool:
            return delivery.event.entity in APPLIED

        self._subscriber = self.hub.subscribe(accepts)

    async def _consume(self) -> None:
        while True:
            assert self._subscriber is not None
            try:
                batch = await self._gather(self._subscriber)
            except SlowSubscriber:
                log.error("reports: the store fell behind the change events and missed some; run a rebuild")
                self._subscribe()
                continue
            try:
                await self.apply(batch)
            except asyncio.CancelledError:
                raise
            except Exception:  # a source down or a bad record: the next change or a rebuild repairs it
                log.exception("reports: applying %d change events to the store failed", len(batch))
            self.applied += len(batch)

    @property
    def following(self) -> bool:
        """Whether the updater hears change events (once the store has been rebuilt)."""
        return self._subscriber is not None

    def _loaded(self) -> bool:
        """Whether a rebuild has filled the store (an empty one would hold a few rows of what changed)."""
        if not self._was_loaded:
            query = select(t.freshness.c.name).where(t.freshness.c.loaded_at.is_not(None)).limit(1)
            with self.store.engine.connect() as conn:
                self._was_loaded = conn.execute(query).first() is not None
        return self._was_loaded

    async def _gather(self, subscriber: Subscriber) -> list[ChangeEvent]:
        """The first event, and what else arrives within ``apply_every_s`` of it."""
        events = [(await subscriber.get()).event]
        deadline = asyncio.get_running_loop().time() + self.reports.apply_every_s
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                events.append((await asyncio.wait_for(subscriber.get(), left)).event)
            except TimeoutError:
                break
        return events

    # --- applying a batch ----------------------------------------------------------------------------

    async def apply(self, events: Sequence[ChangeEvent]) -> Applied:
        """Fetch what ``events`` name from their systems and replace their rows, in one transaction."""
        changes = Changes.of(events)
        await self._find_parties(changes)
        reads = await self._read(changes)
        now = datetime.now(UTC)
        return await asyncio.to_thread(self._write, changes, reads, now)

    async def _find_parties(self, changes: Changes) -> None:
        """An order or invoice event that does not name its party: the record, fetched, does."""
        for (source, entity), ids in changes.needs_party.items():
            adapter = self.adapters.get(source)
            if adapter is None or not adapter.serves(entity.value):
                continue
            for record in await adapter.fetch(entity.value, sorted(ids)):
                if isinstance(record, SourceError):
                    raise record
                party = getattr(record, "party_id", None)
                if party:
                    changes.parties[(source, entity)].add(party)

    async def _read(self, changes: Changes) -> dict[str, Any]:
        fetched: dict[tuple[str, Entity], list[Any]] = {}
        for (source, entity), ids in changes.ids.items():
            adapter = self.adapters.get(source)
            if adapter is None or not adapter.serves(entity.value):
                continue
            if entity is Entity.PERSON and "campaign" not in adapter.scannable:
                continue  # a CRM contact or a ticket requester: no report reads persons but leads
            ordered = sorted(ids)
            answers = await adapter.fetch(entity.value, ordered)
            for answer in answers:
                if isinstance(answer, SourceError):
                    raise answer
            fetched[(source, entity)] = list(zip(ordered, answers, strict=True))
        totals: dict[tuple[str, Entity], list[Any]] = {}
        for (source, entity), parties in changes.parties.items():
            adapter = aggregating(self.adapters, entity.value).get(source)
            if adapter is not None:
                totals[(source, entity)] = await daily_totals(source, adapter, entity.value, sorted(parties))
        golden = await self._golden_parties(fetched)
        filing = await asyncio.to_thread(self._filing, fetched, changes)
        categories = await self._categories(fetched)
        return {"fetched": fetched, "totals": totals, "golden": golden, "filing": filing, "categories": categories}

    async def _categories(self, fetched: Mapping[tuple[str, Entity], list[Any]]) -> dict[SourceRecord, str | None]:
        """The changed tickets' categories (the triage classifier's), by (source, ticket id)."""
        tickets = [
            record
            for (_source, entity), pairs in fetched.items()
            if entity is Entity.TICKET
            for _id, record in pairs
            if isinstance(record, TicketRecord)
        ]
        found = await ticket_categories(self.classifier, tickets)
        return {(ticket.source, ticket.source_id): category for ticket, category in zip(tickets, found, strict=True)}

    async def _golden_parties(self, fetched: Mapping[tuple[str, Entity], list[Any]]) -> dict[str, Any]:
        """For changed parties: their customers, and every party record of those customers."""
        changed = [
            (source, party_id)
            for (source, entity), pairs in fetched.items()
            if entity is Entity.PARTY
            for party_id, _record in pairs
        ]
        if not changed:
            return {}
        customers = sorted(set((await self.identity.customers_of("party", changed)).values()))
        of_customer = await self.identity.links_of(customers)
        wanted: defaultdict[str, list[str]] = defaultdict(list)
        customer_of: dict[SourceRecord, int] = {}
        for customer, found in of_customer.items():
            for link in found:
                if link.entity == "party" and link.source in self.adapters:
                    wanted[link.source].append(link.source_id)
                    customer_of[(link.source, link.source_id)] = customer
        parties: dict[SourceRecord, PartyRecord] = {}
        for source in self.adapters:  # configured order: survivorship's precedence
            ids = wanted.get(source, [])
            if ids:
                for party_id, record in zip(ids, await self.adapters[source].fetch("party", ids), strict=True):
                    if isinstance(record, PartyRecord):
                        parties[(source, party_id)] = record
        return {"customers": customers, "parties": parties, "customer_of": customer_of}

    def _filing(self, fetched: Mapping[tuple[str, Entity], list[Any]], changes: Changes) -> Filing:
        """The identity store's answer for exactly the records this batch touches."""
        parties: set[SourceRecord] = set()
        people: set[SourceRecord] = set()
        for (source, entity), pairs in fetched.items():
            for record_id, record in pairs:
                if entity is Entity.PARTY:
                    parties.add((source, record_id))
                party = getattr(record, "party_id", None)
                if party:
                    parties.add((source, party))
                if isinstance(record, TicketRecord) and record.requester_id:
                    people.add((source, record.requester_id))
                if isinstance(record, LeadRecord):
                    people.add((source, record.source_id))
        for (source, _entity), ids in changes.parties.items():
            parties.update((source, party) for party in ids)
        return Filing(self._party_customers(parties), self._person_customers(people))

    def _party_customers(self, records: set[SourceRecord]) -> dict[SourceRecord, int]:
        found: dict[SourceRecord, int] = {}
        wanted = sorted(records)
        with self.identity.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                query = select(links.c.source, links.c.source_id, links.c.customer_id).where(
                    links.c.entity == "party", tuple_(links.c.source, links.c.source_id).in_(chunk)
                )
                found.update({(row.source, row.source_id): row.customer_id for row in conn.execute(query)})
        return found

    def _person_customers(self, records: set[SourceRecord]) -> dict[SourceRecord, int | None]:
        found: dict[SourceRecord, int | None] = {}
        wanted = sorted(records)
        with self.identity.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                query = (
                    select(person_links.c.source, person_links.c.source_id, persons.c.customer_id)
                    .join(persons, persons.c.id == person_links.c.person_id)
                    .where(tuple_(person_links.c.source, person_links.c.source_id).in_(chunk))
                )
                found.update({(row.source, row.source_id): row.customer_id for row in conn.execute(query)})
        return found

    def _write(self, changes: Changes, reads: Mapping[str, Any], now: datetime) -> Applied:
        applied = Applied()
        filing: Filing = reads["filing"]
        with self.store.writing() as conn:
            for (source, entity), ids in changes.deleted.items():
                self._delete(conn, source, entity, ids, applied)
            for (source, entity), pairs in reads["fetched"].items():
                self._replace(conn, source, entity, pairs, filing, applied, reads["categories"])
            for (source, entity), totals in reads["totals"].items():
                parties = changes.parties[(source, entity)]
                delete_tuples(conn, t.party_days, ("source", "entity", "party_id"),
                              [(source, entity.value, party) for party in parties])  # fmt: skip
                rows = [party_day_row(entity.value, total, filing, self.converter) for total in totals]
                insert_rows(conn, t.party_days, rows)
                applied.rows += len(rows)
                applied.parts.add(f"{source}.{entity.value}")
                applied.rescored.update(filing.party(source, party) or "" for party in parties)
            self._golden(conn, reads["golden"], filing, applied)
            self._rescore(conn, applied, now)
            self._fresh(conn, applied.parts, now)
        return applied

    def _delete(self, conn: Connection, source: str, entity: Entity, ids: set[str], applied: Applied) -> None:
        keys = [record_key(source, record_id) for record_id in ids]
        if entity is Entity.DEAL:
            delete_keys(conn, t.deal_stages, "deal_key", keys)
            delete_keys(conn, t.deals, "deal_key", keys)
        elif entity is Entity.TICKET:
            delete_keys(conn, t.tickets, "ticket_key", keys)
        elif entity is Entity.PERSON:
            delete_keys(conn, t.campaign_members, "lead_key", keys)
            delete_keys(conn, t.leads, "lead_key", keys)
        else:
            return
        applied.parts.add(f"{source}.{entity.value}")

    def _replace(
        self, conn: Connection, source: str, entity: Entity, pairs: list[Any], filing: Filing, applied: Applied,
        categories: Mapping[SourceRecord, str | None],
    ) -> None:  # fmt: skip
        gone = [record_id for record_id, record in pairs if record is None]
        if gone:
            self._delete(conn, source, entity, set(gone), applied)
        records = [record for _id, record in pairs if record is not None]
        if entity is Entity.DEAL:
            deals, stages = [], []
            for deal in records:
                if isinstance(deal, DealRecord):
                    row, entered = deal_rows(deal, filing, self.converter)
                    deals.append(row)
                    stages.extend(entered)
            delete_keys(conn, t.deal_stages, "deal_key", [row["deal_key"] for row in deals])
            upsert_rows(conn, t.deals, "deal_key", deals)
            insert_rows(conn, t.deal_stages, stages)
            applied.rows += len(deals)
        elif entity is Entity.TICKET:
            tickets = [
                ticket_row(r, filing, self.reports, categories.get((r.source, r.source_id)))
                for r in records
                if isinstance(r, TicketRecord)
            ]
            upsert_rows(conn, t.tickets, "ticket_key", tickets)
            applied.rows += len(tickets)
        elif entity is Entity.PERSON:
            leads = [lead_row(r, filing) for r in records if isinstance(r, LeadRecord)]
            upsert_rows(conn, t.leads, "lead_key", leads)
            applied.rows += len(leads)
        elif entity is Entity.PARTY:
            self._refile(conn, source, [record_id for record_id, _ in pairs], filing, applied)
        applied.parts.add(f"{source}.{entity.value}")

    def _refile(self, conn: Connection, source: str, parties: list[str], filing: Filing, applied: Applied) -> None:
        """Rows of these parties filed under the customer the identity store names now."""
        for party in parties:
            customer = filing.party(source, party)
            for table in (t.deals, t.tickets, t.party_days):
                moved = conn.execute(
                    update(table)
                    .where(table.c.source == source, table.c.party_id == party)
                    .where(table.c.customer_id.is_distinct_from(customer))
                    .values(customer_id=customer)
                )
                if table is t.party_days and moved.rowcount:
                    applied.rescored.add(customer or "")

    def _golden(self, conn: Connection, golden: Mapping[str, Any], filing: Filing, applied: Applied) -> None:
        if not golden:
            return
        rows: list[Row] = customer_rows(
            golden["customers"], golden["parties"], golden["customer_of"], list(self.adapters),
            self.config.identity.survivorship,
        )  # fmt: skip
        upsert_rows(conn, t.customers, "customer_id", rows)
        applied.parts.add("identity.customer")

    def _rescore(self, conn: Connection, applied: Applied, now: datetime) -> None:
        customers = {customer for customer in applied.rescored if customer}
        if not customers:
            return
        if self._model is None:
            self._model = ValueModel.load(conn) or ValueModel("not fitted: the store was never rebuilt")
        rescore(conn, self._model, customers, self.reports.value, now)
        applied.parts.add("model.customer_value")

    @staticmethod
    def _fresh(conn: Connection, parts: set[str], now: datetime) -> None:
        for name in sorted(parts):
            changed = conn.execute(update(t.freshness).where(t.freshness.c.name == name).values(changed_at=now))
            if changed.rowcount == 0:
                conn.execute(t.freshness.insert().values(name=name, loaded_at=None, changed_at=now, rows=0))


def start_updater(
    config: Config, store: AnalyticStore | None, adapters: Mapping[str, Adapter], identity: IdentityStore,
    hub: EventHub, classifier: TicketClassifier | None = None,
) -> StoreUpdater | None:  # fmt: skip
    """The updater, started, when reports are enabled; None otherwise."""
    if store is None or not config.reports.enabled:
        return None
    updater = StoreUpdater(config, store, adapters, identity, hub, classifier)
    updater.start()
    return updater
