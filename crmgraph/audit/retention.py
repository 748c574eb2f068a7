"""The retention rule (``audit.retention_days``): events older than it are pruned at start, then daily."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from crmgraph.audit.store import AuditStore

log = logging.getLogger("crmgraph.audit")
PRUNE_EVERY_S = 24 * 3600.0


async def prune_once(store: AuditStore, days: int) -> int:
    before = datetime.now(UTC) - timedelta(days=days)
    pruned = await asyncio.to_thread(store.prune, before)
    if pruned:
        log.info("pruned %d audit event(s) older than %d day(s)", pruned, days)
    return pruned


async def keep_pruning(store: AuditStore, days: int, every_s: float = PRUNE_EVERY_S) -> None:
    while True:
        try:
            await prune_once(store, days)
        except Exception:
            log.exception("audit events could not be pruned; trying again in %.0f s", every_s)
        await asyncio.sleep(every_s)
