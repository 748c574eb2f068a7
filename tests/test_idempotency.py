"""Idempotency records in the store (SQLite and PostgreSQL): one claim per (subject, key), the first
result for a retry, a refusal for another input under the same key, and the states after an unknown
outcome or a crashed request. Two stores on one database stand for two facade instances."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from crmgraph.writes.idempotency import Claimed, IdempotencyStore, fingerprint, idempotency


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    found = (
        f"sqlite:///{tmp_path / 'store.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    yield found
    store = IdempotencyStore(found)
    with store.engine.begin() as conn:
        conn.execute(idempotency.delete())
    store.close()


def test_a_key_is_claimed_once_and_a_retry_gets_the_first_result(url: str) -> None:
    first, second = IdempotencyStore(url), IdempotencyStore(url)  # two instances, one store
    asked = fingerprint("ticketCreate", {"subject": "Printer on fire"})

    async def scenario() -> None:
        assert (await first.claim("ana", "k1", "ticketCreate", asked)).outcome is Claimed.NEW
        assert (await second.claim("ana", "k1", "ticketCreate", asked)).outcome is Claimed.IN_PROGRESS
        await first.complete("ana", "k1", {"entity": "ticket", "id": "901"})
        replay = await second.claim("ana", "k1", "ticketCreate", asked)
        assert replay.outcome is Claimed.REPLAY and replay.result == {"entity": "ticket", "id": "901"}
        other = fingerprint("ticketCreate", {"subject": "Printer fixed"})
        assert (await second.claim("ana", "k1", "ticketCreate", other)).outcome is Claimed.KEY_REUSED
        assert (await second.claim("ben", "k1", "ticketCreate", other)).outcome is Claimed.NEW, "keys are per subject"

    asyncio.run(scenario())
    first.close()
    second.close()


def test_concurrent_claims_of_one_key_let_exactly_one_through(url: str) -> None:
    stores = [IdempotencyStore(url) for _ in range(4)]
    asked = fingerprint("ticketCreate", {"subject": "x"})

    async def scenario() -> list[Claimed]:
        claims = await asyncio.gather(*(s.claim("ana", "race", "ticketCreate", asked) for s in stores * 3))
        return [claim.outcome for claim in claims]

    outcomes = asyncio.run(scenario())
    assert outcomes.count(Claimed.NEW) == 1 and set(outcomes) <= {Claimed.NEW, Claimed.IN_PROGRESS}
    for store in stores:
        store.close()


def test_an_unknown_outcome_or_a_dead_claim_is_handed_to_the_next_attempt_to_reconcile(url: str) -> None:
    store = IdempotencyStore(url, stale_after_s=60)
    asked = fingerprint("ticketUpdate", {"status": "SOLVED"})

    async def scenario() -> None:
        assert (await store.claim("ana", "u1", "ticketUpdate", asked)).outcome is Claimed.NEW
        await store.mark_unknown("ana", "u1")
        assert (await store.claim("ana", "u1", "ticketUpdate", asked)).outcome is Claimed.UNKNOWN
        # That attempt claimed it again (pending): a third one waits for it.
        assert (await store.claim("ana", "u1", "ticketUpdate", asked)).outcome is Claimed.IN_PROGRESS
        # A claim older than stale_after_s belongs to a request that died.
        with store.engine.begin() as conn:
            conn.execute(update(idempotency).values(updated_at=datetime.now(UTC) - timedelta(seconds=61)))
        assert (await store.claim("ana", "u1", "ticketUpdate", asked)).outcome is Claimed.UNKNOWN
        await store.release("ana", "u1")
        assert (await store.claim("ana", "u1", "ticketUpdate", asked)).outcome is Claimed.NEW

    asyncio.run(scenario())
    store.close()


def test_the_fingerprint_ignores_key_order_and_tells_inputs_apart() -> None:
    assert fingerprint("op", {"a": 1, "b": "x"}) == fingerprint("op", {"b": "x", "a": 1})
    assert fingerprint("op", {"a": 1}) != fingerprint("op", {"a": 2}) != fingerprint("other", {"a": 2})
