"""From a change in a system to the reports showing it: the lag, through a running demo.

    .venv/bin/crmgraph demo --customers 100000 --data-dir var/bench100k --port 8700 --port-base 8600 &
    .venv/bin/python bench/report_lag.py --url http://127.0.0.1:8700 --data-dir var/bench100k --port-base 8600

Each round makes one change in each system through that system's own interface, then asks the report
that must show it every 50 ms (as the demo's admin) until it does:

- CRM: an open deal is moved to ``closedwon`` through HubSpot's API -> ``salesFunnel.won`` rises by one
  (the CRM's webhook -> change event -> the store's updater);
- tickets: a ticket is opened through Zendesk's API -> ``serviceReport.tickets`` rises by one;
- ERP: an order is booked for the customer of highest predicted value, rows inserted straight into the
  ERP's VBAK table as another program would -> that customer's ``orders`` in ``customerValueReport.top``
  rises by one (the ERP's change feed, polled every 2 s by the demo's configuration).

Prints each lag and their p50/max per system. ``--rounds`` sets how many changes of each.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from common import percentile

from crmgraph.demo.layout import EstateCredentials, EstateLayout
from crmgraph.demo.role_tokens import role_tokens

POLL_S = 0.05
GIVE_UP_S = 60.0


class Graph:
    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def ask(self, query: str) -> dict[str, Any]:
        answer = self.client.post("/graphql", json={"query": query})
        answer.raise_for_status()
        body: dict[str, Any] = orjson.loads(answer.content)
        if body.get("errors"):
            raise SystemExit(f"the graph refused {query!r}: {body['errors']}")
        data: dict[str, Any] = body["data"]
        return data


def until_changed(read: Callable[[], Any], before: Any) -> float:
    """Seconds until ``read()`` differs from ``before`` (polled every 50 ms)."""
    started = time.monotonic()
    while read() == before:
        if time.monotonic() - started > GIVE_UP_S:
            raise SystemExit(f"no change within {GIVE_UP_S} s")
        time.sleep(POLL_S)
    return time.monotonic() - started


def crm_round(graph: Graph, crm: httpx.Client) -> float:
    search = {"filterGroups": [{"filters": [{"propertyName": "dealstage", "operator": "EQ", "value": "contractsent"}]}],
              "properties": ["dealstage"], "limit": 1}  # fmt: skip
    deal = crm.post("/crm/v3/objects/deals/search", json=search).raise_for_status().json()["results"][0]

    def won() -> int:
        return int(graph.ask("{ salesFunnel { won } }")["salesFunnel"]["won"])

    before = won()
    started = time.monotonic()
    crm.patch(f"/crm/v3/objects/deals/{deal['id']}", json={"properties": {"dealstage": "closedwon"}}).raise_for_status()
    return (time.monotonic() - started) + until_changed(won, before)


def ticket_round(graph: Graph, zendesk: httpx.Client, requester: int) -> float:
    def tickets() -> int:
        return int(graph.ask("{ serviceReport { tickets } }")["serviceReport"]["tickets"])

    before = tickets()
    started = time.monotonic()
    body = {"ticket": {"subject": "Lag probe", "comment": {"body": "Measuring the reports' lag."},
                       "requester_id": requester}}  # fmt: skip
    zendesk.post("/api/v2/tickets.json", json=body).raise_for_status()
    return (time.monotonic() - started) + until_changed(tickets, before)


def erp_round(graph: Graph, erp_db: Path, identity_db: Path) -> float:
    top = graph.ask("{ customerValueReport { top(first: 1) { orders customer { sources { system recordId } } } } }")

    def orders() -> int:
        rows = graph.ask("{ customerValueReport { top(first: 1) { orders } } }")["customerValueReport"]["top"]
        return int(rows[0]["orders"])

    row = top["customerValueReport"]["top"][0]
    debtor = next(link["recordId"] for link in row["customer"]["sources"] if link["system"] == "erp")
    before = orders()
    now = datetime.now(UTC)
    started = time.monotonic()
    with sqlite3.connect(erp_db, timeout=30) as conn:
        number = str(int(conn.execute("SELECT MAX(VBELN) FROM VBAK").fetchone()[0]) + 1).zfill(10)
        conn.execute(
            "INSERT INTO VBAK (VBELN, ERDAT, ERZET, AUART, KUNNR, NETWR, WAERK, GBSTK) VALUES (?, ?, ?, 'TA', ?, 100, "
            "(SELECT WAERS FROM KNA1 WHERE KUNNR = ?), 'A')",
            (number, now.strftime("%Y%m%d"), now.strftime("%H%M%S"), debtor, debtor),
        )
    return (time.monotonic() - started) + until_changed(orders, before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--data-dir", type=Path, default=Path("var/demo"))
    parser.add_argument("--port-base", type=int, default=8100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    layout = EstateLayout(args.data_dir)
    identity_db = args.data_dir / "identity.sqlite"
    admin = next(t for t in role_tokens(args.data_dir, f"sqlite:///{identity_db}") if t.role == "admin")
    graph = Graph(args.url, admin.token)
    credentials = EstateCredentials()
    crm = httpx.Client(base_url=f"http://127.0.0.1:{args.port_base + 1}", timeout=60,
                       headers={"Authorization": f"Bearer {credentials.crm_token}"})  # fmt: skip
    zendesk = httpx.Client(base_url=f"http://127.0.0.1:{args.port_base + 2}", timeout=60,
                           headers={"Authorization": credentials.zendesk_basic})  # fmt: skip
    requester = zendesk.get("/api/v2/users.json", params={"per_page": 1}).raise_for_status().json()["users"][0]["id"]

    lags: dict[str, list[float]] = {"crm deal won": [], "ticket opened": [], "erp order booked": []}
    for round_number in range(1, args.rounds + 1):
        lags["crm deal won"].append(crm_round(graph, crm))
        lags["ticket opened"].append(ticket_round(graph, zendesk, requester))
        lags["erp order booked"].append(erp_round(graph, layout.erp_db, identity_db))
        print(f"round {round_number}: " + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in lags.items()),
              flush=True)  # fmt: skip
    print(f"\n{'change':<20} {'p50 s':>7} {'max s':>7}")
    for name, values in lags.items():
        print(f"{name:<20} {percentile(values, 0.5):>7.2f} {max(values):>7.2f}")


if __name__ == "__main__":
    main()
