"""How fresh the store's parts are, as reports state it.

A part (``crm.deal``, ``erp.order``, ``identity.customer``, ``model.customer_value``) is as fresh as the later
of its last full load and its last change applied. A report reads several parts and answers with the
oldest of them: its figures are at least that current.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from crmgraph.analytics.tables import freshness


def parts(conn: Connection) -> dict[str, datetime]:
    """Each part's freshness (parts never loaded nor changed are left out)."""
    found: dict[str, datetime] = {}
    for row in conn.execute(select(freshness.c.name, freshness.c.loaded_at, freshness.c.changed_at)):
        moments = [_aware(moment) for moment in (row.loaded_at, row.changed_at) if moment is not None]
        if moments:
            found[row.name] = max(moments)
    return found


def as_of(conn: Connection, names: Iterable[str]) -> datetime | None:
    """The oldest freshness among the parts ``names`` matches: a full name (``crm.deal``) or an entity for every
    source of it (``*.deal``). None when none of them was ever loaded."""
    known = parts(conn)
    wanted: list[datetime] = []
    for name in names:
        if name.startswith("*."):
            wanted.extend(moment for part, moment in known.items() if part.endswith(name[1:]))
        elif name in known:
            wanted.append(known[name])
    return min(wanted) if wanted else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
