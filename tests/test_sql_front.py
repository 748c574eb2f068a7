"""The SQL front: a database server behind it can be slowed down and taken down like the HTTP systems."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from crmgraph.adapters.sdk.calls import CallLog, current_call_log
from crmgraph.adapters.sql import SqlAdapter
from crmgraph.demo.seed import load_erp
from crmgraph.demo.sql_front import serving_front
from crmgraph.demo.stores.erp import KNA1

pytestmark = pytest.mark.services


@dataclass
class RunningFront:
    url: str  # the database URL through the front
    control: str  # base URL of its control API


@pytest.fixture(params=["postgres_url", "mariadb_url"])
def front(request: pytest.FixtureRequest) -> Iterator[RunningFront]:
    with serving_front(request.getfixturevalue(request.param)) as (url, control):
        yield RunningFront(url, control)


def _faults(front: RunningFront, **plan: object) -> None:
    httpx.post(f"{front.control}/_control/faults", json=plan, timeout=10).raise_for_status()


def test_statements_through_the_front_answer_as_directly(front: RunningFront) -> None:
    engine = create_engine(front.url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 41 + 1")).scalar() == 42
    engine.dispose()
    stats = httpx.get(f"{front.control}/_control/stats", timeout=10).json()
    assert stats["connections"] >= 1 and stats["messages"] >= 1


def test_latency_delays_every_statement(front: RunningFront) -> None:
    engine = create_engine(front.url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        _faults(front, latency_ms=150)
        started = time.monotonic()
        conn.execute(text("SELECT 1"))
        assert time.monotonic() - started >= 0.15
    engine.dispose()


def test_down_resets_open_and_new_connections_until_it_is_up_again(front: RunningFront) -> None:
    engine = create_engine(front.url, pool_pre_ping=False)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        _faults(front, down=True)
        with pytest.raises(OperationalError):
            conn.execute(text("SELECT 1"))
    with pytest.raises(OperationalError):
        create_engine(front.url).connect()
    assert httpx.get(f"{front.control}/_control/faults", timeout=10).json()["down"] is True
    _faults(front)
    fresh = create_engine(front.url)
    with fresh.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    fresh.dispose()
    engine.dispose()


def test_the_sql_adapter_reports_a_down_erp_per_key_as_unavailable(front: RunningFront) -> None:
    load_erp(front.url, customers=12, seed=3)
    engine = create_engine(front.url)
    with engine.connect() as conn:
        known = list(conn.execute(select(KNA1.c.KUNNR).order_by(KNA1.c.KUNNR)).scalars())
    engine.dispose()
    assert len(known) >= 3, "the estate must hold three debtors"

    async def scenario() -> list[object]:
        token = current_call_log.set(CallLog())
        adapter = SqlAdapter("erp", {"url": front.url})
        await adapter.open()
        try:
            assert (await adapter.fetch("party", known[:1]))[0] is not None
            _faults(front, down=True)
            return list(await adapter.fetch("party", known[1:3]))
        finally:
            await adapter.close()
            current_call_log.reset(token)

    results = asyncio.run(scenario())
    assert [getattr(r, "code", None) for r in results] == ["UPSTREAM_UNAVAILABLE"] * 2
    assert {getattr(r, "source", None) for r in results} == {"erp"}
