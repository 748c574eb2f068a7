"""Buffered audit writing: events are queued on the request path and written in batches off it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Iterable
from dataclasses import replace

from crmgraph.audit.events import AuditEvent
from crmgraph.audit.store import AuditStore

log = logging.getLogger(__name__)


class AuditWriter:
    """Queues events (:meth:`record` never waits for the database) and writes them in batches of up to
    ``batch`` every ``interval_s``, in a thread; :meth:`close` writes everything still queued."""

    def __init__(self, store: AuditStore, *, batch: int = 500, interval_s: float = 0.5, chain: str | None = None):
        self.store = store
        self.batch = batch
        self.interval_s = interval_s
        self.chain = chain or uuid.uuid4().hex  # this writer's own chain: instances never interleave
        self._queue: list[AuditEvent] = []
        self._head = store.head(self.chain)
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()  # events being completed (record_later)
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        self.written = 0

    def record(self, event: AuditEvent) -> None:
        self._queue.append(event)

    def record_later(self, event: AuditEvent, customers: Awaitable[Iterable[int]]) -> None:
        """Queue ``event`` once ``customers`` (the customers of the records it names, being looked up) are
        known, without the request waiting for them; :meth:`close` waits for it. Should the look-up fail,
        the event is recorded with the customers it already names: never dropped."""

        async def complete() -> None:
            try:
                found = set(await customers)
            except Exception:
                log.exception("the customers of an audit event could not be looked up; recorded without them")
                found = set()
            self.record(replace(event, customers=tuple(sorted(set(event.customers) | found))))

        task = asyncio.get_running_loop().create_task(complete(), name="audit-event")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def flush(self) -> None:
        """Write every queued event now (the ones being completed too)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        async with self._lock:
            while self._queue:
                chunk, self._queue = self._queue[: self.batch], self._queue[self.batch :]
                try:
                    self._head = await asyncio.to_thread(self.store.append, self.chain, chunk, self._head)
                except Exception:
                    # Put them back in order: the next flush tries again, nothing is dropped.
                    self._queue = chunk + self._queue
                    raise
                self.written += len(chunk)

    async def close(self) -> None:
        if self._task is not None:
            # Not cancelled: a write already in its thread would commit rows the chain's head would not know
            # of (the next append would then reuse their positions). The loop stops after its current write.
            self._stopping.set()
            await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval_s)
            try:
                await self.flush()
            except Exception:
                log.exception("audit events could not be written; kept for the next attempt")
