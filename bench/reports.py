"""Every report's query time on an analytic store: cold, warm uncached (p50/p95) and from the answer cache.

    .venv/bin/python bench/reports.py --store duckdb:///var/analytics.duckdb     # a store the data path filled
    .venv/bin/python bench/reports.py --synthetic 100000 [--store duckdb:///var/bench-reports.duckdb]

``--synthetic N`` first fills the store (DuckDB only: it is generated with DuckDB's own SQL) with a made-up
business of N customers in the proportions of the demo estate: a deal per customer and its stage history,
1.5 tickets, 3 order or invoice days, half a lead in one or two of 200 campaigns, a value-model row, and a
marketing segment for 30% of them: about 11.6 rows per customer (1.16 million for 100,000).

Each report runs under four requests: no filter, the busiest owner's scope (a sales rep), the commonest
country, and the 90 days before the newest deal; ``--runs`` times each, the answer cache bypassed, then once
more from the cache. It also pages the customers behind the funnel's first stage. Prints a table of
milliseconds. ``--url http://127.0.0.1:8000 --header 'Authorization: Bearer ...'`` then times each report's
whole answer through a served facade's /graphql (warm: the facade's answer cache holds it).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from common import LeanClient, percentile
from sqlalchemy import func, select

from crmgraph.analytics.reports import (
    REPORTS,
    ReportFilter,
    ReportRequest,
    customer_page,
    customers_query,
    report_now,
)
from crmgraph.analytics.settings import ReportsConfig
from crmgraph.analytics.store import AnalyticStore
from crmgraph.analytics.tables import customers, deals, metadata

OWNERS = 50
CAMPAIGNS = 200
COUNTRIES = ("DE", "FR", "GB", "CN", "JP", "SG", "US", "IT", "ES", "NL")


def _synthetic(store: AnalyticStore, customers: int) -> int:
    """Fill the store with a made-up business of ``customers`` customers; the rows written."""
    if store.backend != "duckdb":
        raise SystemExit("--synthetic: only a DuckDB store is generated (duckdb:///path)")
    n = customers
    countries = "[" + ", ".join(f"'{c}'" for c in COUNTRIES) + "]"
    statements = [
        # hash() is an unsigned 64-bit number; list indexes and intervals want a signed one
        "CREATE OR REPLACE TEMP MACRO h(x) AS (hash(x) % 1000000007)::BIGINT",
        *(f"DELETE FROM {table}" for table in ("deal_stages", "deals", "tickets", "party_days", "campaign_members",
                                               "leads", "campaigns", "customer_value", "customer_segments",
                                               "customers", "freshness")),
        f"""INSERT INTO customers (customer_id, name, country, owner_id, industry, lifecycle_stage, created_at)
            SELECT i::VARCHAR, 'Customer ' || i, {countries}[1 + i % 10], 'o' || (i % {OWNERS}),
            'industry', 'customer', TIMESTAMPTZ '2020-01-01' + to_days((i % 1000)::INT) FROM range(1, {n} + 1) t(i)""",
        f"""INSERT INTO customer_segments (customer_id, segment_key, segment_name)
            SELECT i::VARCHAR, 'marketing:' || (i % 5), 'Segment ' || (i % 5)
            FROM range(1, {n} + 1) t(i) WHERE i % 10 < 3""",
        f"""CREATE TEMP TABLE synthetic_deals AS SELECT i, 1 + (h(i) % 5)::INT AS depth, h(i * 7) % 2 = 0 AS won,
            TIMESTAMPTZ '2023-01-01' + to_seconds((h(i * 3) % (730 * 86400))::BIGINT) AS created
            FROM range(1, {n} + 1) t(i)""",
        """INSERT INTO deals (deal_key, source, source_id, customer_id, owner_id, name, stage, outcome, amount,
            amount_original, currency, created_at, close_date, updated_at)
            SELECT 'crm:' || i, 'crm', i::VARCHAR, CASE WHEN i % 20 = 0 THEN NULL ELSE i::VARCHAR END,
            'o' || (h(i * 11) % 50), 'Deal ' || i,
            CASE WHEN depth = 5 THEN (CASE WHEN won THEN 'closedwon' ELSE 'closedlost' END)
                 ELSE ['appointment', 'qualified', 'proposal', 'contract'][depth] END,
            CASE WHEN depth = 5 THEN (CASE WHEN won THEN 'WON' ELSE 'LOST' END) ELSE 'OPEN' END,
            (100 + h(i * 5) % 50000)::DECIMAL(18, 2), (100 + h(i * 5) % 50000)::DECIMAL(18, 2), 'EUR', created,
            CASE WHEN depth = 5 THEN created + to_days(5 * depth) END, created FROM synthetic_deals""",
        """INSERT INTO deal_stages (deal_key, stage, entered_at)
            SELECT 'crm:' || i,
            CASE WHEN k = 5 THEN (CASE WHEN won THEN 'closedwon' ELSE 'closedlost' END)
                 ELSE ['appointment', 'qualified', 'proposal', 'contract'][k] END,
            created + to_hours((k - 1) * (24 + h(i * k) % 200)::INT)
            FROM synthetic_deals, range(1, 6) s(k) WHERE k <= depth""",
        f"""INSERT INTO tickets (ticket_key, source, source_id, customer_id, group_id, assignee_id, priority, kind,
            tags, complaint, status, created_at, first_reply_at, solved_at, updated_at)
            SELECT 'tickets:' || j, 'tickets', j::VARCHAR, (1 + j % {n})::VARCHAR,
            'g' || (j % 8), NULL, ['URGENT', 'HIGH', 'NORMAL', 'LOW', NULL][1 + h(j) % 5],
            ['question', 'problem', 'incident', 'task', 'complaint', 'billing'][1 + h(j * 3) % 6], '',
            h(j * 3) % 6 = 4, CASE WHEN h(j * 7) % 10 < 7 THEN 'SOLVED' ELSE ['NEW', 'OPEN', 'PENDING'][1 + j % 3] END,
            created, CASE WHEN h(j * 13) % 10 < 9 THEN created + to_minutes((h(j * 17) % 3000)::INT) END,
            CASE WHEN h(j * 7) % 10 < 7 THEN created + to_minutes((h(j * 19) % 20000)::INT) END, created
            FROM (SELECT j, TIMESTAMPTZ '2023-01-01' + to_seconds((h(j * 23) % (730 * 86400))::BIGINT) AS created
                  FROM range(1, {n * 3 // 2} + 1) t(j))""",
        f"""INSERT INTO party_days (source, entity, party_id, day, currency, customer_id, count, total, total_original)
            SELECT 'erp', CASE WHEN k = 1 THEN 'order' ELSE 'invoice' END, i::VARCHAR,
            DATE '2023-01-01' + (k * 240 + h(i * k) % 200)::INT, 'EUR', i::VARCHAR, 1,
            (50 + h(i * k * 3) % 20000)::DECIMAL(18, 2), (50 + h(i * k * 3) % 20000)::DECIMAL(18, 2)
            FROM range(1, {n} + 1) t(i), range(1, 4) s(k)""",
        f"""INSERT INTO campaigns (campaign_key, source, source_id, name, channel, cost, starts_at, ends_at)
            SELECT 'marketing:' || c, 'marketing', c::VARCHAR, 'Campaign ' || c,
            ['email', 'webinar', 'trade_show', 'ads'][1 + c % 4], (1000 + c * 37 % 20000)::DECIMAL(18, 2),
            TIMESTAMPTZ '2023-01-01' + to_days((c * 3)::INT), TIMESTAMPTZ '2023-01-01' + to_days((c * 3 + 30)::INT)
            FROM range(1, {CAMPAIGNS} + 1) t(c)""",
        f"""INSERT INTO leads (lead_key, source, source_id, customer_id, owner_id, stage, created_at)
            SELECT 'marketing:l' || l, 'marketing', 'l' || l,
            CASE WHEN l % 10 = 0 THEN NULL ELSE (1 + h(l) % {n})::VARCHAR END, 'o' || (l % {OWNERS}), 'lead',
            TIMESTAMPTZ '2023-01-01' + to_days((l % 700)::INT) FROM range(1, {n // 2} + 1) t(l)""",
        f"""INSERT INTO campaign_members (campaign_key, lead_key)
            SELECT DISTINCT 'marketing:' || c, 'marketing:l' || l FROM (
            SELECT l, 1 + l % {CAMPAIGNS} AS c FROM range(1, {n // 2} + 1) t(l)
            UNION ALL SELECT l, 1 + (l * 7 + 3) % {CAMPAIGNS} FROM range(1, {n // 2} + 1) t(l) WHERE l % 2 = 0)""",
        f"""INSERT INTO customer_value (customer_id, orders, frequency, recency_days, age_days, monetary,
            lifetime_revenue, p_alive, expected_purchases, predicted_clv, computed_at)
            SELECT i::VARCHAR, 1 + i % 9, i % 9, 10.0 + i % 300, 400.0, 100.0 + i % 500,
            (i % 9 * 700)::DECIMAL(18, 2), (h(i) % 1000) / 1000.0, (i % 7) / 2.0, 10.0 + h(i * 3) % 30000,
            TIMESTAMPTZ '2024-12-31' FROM range(1, {n} + 1) t(i)""",
        """INSERT INTO freshness (name, loaded_at, changed_at, rows)
            SELECT name, now(), NULL, 0 FROM (VALUES ('crm.party'), ('crm.deal'),
            ('tickets.ticket'), ('erp.invoice'), ('erp.order'), ('marketing.campaign'), ('marketing.person'),
            ('model.customer_value')) v(name)""",
        "DROP TABLE synthetic_deals",
    ]  # fmt: skip
    with store.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        tables = ("customers", "customer_segments", "deals", "deal_stages", "tickets", "party_days", "campaigns",
                  "leads", "campaign_members", "customer_value")  # fmt: skip
        return sum(int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()) for table in tables)


def _copy(source_url: str, store: AnalyticStore) -> int:
    """Copy every table of the store at ``source_url`` into ``store`` (PostgreSQL: COPY); the rows copied."""
    source = AnalyticStore(source_url)
    copied = 0
    with store.engine.begin() as target:
        for table in reversed(metadata.sorted_tables):
            target.execute(table.delete())
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table in metadata.sorted_tables:
            names = [column.name for column in table.columns]
            with source.engine.connect() as conn:
                rows = conn.execute(select(*table.columns)).all()
            if store.backend == "postgresql":
                with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in rows:
                        copy.write_row(tuple(row))
            else:
                marks = ", ".join("?" for _ in names)
                cursor.executemany(
                    f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", [tuple(r) for r in rows]
                )
            copied += len(rows)
        raw.commit()
    finally:
        raw.close()
        source.close()
    return copied


def _requests(store: AnalyticStore, now: datetime) -> dict[str, ReportRequest]:
    """No filter; the busiest owner's scope (a sales rep); the commonest country; the 90 days before the newest
    deal: asked of the store, so that they fit a synthetic store and a real one alike."""
    with store.engine.connect() as conn:
        owner = conn.execute(
            select(customers.c.owner_id).group_by(customers.c.owner_id).order_by(func.count().desc()).limit(1)
        ).scalar()
        country = conn.execute(
            select(customers.c.country).group_by(customers.c.country).order_by(func.count().desc()).limit(1)
        ).scalar()
        newest = conn.execute(select(func.max(deals.c.created_at))).scalar() or now
    newest = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
    quarter = ReportFilter(start=newest - timedelta(days=90), end=newest + timedelta(seconds=1))
    return {
        "all": ReportRequest(ReportFilter(), now=now),
        "rep": ReportRequest(ReportFilter(), scope=((("owner_id", (str(owner),)),),), now=now),
        "country": ReportRequest(ReportFilter(country=country or "DE"), now=now),
        "quarter": ReportRequest(quarter, now=now),
    }


def _over_http(url: str, headers: dict[str, str], runs: int) -> None:
    """Each report's whole answer through the served graph (what the console asks), after one warming request."""
    client = LeanClient(url, headers=headers)
    print(f"{'report (HTTP /graphql)':<26} {'p50':>8} {'p95':>8}")
    for name, selection in HTTP_SELECTIONS.items():
        body = {"query": f"{{ {name} {{ {selection} freshness {{ asOf }} }} }}"}
        status, answer = client.post("/graphql", body)
        if status != 200 or b'"errors"' in answer:
            raise SystemExit(f"{name}: {status} {answer[:300]!r}")
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            client.post("/graphql", body)
            times.append(_ms(started))
        print(f"{name:<26} {percentile(times, 0.5):8.1f} {percentile(times, 0.95):8.1f}")
    client.close()


HTTP_SELECTIONS = {
    "salesFunnel": "deals won lost winRate stages { stage reached current amount conversionToNext medianDaysToNext "
    "drillDown } owners { ownerId open won lost wonAmount winRate drillDown }",
    "serviceReport": "tickets firstReply { medianHours p90Hours withinSla breached drillDown } "
    "byPriority { key tickets firstReply { withinSla } } backlog { key open pastSla oldestHours drillDown }",
    "campaignRoi": "attribution cost attributedRevenue roi campaigns { name cost leads customers attributedRevenue "
    "roi drillDown }",
    "customerValueReport": "customers lifetimeRevenue predictedValue bands { label customers predictedValue drillDown }"
    " top(first: 10) { name predictedValue probabilityAlive orders }",
    "complaintsAgainstRevenue": "bands { label customers revenue complaints customersComplaining drillDown }",
    "churnRisk": "atRisk revenueAtRisk customers(first: 10) { name probabilityAlive revenueAtRisk "
    "daysSinceLastOrder openComplaints }",
}


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="duckdb:///var/bench-reports.duckdb", help="the analytic store's URL")
    parser.add_argument("--synthetic", type=int, default=0, help="first fill it with this many made-up customers")
    parser.add_argument(
        "--copy-from", help="first copy every table of this store into --store (e.g. a synthetic DuckDB)"
    )
    parser.add_argument("--runs", type=int, default=20, help="uncached runs per report and request")
    parser.add_argument("--url", help="also time each report through this served facade's /graphql")
    parser.add_argument(
        "--header", action="append", default=[], help="a header for --url, e.g. 'Authorization: Bearer ...'"
    )
    args = parser.parse_args()
    store = AnalyticStore(args.store)
    config = ReportsConfig()
    if args.synthetic:
        started = time.perf_counter()
        rows = _synthetic(store, args.synthetic)
        print(f"filled {rows:,} rows for {args.synthetic:,} customers in {_ms(started) / 1000:.1f} s")
    if args.copy_from:
        started = time.perf_counter()
        rows = _copy(args.copy_from, store)
        with store.engine.begin() as conn:
            if store.backend == "postgresql":
                conn.exec_driver_sql("ANALYZE")
        print(f"copied {rows:,} rows from {args.copy_from} in {_ms(started) / 1000:.1f} s")
    now = datetime.now(UTC)
    requests = _requests(store, now)
    print(f"{'report':<26} {'request':<8} {'cold':>8} {'p50':>8} {'p95':>8} {'cached':>8}")
    for name in REPORTS:
        for label, request in requests.items():
            started = time.perf_counter()
            report_now(store, name, request, config, cached=False)
            cold = _ms(started)
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                report_now(store, name, request, config, cached=False)
                times.append(_ms(started))
            started = time.perf_counter()
            answer: Any = report_now(store, name, request, config)
            cached = _ms(started)
            print(f"{name:<26} {label:<8} {cold:8.1f} {percentile(times, 0.5):8.1f} {percentile(times, 0.95):8.1f} "
                  f"{cached:8.2f}")  # fmt: skip
    funnel = report_now(store, "salesFunnel", requests["all"], config)
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        query = customers_query(funnel.stages[0].drill_down, requests["rep"], config)
        customer_page(store, query, 20, None)
        times.append(_ms(started))
    print(f"{'reportCustomers (page 20)':<26} {'rep':<8} {'':>8} {percentile(times, 0.5):8.1f} "
          f"{percentile(times, 0.95):8.1f}")  # fmt: skip
    del answer
    store.close()
    if args.url:
        headers = dict(header.split(":", 1) for header in args.header)
        _over_http(args.url, {key.strip(): value.strip() for key, value in headers.items()}, args.runs)


if __name__ == "__main__":
    main()
