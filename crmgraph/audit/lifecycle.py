"""The audit trail as long as the app runs: its store, its writer, the retention task."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from crmgraph.audit.retention import keep_pruning
from crmgraph.audit.settings import AuditConfig
from crmgraph.audit.store import AuditStore
from crmgraph.audit.writer import AuditWriter


@dataclass
class AuditTrailRuntime:
    config: AuditConfig
    store: AuditStore | None = None
    writer: AuditWriter | None = None
    _pruning: asyncio.Task[None] | None = None

    @classmethod
    def open(cls, config: AuditConfig, url: str) -> AuditTrailRuntime:
        """The trail kept in the facade's own store (``url``: the identity store's database)."""
        if not config.enabled:
            return cls(config)
        store = AuditStore(url)
        return cls(config, store, AuditWriter(store, batch=config.batch, interval_s=config.interval_s))

    async def start(self) -> None:
        if self.writer is None or self.store is None:
            return
        self.writer.start()
        if self.config.retention_days is not None:
            self._pruning = asyncio.get_running_loop().create_task(
                keep_pruning(self.store, self.config.retention_days), name="audit-retention"
            )

    async def close(self) -> None:
        if self._pruning is not None:
            self._pruning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruning
        if self.writer is not None:
            await self.writer.close()
        if self.store is not None:
            self.store.close()
