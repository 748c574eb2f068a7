"""The audit trail: buffered writes lose nothing, and an edited, deleted or forged row is detected."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from crmgraph.audit import AuditEvent, AuditStore, AuditWriter, verify
from crmgraph.audit.store import audit_customers, audit_events
from tests.conftest import Estate
from tests.facade import estate_config_file


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditStore]:
    url = (
        f"sqlite:///{tmp_path / 'audit.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    audit = AuditStore(url)
    yield audit
    with audit.engine.begin() as conn:
        conn.execute(audit_customers.delete())
        conn.execute(audit_events.delete())
    audit.close()


def _read(n: int, customer: int, at: datetime | None = None) -> AuditEvent:
    extra = {"at": at} if at else {}
    fields = ("Contact.email", "Contact.phone")
    return AuditEvent("read", "ana", ("marketing",), request_id=f"r{n}", operation="Customer360",
                      customers=(customer,), fields=fields, masked=True, **extra)  # fmt: skip


def test_events_queued_on_the_request_path_are_all_written_in_batches_and_by_close(store: AuditStore) -> None:
    async def scenario() -> AuditWriter:
        writer = AuditWriter(store, batch=40, interval_s=0.01)
        writer.start()
        for n in range(100):
            writer.record(_read(n, customer=n % 7))
        await asyncio.sleep(0.05)
        for n in range(100, 130):
            writer.record(_read(n, customer=3))
        await writer.close()  # a clean shutdown: what is still queued is written
        return writer

    writer = asyncio.run(scenario())
    assert writer.written == 130
    events = store.events(limit=1000)
    assert [e["request_id"] for e in events] == [f"r{n}" for n in range(130)]
    of_three = store.events(customer=3)
    assert len(of_three) == len([n for n in range(100) if n % 7 == 3]) + 30
    assert all(e["customers"] == [3] and e["fields"] == ["Contact.email", "Contact.phone"] for e in of_three)
    assert verify(store) == []


def test_an_edited_a_deleted_and_a_forged_row_are_each_found(store: AuditStore) -> None:
    head = store.append("A", [_read(n, customer=1) for n in range(6)], store.head("A"))
    store.append("B", [_read(n, customer=2) for n in range(3)], store.head("B"))
    assert head[0] == 6 and verify(store) == []
    with store.engine.begin() as conn:
        conn.execute(update(audit_events).where(audit_events.c.chain == "A", audit_events.c.n == 2)
                     .values(masked=False))  # fmt: skip
    assert [str(p) for p in verify(store)] == ["chain A, row 2: edited"]
    with store.engine.begin() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.chain == "B", audit_events.c.n == 2))
    assert "chain B, row 2: missing (next found: 3)" in [str(p) for p in verify(store)]
    with store.engine.begin() as conn:
        conn.execute(update(audit_events).where(audit_events.c.chain == "A", audit_events.c.n == 5)
                     .values(prev_hash="f" * 64))  # fmt: skip
    found = {str(p) for p in verify(store)}
    assert {"chain A, row 5: broken link", "chain A, row 5: edited"} <= found


def test_retention_prunes_the_oldest_events_and_the_trail_still_verifies(store: AuditStore) -> None:
    now = datetime.now(UTC)
    old = [_read(n, customer=1, at=now - timedelta(days=400 - n)) for n in range(5)]
    recent = [_read(n, customer=1, at=now - timedelta(days=1)) for n in range(5, 8)]
    store.append("A", old + recent, store.head("A"))
    assert store.prune(now - timedelta(days=365)) == 5
    assert [e["request_id"] for e in store.events(customer=1)] == ["r5", "r6", "r7"]
    assert verify(store) == []
    assert store.events(since=now - timedelta(hours=1)) == []


def test_the_audit_commands_list_a_customers_events_and_verify_finds_an_edited_row(
    estate: Estate, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    config = estate_config_file(estate, tmp_path / "crmgraph.yaml", store_url)
    store = AuditStore(store_url)
    store.append("A", [_read(n, customer=n % 2 + 10) for n in range(4)], store.head("A"))

    def crmgraph(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "crmgraph", "audit", *args, "-c", str(config)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, env=os.environ | {"COLUMNS": "250"})

    listed = crmgraph("--customer", "11", "--since", "2000-01-01")
    assert listed.returncode == 0, listed.stderr
    assert "2 event(s)" in listed.stderr and listed.stdout.count("Customer360") == 2 and "masked" in listed.stdout
    bad = crmgraph("--since", "yesterday")
    assert bad.returncode == 2 and "expected an ISO date" in bad.stderr
    assert crmgraph("verify").returncode == 0
    with store.engine.begin() as conn:
        conn.execute(update(audit_events).where(audit_events.c.n == 3).values(subject="someone else"))
    tampered = crmgraph("verify")
    assert tampered.returncode == 1 and "chain A, row 3: edited" in tampered.stderr
    store.close()
