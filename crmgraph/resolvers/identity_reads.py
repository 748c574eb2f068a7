"""Request-time reads of the identity store that the graph needs beyond :class:`IdentityStore`'s own.

The review queue page by page (keyset: strongest first, a cursor that stays valid when the candidate it
names is decided), review candidates by id, the golden person of many person records, and the customer a
golden person works for. Each is one statement, run in a worker thread, logged as an ``identity`` call.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_

from crmgraph.adapters.sdk.calls import upstream_call
from crmgraph.identity import tables as t
from crmgraph.identity.stewardship import ReviewCandidate
from crmgraph.identity.store import IdentityStore, Link, SourceRecord

ReviewPosition = tuple[float, int]  # (weight, id) of the candidate a page resumes after


def _candidate(row: Any) -> ReviewCandidate:
    created_at = row.created_at
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)  # written in UTC; SQLite keeps no zone
    return ReviewCandidate(
        id=row.id, kind=row.kind, left=(row.left_source, row.left_id), right=(row.right_source, row.right_id),
        probability=row.probability, weight=row.weight, why=row.why, evidence=json.loads(row.evidence),
        created_at=created_at,
    )  # fmt: skip


async def review_page(
    store: IdentityStore, kind: str | None, first: int, after: ReviewPosition | None
) -> tuple[list[ReviewCandidate], bool]:
    """Open candidates, strongest first (match weight, then id), after ``after``; and whether more follow."""
    return await asyncio.to_thread(_review_page, store, kind, first, after)


def _review_page(
    store: IdentityStore, kind: str | None, first: int, after: ReviewPosition | None
) -> tuple[list[ReviewCandidate], bool]:
    query = select(t.review).order_by(t.review.c.weight.desc(), t.review.c.id).limit(first + 1)
    if kind is not None:
        query = query.where(t.review.c.kind == kind)
    if after is not None:
        weight, candidate_id = after
        query = query.where(
            or_(t.review.c.weight < weight, and_(t.review.c.weight == weight, t.review.c.id > candidate_id))
        )
    with upstream_call(IdentityStore.SOURCE, "SELECT review page"), store.engine.connect() as conn:
        rows = [_candidate(row) for row in conn.execute(query)]
    return rows[:first], len(rows) > first


async def review_count(store: IdentityStore, kind: str | None) -> int:
    return await asyncio.to_thread(_review_count, store, kind)


def _review_count(store: IdentityStore, kind: str | None) -> int:
    query = select(func.count()).select_from(t.review)
    if kind is not None:
        query = query.where(t.review.c.kind == kind)
    with upstream_call(IdentityStore.SOURCE, "SELECT review count"), store.engine.connect() as conn:
        return int(conn.scalar(query) or 0)


async def review_candidates(store: IdentityStore, ids: Sequence[int]) -> dict[int, ReviewCandidate]:
    """Open candidates by id (a decided one is gone)."""
    return await asyncio.to_thread(_review_candidates, store, list(ids))


def _review_candidates(store: IdentityStore, ids: list[int]) -> dict[int, ReviewCandidate]:
    query = select(t.review).where(t.review.c.id.in_(ids))
    with upstream_call(IdentityStore.SOURCE, "SELECT review by id"), store.engine.connect() as conn:
        return {row.id: _candidate(row) for row in conn.execute(query)}


async def person_links(store: IdentityStore, records: Sequence[SourceRecord]) -> dict[SourceRecord, list[Link]]:
    """For each person record: every record linked to the same golden person (itself included)."""
    return await asyncio.to_thread(_person_links, store, list(records))


def _person_links(store: IdentityStore, records: list[SourceRecord]) -> dict[SourceRecord, list[Link]]:
    asked = t.person_links.alias("asked")
    query = (
        select(
            asked.c.source.label("asked_source"), asked.c.source_id.label("asked_id"), t.persons.c.customer_id,
            t.person_links.c.source, t.person_links.c.source_id, t.person_links.c.rule, t.person_links.c.confidence,
            t.person_links.c.person_id,
        )
        .join(t.person_links, t.person_links.c.person_id == asked.c.person_id)
        .join(t.persons, t.persons.c.id == asked.c.person_id)
        .where(tuple_(asked.c.source, asked.c.source_id).in_(records))
    )  # fmt: skip
    found: defaultdict[SourceRecord, list[Link]] = defaultdict(list)
    with upstream_call(IdentityStore.SOURCE, "SELECT person links"), store.engine.connect() as conn:
        for row in conn.execute(query):
            found[(row.asked_source, row.asked_id)].append(
                # customer 0: the person is filed under no customer
                Link(customer_id=row.customer_id or 0, source=row.source, entity="person", source_id=row.source_id,
                     rule=row.rule, confidence=row.confidence, person_id=row.person_id)
            )  # fmt: skip
    return dict(found)


async def customer_of_person(store: IdentityStore, person_id: int) -> int | None:
    """The golden customer a golden person works for (following a merge), if known."""
    return await asyncio.to_thread(_customer_of_person, store, person_id)


def _customer_of_person(store: IdentityStore, person_id: int) -> int | None:
    survivor = select(t.aliases.c.survivor_id).where(t.aliases.c.kind == "person", t.aliases.c.old_id == person_id)
    with upstream_call(IdentityStore.SOURCE, "SELECT person"), store.engine.connect() as conn:
        person = conn.scalar(survivor) or person_id
        customer = conn.scalar(select(t.persons.c.customer_id).where(t.persons.c.id == person))
    return None if customer is None else int(customer)
