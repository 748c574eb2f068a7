"""What a mutation costs on top of the system of record's own write (issue 12, item 9).

    .venv/bin/python bench/writes.py [--customers 300] [--rounds 200]

Two pairs, each measured interleaved (one direct write, one through the facade, in turn, so that a drift of
a noisy machine falls on both alike), one request at a time over kept-alive connections:

- ``ticketCreate`` through the facade vs ``POST /api/v2/tickets.json`` sent straight to the demo ticket system
  (the same body the facade's Zendesk adapter sends);
- ``salesOrderCreate`` through the facade vs the same order inserted straight into the demo ERP (SQLite):
  ``BEGIN IMMEDIATE``, max + 1, the header and two lines, ``COMMIT``, as a writer of its own would.

The facade's share is everything else: GraphQL, the identity links and row scope, the idempotency record
(claimed, then completed, in the facade's store: two SQLite commits), the adapter (for an order: the debtor
and material checks and the read-back in its transaction), and the change event. Each write has a new
idempotency key. Prints p50/p95/p99 of each and the difference of the p50s (the facade's added time).
A data directory of its own (``var/bench-writes``): the writes stay in it.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import statistics
import time
import uuid
from argparse import ArgumentParser
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import orjson
from common import LeanClient, global_id, linked_store, percentile
from customer360 import config_for

from crmgraph.app import build_app
from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.process import estate_process
from crmgraph.demo.seed import data_dir_is_current, generate_estate
from crmgraph.identity.store import IdentityStore
from crmgraph.runner import serving

TICKET = (
    """mutation($input: TicketCreateInput!) { ticketCreate(input: $input) { ticket { id } userErrors { code } } }"""
)
ORDER = """mutation($input: SalesOrderCreateInput!) { salesOrderCreate(input: $input) {
  order { id number } userErrors { field code } } }"""
# Anonymous requests act as an admin who may run every mutation (a latency benchmark, not a policy test).
WRITER = """auth: {anonymous_role: admin}
        policy: {roles: {admin: {mutations: ["*"]}}}"""
ZENDESK_AUTH = "Basic " + base64.b64encode(b"api@demo.crmgraph.test/token:demo-zendesk-token").decode()


def linked_pair(store: IdentityStore) -> tuple[int, str, int, str]:
    """A customer with an organization in the ticket system and one with a debtor in the ERP, with those ids."""
    with store.engine.connect() as conn:

        def first(source: str) -> tuple[int, str]:
            row = conn.exec_driver_sql(
                "SELECT customer_id, source_id FROM crmgraph_links WHERE source = ? AND entity = 'party' "
                "ORDER BY customer_id LIMIT 1",
                (source,),
            ).one()
            return int(row[0]), str(row[1])

        return *first("tickets"), *first("erp")


def timed(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def graphql(client: LeanClient, query: str, given: Mapping[str, object], name: str) -> None:
    status, content = client.post("/graphql", {"query": query, "variables": {"input": given}})
    answer = orjson.loads(content)
    if status != 200 or answer.get("errors") or answer["data"][name]["userErrors"]:
        raise SystemExit(f"{name} failed ({status}): {answer}")


def direct_ticket(zendesk: LeanClient, organization: str) -> None:
    body = {"ticket": {"subject": "Bench", "comment": {"body": "Direct.", "public": True},
                       "organization_id": int(organization), "external_id": str(uuid.uuid4())}}  # fmt: skip
    status, content = zendesk.post("/api/v2/tickets.json", body)
    if status != 201:
        raise SystemExit(f"direct ticket failed ({status}): {content[:300]!r}")


def direct_order(erp: sqlite3.Connection, debtor: str, skus: list[tuple[str, str, str]]) -> None:
    """The order as a plain writer places it: one transaction, max + 1, the header and two lines."""
    now = datetime.now(UTC)
    erp.execute("BEGIN IMMEDIATE")
    number = f"{int(erp.execute('SELECT MAX(VBELN) FROM VBAK').fetchone()[0]) + 1:010d}"
    erp.execute(
        "INSERT INTO VBAK (VBELN, ERDAT, ERZET, AUART, KUNNR, NETWR, WAERK, GBSTK) "
        "VALUES (?, ?, ?, 'TA', ?, ?, ?, 'A')",
        (number, f"{now:%Y%m%d}", f"{now:%H%M%S}", debtor, "120.00", "EUR"),
    )
    erp.executemany(
        "INSERT INTO VBAP (VBELN, POSNR, MATNR, ARKTX, KWMENG, VRKME, NETPR, NETWR, WAERK) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(number, f"{10 * (i + 1):06d}", sku, text, "2", unit, "30.00", "60.00", "EUR")
         for i, (sku, text, unit) in enumerate(skus)],
    )  # fmt: skip
    erp.execute("COMMIT")


def report(name: str, values: list[float]) -> str:
    return (f"{name:34} n={len(values):4}  p50 {percentile(values, .5):6.2f} ms  p95 {percentile(values, .95):6.2f} ms"
            f"  p99 {percentile(values, .99):6.2f} ms  mean {statistics.fmean(values):6.2f} ms")  # fmt: skip


def main() -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-writes"))
    args = parser.parse_args()

    layout = EstateLayout(args.data_dir)
    if not data_dir_is_current(layout.root, seed=42, customers=args.customers):
        generate_estate(layout, customers=args.customers, seed=42)
    cpus = sorted(os.sched_getaffinity(0))
    estate_cpus = {cpus[-1]} if len(cpus) >= 2 else None
    if estate_cpus:
        os.sched_setaffinity(0, set(cpus[:-1]))  # the legacy systems on a processor of their own
    with estate_process(layout.root, customers=args.customers, seed=42, cpus=estate_cpus) as urls:
        identity_url = f"sqlite:///{layout.root.resolve() / 'bench-writes-identity.sqlite'}"
        store = linked_store(identity_url, config_for(urls, identity_url, 0))
        ticket_customer, organization, order_customer, debtor = linked_pair(store)
        store.close()
        erp = sqlite3.connect(layout.erp_db, isolation_level=None)  # autocommit: the transactions are explicit
        skus: list[tuple[str, str, str]] = [tuple(row) for row in erp.execute(
            "SELECT MATNR, MIN(ARKTX), MIN(VRKME) FROM VBAP GROUP BY MATNR ORDER BY MATNR LIMIT 2")]  # fmt: skip
        lines = [{"sku": sku, "quantity": "2", "unitPrice": "30.00", "currencyCode": "EUR"} for sku, _, _ in skus]
        times: dict[str, list[float]] = {"ticket direct": [], "ticket facade": [], "order direct": [],
                                         "order facade": []}  # fmt: skip
        with serving(build_app(config_for(urls, identity_url, 600, WRITER)), as_server=True) as url:
            facade = LeanClient(url)
            zendesk = LeanClient(urls["tickets"], headers={"Authorization": ZENDESK_AUTH})
            ticket_input = {"customerId": global_id("Customer", ticket_customer), "subject": "Bench",
                            "description": "Through the facade."}  # fmt: skip
            order_input = {"customerId": global_id("Customer", order_customer), "lines": lines}

            def ticket_facade() -> None:
                graphql(facade, TICKET, ticket_input | {"idempotencyKey": str(uuid.uuid4())}, "ticketCreate")

            def order_facade() -> None:
                graphql(facade, ORDER, order_input | {"idempotencyKey": str(uuid.uuid4())}, "salesOrderCreate")

            for round_number in range(args.rounds + 10):  # the first 10 warm up, uncounted
                pairs = [
                    ("ticket facade", ticket_facade),
                    ("ticket direct", lambda: direct_ticket(zendesk, organization)),
                    ("order facade", order_facade),
                    ("order direct", lambda: direct_order(erp, debtor, skus)),
                ]
                if round_number % 2:
                    pairs.reverse()
                for name, call in pairs:
                    elapsed = timed(call)
                    if round_number >= 10:
                        times[name].append(elapsed)
            facade.close()
            zendesk.close()
        erp.close()

    print(f"writes, one at a time, {args.rounds} of each, interleaved; estate of {args.customers} customers")
    for name in ("ticket direct", "ticket facade", "order direct", "order facade"):
        print(report(name, times[name]))
    for kind, mutation in (("ticket", "ticketCreate"), ("order", "salesOrderCreate")):
        added = percentile(times[f"{kind} facade"], 0.5) - percentile(times[f"{kind} direct"], 0.5)
        print(f"{mutation}: the facade adds {added:.2f} ms at p50")


if __name__ == "__main__":
    main()
