"""The analytic store behind the console's dashboard in the browser tests: the reports' small fixed dataset
(tests/reports_data.py) filed under real golden customers of the test estate, so that every figure drills
down to customers the graph can show, and the demo's sales rep (the busiest owner) owns half of them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from crmgraph.analytics.store import AnalyticStore
from crmgraph.demo.role_tokens import busiest_owner
from crmgraph.identity.store import IdentityStore
from crmgraph.identity.tables import match_keys
from tests.reports_data import Slots, fill


@dataclass(frozen=True)
class ReportOwners:
    rep: str  # the demo sales rep's owner id: the dataset's owner A (c1, c2, c5)
    other: str  # owner B (c3, c4, c6)


def fill_reports(identity_url: str, store_url: str) -> ReportOwners:
    identity = IdentityStore(identity_url)
    try:
        rep = busiest_owner(identity)
        assert rep is not None
        with identity.engine.connect() as conn:
            owned = conn.execute(
                select(match_keys.c.customer_id, match_keys.c.value).where(match_keys.c.kind == "owner_id")
            )
            owners: dict[int, set[str]] = {}
            for customer, owner in owned:
                owners.setdefault(customer, set()).add(owner)
    finally:
        identity.close()
    theirs = sorted(customer for customer, names in owners.items() if rep in names)[:3]
    others = sorted(customer for customer, names in owners.items() if rep not in names)[:3]
    assert len(theirs) == 3 and len(others) == 3
    other = sorted(owners[others[0]])[0]
    slots = Slots(customers=[str(n) for n in (theirs[0], theirs[1], others[0], others[1], theirs[2], others[2])],
                  a=rep, b=other)  # fmt: skip
    store = AnalyticStore(store_url)
    try:
        fill(store, slots)
    finally:
        store.close()
    return ReportOwners(rep, other)
