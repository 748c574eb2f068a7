"""One write, carried out once: claimed under its idempotency key, sent to the system of record, its stale
cache entries forgotten, its result kept for a retry.

What a retry with the same key gets: the first result (the same record, read afresh, or the same
refusals) and no second write; with another input, ``IDEMPOTENCY_KEY_REUSED``; while the first still
runs, ``IN_PROGRESS``. After an unknown outcome the retry first asks the system for a record carrying the
key (a create); an update is sent again only when doing so twice changes nothing (no comment in it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.writes import Refusal, WriteOp, WriteRefused
from crmgraph.cache.read_through import ReadThrough, cache_key
from crmgraph.errors import ClientError, SourceError, UpstreamOutcomeUnknown, UpstreamUnreachable
from crmgraph.events import ChangeEvent, ChangeKind, Entity, EventHub
from crmgraph.events.causation import current_chain
from crmgraph.records import OrderRecord, Record, TicketRecord
from crmgraph.writes.idempotency import Claimed, IdempotencyStore, fingerprint

logger = logging.getLogger("crmgraph.writes")


@dataclass
class Written:
    record: Record | None = None
    refusals: list[Refusal] = field(default_factory=list)
    problem: str | None = None  # a code of the idempotency record's: KEY_REUSED, IN_PROGRESS, OUTCOME_UNKNOWN
    replayed: bool = False


def record_parents(record: Record) -> tuple[tuple[str, str], ...]:
    """The lists a written record is read through: its party's (every entity that has one), and for a
    ticket its requester's too."""
    parents: list[tuple[str, str]] = []
    party = getattr(record, "party_id", None)
    if party:
        parents.append(("party", str(party)))
    if isinstance(record, TicketRecord) and record.requester_id:
        parents.append(("person", record.requester_id))
    return tuple(parents)


def stale_keys(source: str, entity: str, record: Record) -> list[str]:
    """The cache entries a written record makes stale: itself and every list it appears in."""
    keys = [cache_key(source, entity, "id", record.source_id)]
    keys += [cache_key(source, entity, by, value) for by, value in record_parents(record)]
    if isinstance(record, TicketRecord):
        keys.append(cache_key(source, "comment", "ticket", record.source_id))
    if isinstance(record, OrderRecord):  # the lines of all of a party's orders, read in one join
        keys.append(cache_key(source, "order_line", "order.party", record.party_id))
    return keys


async def forget(cache: ReadThrough, keys: list[str]) -> None:
    """Drop cache entries (in Redis, for every instance sharing it; in memory, for this one)."""
    for key in keys:
        await cache.backend.delete(key)


class Writer:
    def __init__(self, store: IdempotencyStore, cache: ReadThrough, events: EventHub | None = None) -> None:
        self.store = store
        self.cache = cache
        self.events = events  # a write is announced: every instance forgets, subscribers hear of it

    async def _announce(self, adapter: Adapter, op: WriteOp, record: Record) -> None:
        """Forget what the write made stale, here and (through the event) in every instance."""
        if self.events is None:
            await forget(self.cache, stale_keys(adapter.source, op.entity, record))
            return
        parents = record_parents(record)
        kind = ChangeKind.CREATED if op.action == "create" else ChangeKind.UPDATED
        event = ChangeEvent(adapter.source, Entity(op.entity), record.source_id, kind,
                            changed=tuple(sorted(op.values)), parents=parents, chain=current_chain())  # fmt: skip
        try:
            await self.events.publish([event])
        except Exception:  # the write is made: a bus that is down must not turn it into an error
            logger.exception("the change event of a write could not be published; caches expire by TTL")
            await forget(self.cache, stale_keys(adapter.source, op.entity, record))

    async def write(
        self, adapter: Adapter, op: WriteOp, *, subject: str, key: str, operation: str, arguments: Mapping[str, Any]
    ) -> Written:
        if not key.strip() or len(key) > 200:
            raise ClientError("input.idempotencyKey: 1 to 200 characters (a UUID the client makes per change)")
        claim = await self.store.claim(subject, key, operation, fingerprint(operation, arguments))
        if claim.outcome is Claimed.KEY_REUSED:
            return Written(problem="IDEMPOTENCY_KEY_REUSED")
        if claim.outcome is Claimed.IN_PROGRESS:
            return Written(problem="IN_PROGRESS")
        if claim.outcome is Claimed.REPLAY:
            return await self._replayed(adapter, claim.result or {})
        if claim.outcome is Claimed.UNKNOWN:
            settled = await self._settle(adapter, op, subject, key)
            if settled is not None:
                return settled
        return await self._send(adapter, op, subject, key)

    async def _send(self, adapter: Adapter, op: WriteOp, subject: str, key: str) -> Written:
        try:
            record = await adapter.write(op)
        except WriteRefused as refused:
            await self.store.complete(subject, key, {"refusals": [vars(r) for r in refused.refusals]})
            return Written(refusals=refused.refusals)
        except UpstreamOutcomeUnknown:
            await self.store.mark_unknown(subject, key)
            raise
        except (SourceError, ClientError) as error:
            if isinstance(error, UpstreamUnreachable) or not isinstance(error, SourceError) or not error.retryable:
                await self.store.release(subject, key)  # decided before anything was applied: may run again
            else:
                await self.store.mark_unknown(subject, key)
            raise
        await self.store.complete(subject, key, {"entity": op.entity, "id": record.source_id})
        await self._announce(adapter, op, record)
        return Written(record=record)

    async def _settle(self, adapter: Adapter, op: WriteOp, subject: str, key: str) -> Written | None:
        """After an unknown outcome: the record, if the first attempt made it; None to send the write."""
        if op.action == "create":
            found = await adapter.find_written(op.entity, op.idempotency_key or key)  # as the write stored it
            if found is not None:
                await self.store.complete(subject, key, {"entity": op.entity, "id": found.source_id})
                await self._announce(adapter, op, found)
                return Written(record=found, replayed=True)
            return None
        if "comment" in op.values:  # sending it again would add the comment twice
            await self.store.mark_unknown(subject, key)
            return Written(problem="OUTCOME_UNKNOWN")
        return None  # the same values set again change nothing

    async def _replayed(self, adapter: Adapter, result: Mapping[str, Any]) -> Written:
        refusals = [Refusal(**r) for r in result.get("refusals", [])]
        if refusals or "id" not in result:
            return Written(refusals=refusals, replayed=True)
        found = (await adapter.fetch(str(result["entity"]), [str(result["id"])]))[0]
        if isinstance(found, SourceError):
            raise found
        return Written(record=found, replayed=True)
