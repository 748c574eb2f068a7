"""Buffered audit writing: events are queued on the request path and written in batches off it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

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
        self._lock = asyncio.Lock()
        self.written = 0

    def record(self, event: AuditEvent) -> None:
        self._queue.append(event)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def flush(self) -> None:
        """Write every queued event now."""
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
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.flush()
            except Exception:
                log.exception("audit events could not be written; kept for the next attempt")
