"""What the benchmark scripts share: picking customers, global ids, percentiles."""

from __future__ import annotations

import base64

from crmgraph.identity.store import IdentityStore


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def global_id(type_name: str, *parts: object) -> str:
    return base64.urlsafe_b64encode(":".join([type_name, *map(str, parts)]).encode()).decode().rstrip("=")


def active_customers(store: IdentityStore, limit: int) -> list[int]:
    """Customers with records in all three systems: the ones whose 360 view touches every source."""
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT customer_id FROM crmgraph_links GROUP BY customer_id HAVING COUNT(DISTINCT source) = 3 "
            "ORDER BY customer_id LIMIT ?",
            (limit,),
        ).fetchall()
    return [int(row[0]) for row in rows]
