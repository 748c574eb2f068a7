"""Every run of a rule, kept in the facade's own store: the claim that makes a rule act once per event,
and the record of what it did, read back by ``automationRuns`` and ``crmgraph rules runs``.

A run is keyed by (rule, event key) under a unique constraint: the first instance (or delivery) to insert
the row runs it, a redelivery of the same event finds the row and does nothing. The event key is the
event's id, except for a creation, keyed by the record created: a record is created once, however many
events announce it (the write's own, then the change feed's).

A run starts ``PENDING`` with the event it acts on; it ends ``SUCCEEDED``, ``FAILED`` (an action failed: the
later ones were not taken), ``SKIPPED`` (the condition did not hold) or ``LOOP_STOPPED``. A run left
``PENDING`` by a stopped facade is taken over at start, its actions sent again under the same idempotency
keys (what was done is answered as done, not done twice).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from crmgraph.events.change import ChangeEvent, ChangeKind
from crmgraph.store_engine import store_engine


class RunStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    LOOP_STOPPED = "LOOP_STOPPED"


metadata = MetaData()
runs = Table(
    "crmgraph_rule_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(64), nullable=False),
    Column("event_key", String(255), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("system", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("record_id", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("customer_id", BigInteger, nullable=True),
    Column("event", Text, nullable=False),  # the event's wire form: a run taken over acts on it again
    Column("status", String(16), nullable=False),
    Column("depth", Integer, nullable=False),
    Column("actions", Text, nullable=False),  # JSON: what each action sent and got
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("rule", "event_key", name="crmgraph_rule_runs_once"),
)


def event_key(event: ChangeEvent) -> str:
    """What makes two deliveries "the same event" for a rule."""
    if event.kind is ChangeKind.CREATED:
        key = f"created:{event.system}:{event.entity.value}:{event.record_id}"
    else:
        key = f"event:{event.id}"
    return key if len(key) <= 255 else f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"


@dataclass(frozen=True)
class Run:
    id: int
    rule: str
    event: ChangeEvent
    status: RunStatus
    depth: int
    actions: list[dict[str, Any]]
    error: str | None
    attempts: int
    started_at: datetime
    finished_at: datetime | None
    event_key: str


def _aware(moment: datetime | None) -> datetime | None:
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def _run(row: Any) -> Run:
    started = _aware(row.started_at)
    assert started is not None
    return Run(id=row.id, rule=row.rule, event=ChangeEvent.from_wire(orjson.loads(row.event)),
               status=RunStatus(row.status), depth=row.depth, actions=orjson.loads(row.actions), error=row.error,
               attempts=row.attempts, started_at=started, finished_at=_aware(row.finished_at),
               event_key=row.event_key)  # fmt: skip


class RunStore:
    def __init__(self, url: str) -> None:
        self.engine = store_engine(url)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    async def claim(self, rule: str, event: ChangeEvent) -> int | None:
        """The new run's id; None when the rule already has a run for this event (a redelivery)."""
        return await asyncio.to_thread(self._claim, rule, event)

    def _claim(self, rule: str, event: ChangeEvent) -> int | None:
        now = datetime.now(UTC)
        row = {"rule": rule, "event_key": event_key(event), "event_id": event.id[:255], "system": event.system,
               "entity": event.entity.value, "record_id": event.record_id[:255], "kind": event.kind.value,
               "customer_id": event.customer_ids[0] if event.customer_ids else None,
               "event": event.to_json().decode(), "status": RunStatus.PENDING.value, "depth": len(event.chain),
               "actions": "[]", "error": None, "attempts": 0, "started_at": now, "updated_at": now,
               "finished_at": None}  # fmt: skip
        try:
            with self.engine.begin() as conn:
                inserted = conn.execute(runs.insert(), row).inserted_primary_key
        except IntegrityError:
            return None
        return int(inserted[0]) if inserted else None

    async def record(self, run_id: int, status: RunStatus, actions: Sequence[dict[str, Any]], attempts: int,
                     error: str | None = None) -> None:  # fmt: skip
        """What the run did so far (``PENDING``) or in the end."""
        await asyncio.to_thread(self._record, run_id, status, actions, attempts, error)

    def _record(self, run_id: int, status: RunStatus, actions: Sequence[dict[str, Any]], attempts: int,
                error: str | None) -> None:  # fmt: skip
        now = datetime.now(UTC)
        values: dict[str, Any] = {"status": status.value, "actions": orjson.dumps(list(actions)).decode(),
                                  "attempts": attempts, "error": error[:2000] if error else None, "updated_at": now,
                                  "finished_at": None if status is RunStatus.PENDING else now}  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(**values))

    async def take_over(self, stale_after: timedelta) -> list[Run]:
        """Runs left ``PENDING`` for longer than ``stale_after`` (their instance stopped), now this one's."""
        return await asyncio.to_thread(self._take_over, stale_after)

    def _take_over(self, stale_after: timedelta) -> list[Run]:
        now = datetime.now(UTC)
        taken: list[Run] = []
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(runs).where(runs.c.status == RunStatus.PENDING.value, runs.c.updated_at < now - stale_after)
            ).all()
        for row in rows:
            with self.engine.begin() as conn:
                moved = conn.execute(
                    update(runs).where(runs.c.id == row.id, runs.c.updated_at == row.updated_at).values(updated_at=now)
                )
            if moved.rowcount == 1:  # another instance did not take it first
                taken.append(_run(row))
        return taken

    def runs(self, *, rule: str | None = None, status: RunStatus | None = None, limit: int = 100,
             before_id: int | None = None) -> list[Run]:  # fmt: skip
        """Newest first."""
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if rule is not None:
            query = query.where(runs.c.rule == rule)
        if status is not None:
            query = query.where(runs.c.status == status.value)
        if before_id is not None:
            query = query.where(runs.c.id < before_id)
        with self.engine.connect() as conn:
            return [_run(row) for row in conn.execute(query)]

    def count(self, *, rule: str | None = None, status: RunStatus | None = None) -> int:
        query = select(func.count()).select_from(runs)
        if rule is not None:
            query = query.where(runs.c.rule == rule)
        if status is not None:
            query = query.where(runs.c.status == status.value)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
