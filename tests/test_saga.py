"""The saga runner against a real store (SQLite and PostgreSQL): steps recorded as they finish, a failed
step compensated in reverse, a saga interrupted mid-way resumed by another runner without running a done
step again, a compensation that fails left for a person with its reason, a retried start answered once.

The steps write to a ledger table standing for the systems of record, so what was done and undone is read
back from a database, not from the runner's word."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from crmgraph.writes.saga import SagaKind, SagaRun, SagaRunner, SagaStore, Step, sagas

ledger_meta = MetaData()
ledger = Table("test_saga_ledger", ledger_meta, Column("n", Integer, primary_key=True, autoincrement=True),
               Column("saga", String(200)), Column("entry", String(64)))  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    found = (
        f"sqlite:///{tmp_path / 'store.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = create_engine(found)
    ledger_meta.create_all(engine)
    yield found
    with engine.begin() as conn:
        conn.execute(ledger.delete())
    store = SagaStore(found)
    with store.engine.begin() as conn:
        conn.execute(sagas.delete())
    store.close()
    engine.dispose()


class Systems:
    """What the steps did, as rows; ``fail`` names steps that fail, ``block`` one that never ends."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.fail: set[str] = set()
        self.block: str | None = None
        self.blocked = asyncio.Event()
        self.stores: list[SagaStore] = []

    def store(self) -> SagaStore:
        """A store of its own, as each facade instance (or restarted facade) has."""
        self.stores.append(SagaStore(self.url))
        return self.stores[-1]

    def runner(self) -> SagaRunner:
        return SagaRunner(self.store(), self.kind())

    def close(self) -> None:
        for store in self.stores:
            store.close()
        self.engine.dispose()

    def write(self, saga: str, entry: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(ledger).values(saga=saga, entry=entry))

    def entries(self, saga: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.scalars(select(ledger.c.entry).where(ledger.c.saga == saga).order_by(ledger.c.n)))

    def step(self, name: str) -> Step:
        async def run(saga: SagaRun) -> dict[str, Any]:
            if name == self.block:
                self.blocked.set()
                await asyncio.Event().wait()  # in flight when the facade dies
            if name in self.fail:
                raise RuntimeError(f"{name}: the system refused")
            self.write(saga.id, f"do {name}")
            return {"made": f"{name}-1"}

        async def compensate(saga: SagaRun, result: dict[str, Any]) -> None:
            if f"undo {name}" in self.fail:
                raise RuntimeError(f"undo {name}: the system is down")
            self.write(saga.id, f"undo {name} ({result['made']})")

        return Step(name, run, compensate)

    def kind(self) -> dict[str, SagaKind]:
        return {"convert": SagaKind("convert", tuple(self.step(n) for n in ("order", "deal", "company")))}


@pytest.fixture
def systems(url: str) -> Iterator[Systems]:
    found = Systems(url)
    yield found
    found.close()


def test_a_saga_runs_every_step_and_keeps_their_results(systems: Systems) -> None:
    run = asyncio.run(systems.runner().start("convert", "s1", "ana", {"deal": "7"}))
    assert run.state == "done" and [s["state"] for s in run.steps] == ["done"] * 3
    assert run.result("deal") == {"made": "deal-1"}
    assert systems.entries("s1") == ["do order", "do deal", "do company"]
    again = asyncio.run(systems.runner().start("convert", "s1", "ana", {"deal": "7"}))
    assert again.state == "done" and systems.entries("s1") == ["do order", "do deal", "do company"], "run once"


def test_a_failed_step_has_the_steps_done_before_it_undone_last_first(systems: Systems) -> None:
    systems.fail = {"company"}
    run = asyncio.run(systems.runner().start("convert", "s2", "ana", {}))
    assert run.state == "compensated"
    assert [s["state"] for s in run.steps] == ["compensated", "compensated", "failed"]
    assert run.steps[2]["error"] == "company: the system refused"
    assert systems.entries("s2") == ["do order", "do deal", "undo deal (deal-1)", "undo order (order-1)"]
    stored = systems.store().load("s2")
    assert stored is not None and stored.state == "compensated", "the store says so too"


def test_a_saga_interrupted_mid_way_is_resumed_without_doing_a_step_twice(systems: Systems) -> None:
    systems.block = "deal"

    async def crash() -> None:
        task = asyncio.create_task(systems.runner().start("convert", "s3", "ana", {}))
        await systems.blocked.wait()
        task.cancel()  # the facade dies with the deal step in flight
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(crash())
    left = systems.store().load("s3")
    assert left is not None and left.state == "running" and [s["state"] for s in left.steps][:1] == ["done"]
    systems.block = None
    [resumed] = asyncio.run(systems.runner().resume())
    assert resumed.id == "s3" and resumed.state == "done"
    assert systems.entries("s3") == ["do order", "do deal", "do company"], "the order step was not run again"


def test_a_compensation_that_fails_leaves_the_saga_failed_with_its_reason(systems: Systems) -> None:
    systems.fail = {"company", "undo order"}
    run = asyncio.run(systems.runner().start("convert", "s4", "ana", {}))
    assert run.state == "failed"
    assert run.steps[0]["state"] == "done" and "compensation failed: undo order" in run.steps[0]["error"]
    assert systems.entries("s4") == ["do order", "do deal", "undo deal (deal-1)"]
    assert [r.id for r in systems.store().active()] == [], "a failed saga waits for a person, not for a resume"
