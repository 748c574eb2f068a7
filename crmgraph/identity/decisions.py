"""Steward decisions: recorded with who, when and why, and turned into pairs every later run obeys.

A decision keeps pairs of records *together* (link, merge, accept) or *apart* (unlink, split, reject).
When two decisions speak of the same pair, the later one holds. The matcher joins "together" pairs
before anything else and never joins an "apart" pair, whatever the score.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from crmgraph.identity import tables as t
from crmgraph.identity.engine import Decisions, Pair
from crmgraph.identity.profiles import SourceRecord
from crmgraph.identity.store import IdentityStore

ACTIONS = ("link", "unlink", "merge", "split", "accept", "reject")


@dataclass(frozen=True)
class Decision:
    kind: str  # company | person
    action: str
    actor: str
    reason: str
    detail: dict[str, Any]


def record(
    conn: Connection,
    decision: Decision,
    together: Iterable[Pair] = (),
    apart: Iterable[Pair] = (),
    *,
    at: datetime,
) -> int:
    """Store a decision and its pairs; returns its id."""
    if decision.action not in ACTIONS:
        raise ValueError(f"unknown action {decision.action!r}")
    inserted = conn.execute(
        t.decisions.insert().values(
            kind=decision.kind, action=decision.action, actor=decision.actor, reason=decision.reason, at=at,
            detail=json.dumps(decision.detail, ensure_ascii=False, default=str),
        )
    ).inserted_primary_key  # fmt: skip
    assert inserted is not None
    decision_id = inserted[0]
    rows = [
        {"decision_id": decision_id, "together": flag, "left_source": a[0], "left_id": a[1],
         "right_source": b[0], "right_id": b[1]}
        for flag, pairs in ((True, together), (False, apart))
        for a, b in pairs
        if a != b
    ]  # fmt: skip
    if rows:
        conn.execute(t.decision_pairs.insert(), rows)
    return int(decision_id)


def standing(conn: Connection) -> Decisions:
    """The pairs every run must obey: the latest decision about each pair, per kind."""
    query = (
        select(t.decisions.c.kind, t.decision_pairs)
        .join(t.decisions, t.decisions.c.id == t.decision_pairs.c.decision_id)
        .order_by(t.decision_pairs.c.decision_id)
    )
    latest: dict[tuple[str, frozenset[SourceRecord]], tuple[bool, Pair]] = {}
    for row in conn.execute(query):
        pair = ((row.left_source, row.left_id), (row.right_source, row.right_id))
        latest[(row.kind, frozenset(pair))] = (row.together, pair)
    buckets: dict[tuple[str, bool], list[Pair]] = {}
    for (kind, _), (together, pair) in latest.items():
        buckets.setdefault((kind, together), []).append(pair)
    return Decisions(
        company_links=tuple(buckets.get(("company", True), ())),
        company_apart=tuple(buckets.get(("company", False), ())),
        person_links=tuple(buckets.get(("person", True), ())),
        person_apart=tuple(buckets.get(("person", False), ())),
    )


def decided_pairs(decisions: Decisions, kind: str) -> set[frozenset[SourceRecord]]:
    pairs = (
        (*decisions.company_links, *decisions.company_apart)
        if kind == "company"
        else (*decisions.person_links, *decisions.person_apart)
    )
    return {frozenset(pair) for pair in pairs}


def standing_from(store: IdentityStore) -> Decisions:
    with store.engine.connect() as conn:
        return standing(conn)
