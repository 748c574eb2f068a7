"""The log of webhook and feed deliveries heard: each id is new once, a delivery is recorded in one commit,
and two instances racing on the same id hear it once between them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, event

from crmgraph.events.deliveries import DeliveryLog
from crmgraph.events.deliveries import deliveries as table


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def test_each_id_is_new_once_and_a_delivery_is_one_commit(log_url: str) -> None:
    log = DeliveryLog(log_url)
    with log.engine.begin() as conn:
        conn.execute(delete(table).where(table.c.source == "deliveries-test"))
    commits: list[object] = []
    try:
        asyncio.run(log.first_time("deliveries-test", ["warm-up"]))  # the first call also prunes old rows
        event.listen(log.engine, "commit", lambda conn: commits.append(conn))
        first = asyncio.run(log.first_time("deliveries-test", [f"d{n}" for n in range(10)]))
        assert first == {f"d{n}" for n in range(10)}
        assert len(commits) == 2, "one read, one write for the whole delivery"
        again = asyncio.run(log.first_time("deliveries-test", ["d3", "d10", "d10"]))
        assert again == {"d10"}
    finally:
        log.close()


def test_an_id_another_instance_records_meanwhile_is_not_new_here(log_url: str) -> None:
    """`two` records r2 after `one` read which ids it knows and before `one` writes: `one`'s whole-delivery
    insert fails, and its one-row-a-transaction fallback records (and hears) r1 and r3 only."""
    one, two = DeliveryLog(log_url), DeliveryLog(log_url)
    with one.engine.begin() as conn:
        conn.execute(delete(table).where(table.c.source == "deliveries-race"))
    try:
        asyncio.run(two.first_time("deliveries-race", ["r2"]))
        assert one._record("deliveries-race", ["r1", "r2", "r3"], datetime.now(UTC)) == {"r1", "r3"}
        assert asyncio.run(one.first_time("deliveries-race", ["r1", "r2", "r3", "r4"])) == {"r4"}
    finally:
        one.close()
        two.close()
