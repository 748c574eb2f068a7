"""Which cache entries a change makes wrong.

For a change of record R (entity E, system S) whose event names parents (by, key):

- R itself: ``S:E:id:R``;
- the lists R is read through: ``S:E:by:key`` for each parent (a ticket's organization's tickets);
- the joined lists read through those parents (``S:order_line:order.party:P`` when an order of party P
  changes), and R's own children (``S:comment:ticket:R`` when ticket R changes: an update often is a comment).

The joined and child lists are those the source's adapter declares (``Adapter.serves``), so a new access
path is covered without a change here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.events.change import ChangeEvent

# Every entity a list may hold (children included: order lines, payments), in the cache's own names.
LISTED = ("person", "deal", "interaction", "order", "order_line", "invoice", "payment", "ticket", "comment")

CacheEntry = tuple[str, str, str, str]  # (source, entity, by, key), as ReadThrough.forget takes them


def affected(event: ChangeEvent, adapter: Adapter | None) -> list[CacheEntry]:
    system, entity = event.system, event.entity.value
    entries: list[CacheEntry] = [(system, entity, "id", event.record_id)]
    for by, key in event.parents:
        entries.append((system, entity, by, key))
        if adapter is not None:
            joined = f"{entity}.{by}"
            entries += [(system, child, joined, key) for child in LISTED if adapter.serves(child, joined)]
    if adapter is not None:
        entries += [(system, child, entity, event.record_id) for child in LISTED if adapter.serves(child, entity)]
    return entries


def affected_by_all(events: Iterable[ChangeEvent], adapters: Mapping[str, Adapter]) -> list[CacheEntry]:
    return [entry for event in events for entry in affected(event, adapters.get(event.system))]
