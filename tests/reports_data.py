"""A small fixed analytic store for the reports' tests: six customers, two owners, seven deals, seven tickets,
four campaigns; every figure the tests expect is computed by hand from it (tests/test_reports_figures.py).

Customers are slots c1..c6 filled with the ids a test chooses (a test through the graph uses real golden
customers, so that drill-down resolves them); owners are A and B, likewise.

    slot  owner country segment   deals (owner)                         tickets          value model
    c1    A     DE      s1        d1 won 1000 (A)                       t1 t6            p 0.9, clv 5000
    c2    A     FR                d2 lost 500 (A)                       t2 t7            p 0.2, clv 100
    c3    B     DE      s1        d3 open 2000 (B), d5 won 4000 (A)     t3 t5            p 0.4, clv 3000
    c4    B     CN                d4 open 300 (B)                       t4               p 0.1, clv 10
    c5    A     DE                d7 lost 700 (A), created 2023                          p 0.7, clv 800
    c6    B     FR                                                                       no prediction
    --                            d6 open 100 (B), no customer
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table

from crmgraph.analytics import tables as t
from crmgraph.analytics.store import AnalyticStore

NOW = datetime(2024, 4, 1, tzinfo=UTC)
SEGMENT = "marketing:7"
STAGES = ("appointment", "qualified", "proposal", "closedwon", "closedlost")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@dataclass(frozen=True)
class Slots:
    """Which real ids stand for c1..c6 and for the owners A and B."""

    customers: Sequence[str]  # six ids
    a: str = "owner-a"
    b: str = "owner-b"

    def __getitem__(self, slot: str) -> str:
        return self.customers[int(slot[1:]) - 1]


DEFAULT = Slots(customers=[str(n) for n in range(1, 7)])


def _insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    # executemany wants every row to name the same columns: the ones a row leaves out are NULL (or the default)
    names = [column.name for column in table.columns]
    defaults = {c.name: c.default.arg for c in table.columns if c.default is not None and not callable(c.default.arg)}  # type: ignore[attr-defined]
    conn.execute(table.insert(), [{name: row.get(name, defaults.get(name)) for name in names} for row in rows])


def fill(store: AnalyticStore, s: Slots = DEFAULT) -> None:
    """Empty the store and fill it with the dataset (the docstring's table)."""
    with store.engine.begin() as conn:
        for table in reversed(t.metadata.sorted_tables):
            conn.execute(table.delete())
        _fill(conn, s)


def _fill(conn: Connection, s: Slots) -> None:
    a, b = s.a, s.b
    customers = [("c1", a, "DE"), ("c2", a, "FR"), ("c3", b, "DE"), ("c4", b, "CN"), ("c5", a, "DE"), ("c6", b, "FR")]
    _insert(conn, t.customers, [
        {"customer_id": s[slot], "name": f"Customer {slot}", "owner_id": owner, "country": country}
        for slot, owner, country in customers
    ])  # fmt: skip
    _insert(conn, t.customer_segments, [
        {"customer_id": s["c1"], "segment_key": SEGMENT, "segment_name": "Key accounts"},
        {"customer_id": s["c3"], "segment_key": SEGMENT, "segment_name": "Key accounts"},
    ])  # fmt: skip
    deals = [
        # key, customer, owner, stage now, outcome, amount, created, closed, history (stage, entered)
        ("d1", "c1", a, "closedwon", "WON", 1000, at(2024, 1, 10), at(2024, 2, 1),
         [("appointment", at(2024, 1, 10)), ("qualified", at(2024, 1, 12)), ("proposal", at(2024, 1, 20)),
          ("closedwon", at(2024, 2, 1))]),
        ("d2", "c2", a, "closedlost", "LOST", 500, at(2024, 1, 15), at(2024, 2, 10),
         [("appointment", at(2024, 1, 15)), ("qualified", at(2024, 1, 19)), ("closedlost", at(2024, 2, 10))]),
        ("d3", "c3", b, "proposal", "OPEN", 2000, at(2024, 2, 1), None,
         [("appointment", at(2024, 2, 1)), ("qualified", at(2024, 2, 2)), ("proposal", at(2024, 2, 5))]),
        ("d4", "c4", b, "appointment", "OPEN", 300, at(2024, 2, 10), None, [("appointment", at(2024, 2, 10))]),
        ("d5", "c3", a, "closedwon", "WON", 4000, at(2024, 3, 1), at(2024, 3, 20),
         [("appointment", at(2024, 3, 1)), ("qualified", at(2024, 3, 4)), ("proposal", at(2024, 3, 8)),
          ("closedwon", at(2024, 3, 20))]),
        ("d6", None, b, "appointment", "OPEN", 100, at(2024, 1, 5), None, [("appointment", at(2024, 1, 5))]),
        ("d7", "c5", a, "closedlost", "LOST", 700, at(2023, 12, 1), at(2023, 12, 5),
         [("appointment", at(2023, 12, 1)), ("closedlost", at(2023, 12, 5))]),
    ]  # fmt: skip
    _insert(conn, t.deals, [
        {"deal_key": f"crm:{key}", "source": "crm", "source_id": key, "customer_id": s[slot] if slot else None,
         "owner_id": owner, "name": key, "stage": stage, "outcome": outcome, "amount": Decimal(amount),
         "amount_original": Decimal(amount), "currency": "EUR", "created_at": created, "close_date": closed}
        for key, slot, owner, stage, outcome, amount, created, closed, _ in deals
    ])  # fmt: skip
    _insert(conn, t.deal_stages, [
        {"deal_key": f"crm:{key}", "stage": stage, "entered_at": entered}
        for key, *_, history in deals for stage, entered in history
    ])  # fmt: skip
    hours = timedelta(hours=1)
    tickets = [
        # key, customer, group, priority, kind, complaint, status, created, first reply (h), solved (h)
        ("t1", "c1", "g1", "HIGH", "question", False, "SOLVED", at(2024, 1, 10), 2, 30),
        ("t2", "c2", "g1", "URGENT", "complaint", True, "SOLVED", at(2024, 1, 11), 3, 20),
        ("t3", "c3", "g2", "NORMAL", "problem", False, "OPEN", at(2024, 2, 1), 30, None),
        ("t4", "c4", "g2", None, "question", False, "CLOSED", at(2024, 2, 5), 10, 200),
        ("t5", "c3", "g1", "LOW", "complaint", True, "OPEN", at(2024, 2, 20), None, None),
        ("t6", "c1", None, "HIGH", "incident", False, "SOLVED", at(2024, 3, 5), 5, 80),
        ("t7", "c2", "g1", "URGENT", "question", False, "NEW", at(2024, 3, 31, 23, 30), None, None),
    ]
    _insert(conn, t.tickets, [
        {"ticket_key": f"tickets:{key}", "source": "tickets", "source_id": key, "customer_id": s[slot],
         "group_id": group, "priority": priority, "kind": kind, "category": kind, "complaint": complaint,
         "tags": ",complaint," if complaint else "", "status": status, "created_at": created,
         "first_reply_at": created + reply * hours if reply is not None else None,
         "solved_at": created + solved * hours if solved is not None else None}
        for key, slot, group, priority, kind, complaint, status, created, reply, solved in tickets
    ])  # fmt: skip
    days = [
        ("invoice", "c1", date(2024, 1, 20), 1000), ("invoice", "c1", date(2024, 2, 15), 500),
        ("invoice", "c2", date(2024, 1, 25), 300), ("invoice", "c3", date(2024, 3, 25), 4000),
        ("invoice", "c4", date(2023, 6, 1), 50), ("invoice", None, date(2024, 1, 10), 999),
        ("order", "c1", date(2024, 1, 5), 1500), ("order", "c3", date(2024, 3, 1), 4000),
        ("order", "c4", date(2023, 5, 20), 50),
    ]  # fmt: skip
    _insert(conn, t.party_days, [
        {"source": "erp", "entity": entity, "party_id": f"p-{slot}", "day": day, "currency": "EUR",
         "customer_id": s[slot] if slot else None, "count": 1, "total": Decimal(total),
         "total_original": Decimal(total)}
        for entity, slot, day, total in days
    ])  # fmt: skip
    _insert(conn, t.campaigns, [
        {"campaign_key": "marketing:k1", "source": "marketing", "source_id": "k1", "name": "Spring mail",
         "channel": "email", "cost": Decimal(1000), "starts_at": at(2024, 1, 1), "ends_at": at(2024, 1, 31)},
        {"campaign_key": "marketing:k2", "source": "marketing", "source_id": "k2", "name": "Webinar",
         "channel": "webinar", "cost": Decimal(500), "starts_at": at(2024, 1, 15), "ends_at": at(2024, 2, 15)},
        {"campaign_key": "marketing:k3", "source": "marketing", "source_id": "k3", "name": "Trade show",
         "channel": "trade_show", "cost": Decimal(2000), "starts_at": at(2023, 6, 1), "ends_at": at(2023, 6, 3)},
        {"campaign_key": "marketing:k4", "source": "marketing", "source_id": "k4", "name": "No cost",
         "channel": "email", "cost": None, "starts_at": at(2024, 2, 1), "ends_at": None},
    ])  # fmt: skip
    leads = [("l1", "c1", a), ("l2", "c1", a), ("l3", "c3", b), ("l4", None, b), ("l5", "c2", a), ("l6", "c6", b)]
    _insert(conn, t.leads, [
        {"lead_key": f"marketing:{key}", "source": "marketing", "source_id": key,
         "customer_id": s[slot] if slot else None, "owner_id": owner, "created_at": at(2024, 1, 2)}
        for key, slot, owner in leads
    ])  # fmt: skip
    members = {"k1": ("l1", "l3", "l4"), "k2": ("l2", "l5", "l3"), "k3": ("l1",), "k4": ("l6",)}
    _insert(conn, t.campaign_members, [
        {"campaign_key": f"marketing:{campaign}", "lead_key": f"marketing:{lead}"}
        for campaign, keys in members.items() for lead in keys
    ])  # fmt: skip
    value = [
        ("c1", 5, 0.9, 5000.0, 1500, 3.0), ("c2", 1, 0.2, 100.0, 300, 0.2), ("c3", 3, 0.4, 3000.0, 4000, 1.0),
        ("c4", 1, 0.1, 10.0, 50, 0.1), ("c5", 2, 0.7, 800.0, 0, 1.5), ("c6", 0, None, None, 0, None),
    ]  # fmt: skip
    _insert(conn, t.customer_value, [
        {"customer_id": s[slot], "orders": orders, "frequency": max(orders - 1, 0), "recency_days": 10.0,
         "age_days": 100.0, "monetary": None, "lifetime_revenue": Decimal(lifetime), "p_alive": p_alive,
         "expected_purchases": expected, "predicted_clv": clv, "computed_at": at(2024, 3, 31)}
        for slot, orders, p_alive, clv, lifetime, expected in value
    ])  # fmt: skip
    _insert(conn, t.freshness, [
        {"name": "crm.party", "loaded_at": at(2024, 3, 30), "changed_at": at(2024, 3, 31, 12), "rows": 6},
        {"name": "crm.deal", "loaded_at": at(2024, 3, 30), "changed_at": at(2024, 3, 31, 10), "rows": 7},
        {"name": "tickets.ticket", "loaded_at": at(2024, 3, 30), "changed_at": None, "rows": 7},
        {"name": "erp.invoice", "loaded_at": at(2024, 3, 29), "changed_at": at(2024, 3, 31), "rows": 6},
        {"name": "erp.order", "loaded_at": at(2024, 3, 29), "changed_at": None, "rows": 3},
        {"name": "marketing.campaign", "loaded_at": at(2024, 3, 30), "changed_at": None, "rows": 4},
        {"name": "model.customer_value", "loaded_at": at(2024, 3, 31), "changed_at": None, "rows": 6},
    ])  # fmt: skip


def slots_of_identity(identity_url: str) -> Slots:
    """c1, c2, c5 among the customers of the estate's busiest owner (A, a real CRM owner), the others among
    the rest: an analytic store whose scope agrees with the identity store's, for tests through the graph."""
    from tests.test_governance import Estate360

    owned = Estate360(identity_url)
    mine, others = sorted(owned.owned), owned.outside
    assert len(mine) >= 3 and len(others) >= 3
    customers = [mine[0], mine[1], others[0], others[1], mine[2], others[2]]
    return Slots(customers=[str(n) for n in customers], a=owned.owner, b="owner-b")
