"""The automation rules' runs in the store (SQLite, PostgreSQL, MariaDB): one run per rule and event however
often it is delivered and by however many instances, a creation announced twice is one event, a run left
pending by a stopped instance is taken over once, and runs read back newest first."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from crmgraph.events import ChangeEvent, ChangeKind, Entity
from crmgraph.workflows.rules.runs import RunStatus, RunStore, runs


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    found = (
        f"sqlite:///{tmp_path / 'store.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue(f"{request.param}_url")
    )
    store = RunStore(found)
    with store.engine.begin() as conn:
        conn.execute(runs.delete())
    store.close()
    yield found


def _order(record: str, kind: ChangeKind = ChangeKind.CREATED) -> ChangeEvent:
    return ChangeEvent("erp", Entity.ORDER, record, kind, parents=(("party", "0000100017"),), customer_ids=(7,))


def test_a_rule_runs_once_per_event_whoever_hears_it_and_however_often(url: str) -> None:
    first, second = RunStore(url), RunStore(url)  # two instances, one store
    event = _order("0001000001", ChangeKind.UPDATED)

    async def scenario() -> None:
        claimed = await first.claim("r", event)
        assert claimed is not None
        assert await second.claim("r", event) is None and await first.claim("r", event) is None
        assert await second.claim("other-rule", event) is not None, "each rule hears the event"
        assert await first.claim("r", _order("0001000001", ChangeKind.UPDATED)) is not None, "another change"
        await first.record(claimed, RunStatus.SUCCEEDED, [{"mutation": "customerUpdate", "status": "OK"}], 1)

    asyncio.run(scenario())
    newest_first = first.runs(rule="r")
    assert [run.status for run in newest_first] == [RunStatus.PENDING, RunStatus.SUCCEEDED]
    assert newest_first[1].event == event and newest_first[1].actions == [
        {"mutation": "customerUpdate", "status": "OK"}
    ]
    assert first.count(rule="r") == 2 and first.count(status=RunStatus.SUCCEEDED) == 1
    assert [run.id for run in first.runs(rule="r", before_id=newest_first[0].id)] == [newest_first[1].id]
    first.close()
    second.close()


def test_a_creation_announced_twice_is_one_event(url: str) -> None:
    store = RunStore(url)
    written, fed = _order("0001000002"), _order("0001000002")  # the write's own event, then the feed's
    assert written.id != fed.id
    assert asyncio.run(store.claim("r", written)) is not None
    assert asyncio.run(store.claim("r", fed)) is None
    store.close()


def test_a_run_left_pending_is_taken_over_once(url: str) -> None:
    first, second = RunStore(url), RunStore(url)
    claimed = asyncio.run(first.claim("r", _order("0001000003")))
    with first.engine.begin() as conn:  # its instance stopped two minutes ago
        conn.execute(update(runs).values(updated_at=datetime.now(UTC) - timedelta(minutes=2)))
    assert asyncio.run(first.take_over(timedelta(minutes=5))) == []
    taken = asyncio.run(first.take_over(timedelta(minutes=1)))
    assert [run.id for run in taken] == [claimed] and taken[0].event.record_id == "0001000003"
    assert asyncio.run(second.take_over(timedelta(minutes=1))) == [], "now recent again: not taken twice"
    first.close()
    second.close()
