"""Sagas: a change that spans systems, made step by step, each step recorded, undone in reverse on failure.

No two systems of record share a transaction, so a change that writes to several (a won deal becoming an
ERP order and the CRM company a customer) is a saga: an ordered list of steps, each a write to one system
with a compensation that undoes it. The store keeps every saga and each step's state and result, written
before the runner moves on, so that

- a step that fails stops the saga, and the steps done are compensated, last first;
- a facade that crashes mid-saga resumes it at start (:meth:`SagaRunner.resume`): a step that was in flight
  is run again, which is safe because each step writes under an idempotency key made from the saga's id
  and the step's name (a retry answers the first write);
- a compensation that fails leaves the saga ``failed`` with the step named: a half-finished change is
  never left without a record of it, and the record says what a person has to look at.

States: ``running`` → ``done``; or ``running`` → ``compensating`` → ``compensated`` (or ``failed``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, select, update
from sqlalchemy.exc import IntegrityError

from crmgraph.store_engine import store_engine

log = logging.getLogger("crmgraph.sagas")
metadata = MetaData()
sagas = Table(
    "crmgraph_sagas",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("input", Text, nullable=False),  # JSON
    Column("steps", Text, nullable=False),  # JSON: [{name, state, result, error}]
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
ACTIVE = ("running", "compensating")


@dataclass
class SagaRun:
    """One saga as the store holds it."""

    id: str
    kind: str
    subject: str
    state: str
    input: dict[str, Any]
    steps: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime

    def result(self, step: str) -> dict[str, Any] | None:
        found = next((s for s in self.steps if s["name"] == step), None)
        return found.get("result") if found is not None else None


Run = Callable[["SagaRun"], Awaitable[dict[str, Any]]]
Compensate = Callable[["SagaRun", dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    name: str
    run: Run  # the write; what it returns is kept as the step's result (JSON)
    compensate: Compensate | None = None  # undoes it, given its result; None: nothing to undo


@dataclass(frozen=True)
class SagaKind:
    name: str
    steps: tuple[Step, ...]
    describe: str = ""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SagaStore:
    def __init__(self, url: str) -> None:
        self.engine = store_engine(url)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def create(self, run: SagaRun) -> bool:
        """Insert the saga; False when one with its id exists (a retried request: run that one)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(sagas.insert(), self._row(run))
            return True
        except IntegrityError:
            return False

    def save(self, run: SagaRun) -> None:
        run.updated_at = datetime.now(UTC)
        row = self._row(run)
        with self.engine.begin() as conn:
            conn.execute(update(sagas).where(sagas.c.id == run.id).values(
                state=row["state"], steps=row["steps"], updated_at=row["updated_at"]))  # fmt: skip

    def load(self, saga_id: str) -> SagaRun | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(sagas).where(sagas.c.id == saga_id)).first()
        return None if row is None else self._run(row)

    def active(self) -> list[SagaRun]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(sagas).where(sagas.c.state.in_(ACTIVE)).order_by(sagas.c.created_at)).all()
        return [self._run(row) for row in rows]

    @staticmethod
    def _row(run: SagaRun) -> dict[str, Any]:
        return {"id": run.id, "kind": run.kind, "subject": run.subject, "state": run.state,
                "input": orjson.dumps(run.input).decode(), "steps": orjson.dumps(run.steps).decode(),
                "created_at": run.created_at, "updated_at": run.updated_at}  # fmt: skip

    @staticmethod
    def _run(row: Any) -> SagaRun:
        return SagaRun(row.id, row.kind, row.subject, row.state, orjson.loads(row.input), orjson.loads(row.steps),
                       _aware(row.created_at), _aware(row.updated_at))  # fmt: skip


class SagaRunner:
    def __init__(self, store: SagaStore, kinds: Mapping[str, SagaKind]) -> None:
        self.store = store
        self.kinds = dict(kinds)
        self._locks: dict[str, asyncio.Lock] = {}

    async def start(self, kind: str, saga_id: str, subject: str, given: dict[str, Any]) -> SagaRun:
        """Start a saga (or, for an id started before, go on with that one) and run it to its end."""
        now = datetime.now(UTC)
        steps = [{"name": step.name, "state": "pending", "result": None, "error": None}
                 for step in self.kinds[kind].steps]  # fmt: skip
        run = SagaRun(saga_id, kind, subject, "running", given, steps, now, now)
        created = await asyncio.to_thread(self.store.create, run)
        if not created:
            found = await asyncio.to_thread(self.store.load, saga_id)
            assert found is not None
            if found.state not in ACTIVE:
                return found
        return await self.run(saga_id)

    async def load(self, saga_id: str) -> SagaRun | None:
        return await asyncio.to_thread(self.store.load, saga_id)

    async def resume(self) -> list[SagaRun]:
        """Go on with every saga a stopped facade left running or compensating."""
        finished = []
        for run in await asyncio.to_thread(self.store.active):
            if run.kind in self.kinds:
                log.info("resuming saga %s (%s, %s)", run.id, run.kind, run.state)
                finished.append(await self.run(run.id))
        return finished

    async def run(self, saga_id: str) -> SagaRun:
        lock = self._locks.setdefault(saga_id, asyncio.Lock())
        async with lock:  # one runner per saga in this instance
            run = await asyncio.to_thread(self.store.load, saga_id)
            assert run is not None
            if run.state == "running":
                await self._forward(run)
            if run.state == "compensating":
                await self._backward(run)
            return run

    async def _forward(self, run: SagaRun) -> None:
        for step, record in zip(self.kinds[run.kind].steps, run.steps, strict=True):
            if record["state"] == "done":
                continue
            try:
                record["result"] = await step.run(run)
                record["state"] = "done"
            except Exception as error:
                record["state"], record["error"] = "failed", _said(error)
                run.state = "compensating"
                log.warning("saga %s: step %s failed (%s); compensating", run.id, step.name, record["error"])
                await asyncio.to_thread(self.store.save, run)
                return
            await asyncio.to_thread(self.store.save, run)
        run.state = "done"
        await asyncio.to_thread(self.store.save, run)

    async def _backward(self, run: SagaRun) -> None:
        pairs = list(zip(self.kinds[run.kind].steps, run.steps, strict=True))
        for step, record in reversed(pairs):
            if record["state"] != "done":
                continue
            if step.compensate is not None:
                try:
                    await step.compensate(run, record["result"] or {})
                except Exception as error:
                    record["error"] = f"compensation failed: {_said(error)}"
                    run.state = "failed"
                    log.error("saga %s: compensating step %s failed: %s", run.id, step.name, record["error"])
                    await asyncio.to_thread(self.store.save, run)
                    return
            record["state"] = "compensated"
            await asyncio.to_thread(self.store.save, run)
        run.state = "compensated"
        await asyncio.to_thread(self.store.save, run)


def _said(error: Exception) -> str:
    text = str(error) or error.__class__.__name__
    return text[:500]
