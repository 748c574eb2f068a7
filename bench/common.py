"""What the benchmark scripts share: the estate seeded and linked, picking customers, global ids, percentiles,
a lean GraphQL client."""

from __future__ import annotations

import asyncio
import base64
import http.client
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from crmgraph.config import Config
from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.seed import data_dir_is_current, generate_estate
from crmgraph.identity.linker import link as link_records
from crmgraph.identity.store import IdentityStore
from crmgraph.sources import OpenSources


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def seeded_layout(data_dir: Path, customers: int, seed: int = 42) -> EstateLayout:
    """The estate's files in ``data_dir``, seeded again only when they are not of this size and seed."""
    layout = EstateLayout(data_dir)
    if not data_dir_is_current(layout.root, seed=seed, customers=customers):
        generate_estate(layout, customers=customers, seed=seed)
    return layout


def linked_store(identity_url: str, config: Config) -> IdentityStore:
    """The identity store at ``identity_url`` (created when new) with the estate linked into it by the
    facade's own linker over ``config``'s sources, as ``crmgraph link`` would."""
    store = IdentityStore(identity_url)
    store.create()

    async def link() -> None:
        async with OpenSources(config) as adapters:
            await link_records(store, adapters, config.identity)

    asyncio.run(link())
    return store


def estate_processors(required: bool) -> set[int] | None:
    """The last processor for the simulated systems, the others for this process (the facade and its load):
    on their own machines the legacy systems would not take the facade's processor. None on one processor
    (a :class:`SystemExit` when ``required``, as ``--pin`` asks)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        if required:
            raise SystemExit("--pin needs at least two processors")
        return None
    os.sched_setaffinity(0, set(cpus[:-1]))
    return {cpus[-1]}


def global_id(type_name: str, *parts: object) -> str:
    return base64.urlsafe_b64encode(":".join([type_name, *map(str, parts)]).encode()).decode().rstrip("=")


def active_customers(store: IdentityStore, limit: int) -> list[int]:
    """Customers with records in all three systems: the ones whose 360 view touches every source.

    Taken in the order of their CRM record's id, not of their golden id: golden ids go to the customers
    with the most records first, and a sample of those would be the heaviest 360 views, not typical ones.
    """
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT customer_id FROM crmgraph_links GROUP BY customer_id HAVING COUNT(DISTINCT source) = 3 "
            "ORDER BY MIN(CASE WHEN source = 'crm' THEN source_id END), customer_id LIMIT ?",
            (limit,),
        ).fetchall()
    return [int(row[0]) for row in rows]


class LeanClient:
    """POSTs GraphQL over one kept-alive connection with the standard library's ``http.client``.

    A latency benchmark measures the facade, not its load generator: httpx's synchronous client spends
    about a millisecond of its own CPU on each request (measured in docs/benchmarks.md), which would be
    counted as the facade's.
    """

    def __init__(self, base_url: str, timeout_s: float = 60, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s)
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        self.connection.request("POST", path, orjson.dumps(body), self.headers)
        answer = self.connection.getresponse()
        return answer.status, answer.read()

    def close(self) -> None:
        self.connection.close()
