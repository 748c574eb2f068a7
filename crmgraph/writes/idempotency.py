"""Idempotency records: a mutation retried with the same key is answered with its first result, and its
write is not made twice, whichever instance the retry reaches.

The records live in the facade's own store (the identity store's database), one row per (subject, key):
the principal's subject scopes a key, so two callers cannot collide or read each other's results. The
first request claims the key by inserting its row (the primary key makes the claim atomic across
instances); a request that finds the row

- with another request fingerprint gets ``KEY_REUSED`` (a different payload under the same key);
- done: gets the stored result (the written record's id and the user errors), and no write is made;
- pending: gets ``IN_PROGRESS`` (the first is still running; a claim older than ``stale_after_s`` is taken
  to be a crashed one and is handled like an unknown outcome);
- unknown (the write was sent and no answer said whether it was applied): the caller reconciles, by asking
  the system for a record carrying the key, before it writes again.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import orjson
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, delete, select, update
from sqlalchemy.exc import IntegrityError

from crmgraph.store_engine import store_engine

metadata = MetaData()
idempotency = Table(
    "crmgraph_idempotency",
    metadata,
    Column("subject", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("operation", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),  # sha256 of the operation and its input
    Column("state", String(16), nullable=False),  # pending | done | unknown
    Column("result", Text, nullable=True),  # JSON, once done
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
MAX_KEY_LENGTH = 200


class Claimed(Enum):
    NEW = "new"  # this request runs the write
    REPLAY = "replay"  # done before: answer its result
    KEY_REUSED = "key_reused"  # the key was used for another input
    IN_PROGRESS = "in_progress"  # another request with the key is running
    UNKNOWN = "unknown"  # an earlier attempt's outcome is not known: reconcile first


@dataclass(frozen=True)
class Claim:
    outcome: Claimed
    result: dict[str, Any] | None = None
    operation: str = ""


def fingerprint(operation: str, arguments: Any) -> str:
    """What makes two requests "the same": the operation and its input, key left out, in canonical JSON."""
    return hashlib.sha256(orjson.dumps([operation, arguments], option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


class IdempotencyStore:
    def __init__(self, url: str, stale_after_s: float = 300.0) -> None:
        self.engine = store_engine(url)
        self.stale_after = timedelta(seconds=stale_after_s)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    async def claim(self, subject: str, key: str, operation: str, print_: str) -> Claim:
        return await asyncio.to_thread(self._claim, subject, key, operation, print_)

    def _claim(self, subject: str, key: str, operation: str, print_: str) -> Claim:
        now = datetime.now(UTC)
        row = {"subject": subject, "key": key, "operation": operation, "fingerprint": print_, "state": "pending",
               "result": None, "created_at": now, "updated_at": now}  # fmt: skip
        try:
            with self.engine.begin() as conn:
                conn.execute(idempotency.insert(), row)
            return Claim(Claimed.NEW)
        except IntegrityError:
            pass
        with self.engine.begin() as conn:
            found = conn.execute(
                select(idempotency).where(idempotency.c.subject == subject, idempotency.c.key == key)
            ).first()
            if found is None:  # released meanwhile: claim it again
                conn.execute(idempotency.insert(), row)
                return Claim(Claimed.NEW)
            if found.fingerprint != print_:
                return Claim(Claimed.KEY_REUSED, operation=found.operation)
            if found.state == "done":
                return Claim(Claimed.REPLAY, orjson.loads(found.result) if found.result else None, found.operation)
            updated = found.updated_at if found.updated_at.tzinfo else found.updated_at.replace(tzinfo=UTC)
            if found.state == "pending" and now - updated < self.stale_after:
                return Claim(Claimed.IN_PROGRESS, operation=found.operation)
            # Unknown, or pending for so long that its request must have died: this one reconciles it.
            conn.execute(
                update(idempotency)
                .where(idempotency.c.subject == subject, idempotency.c.key == key)
                .values(state="pending", updated_at=now)
            )
            return Claim(Claimed.UNKNOWN, operation=found.operation)

    async def complete(self, subject: str, key: str, result: dict[str, Any]) -> None:
        await asyncio.to_thread(self._set, subject, key, "done", orjson.dumps(result).decode())

    async def mark_unknown(self, subject: str, key: str) -> None:
        await asyncio.to_thread(self._set, subject, key, "unknown", None)

    async def release(self, subject: str, key: str) -> None:
        """Forget the claim: nothing was written (the system was not reached), so the key may run again."""
        await asyncio.to_thread(self._release, subject, key)

    def _set(self, subject: str, key: str, state: str, result: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(idempotency)
                .where(idempotency.c.subject == subject, idempotency.c.key == key)
                .values(state=state, result=result, updated_at=datetime.now(UTC))
            )

    def _release(self, subject: str, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(idempotency).where(idempotency.c.subject == subject, idempotency.c.key == key))
