"""What a data steward can do: link, unlink, merge, split, and decide review candidates.

Each action takes effect at once (the graph reads links on every request) and is recorded as a decision
with who, when and why, together with the pairs of records it keeps together or apart: every later
``crmgraph link`` obeys them (:mod:`crmgraph.identity.decisions`). Ids a merge absorbs become aliases of
the survivor, so ``node(id)`` keeps answering for them.

Every action runs in one transaction; a mistake in its input raises :class:`StewardError` naming the
input field at fault, and nothing is written.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from crmgraph.identity import decisions as steward
from crmgraph.identity import tables as t
from crmgraph.identity.decisions import Decision
from crmgraph.identity.persist import utcnow
from crmgraph.identity.profiles import SourceRecord
from crmgraph.identity.store import IdentityStore


class StewardError(Exception):
    """A steward's request that cannot be carried out: which input, what is wrong, a machine code."""

    def __init__(self, field: str, message: str, code: str = "INVALID") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


@dataclass(frozen=True)
class ReviewCandidate:
    id: int
    kind: str
    left: SourceRecord
    right: SourceRecord
    probability: float
    weight: float
    why: str
    evidence: list[dict[str, Any]]
    created_at: datetime


class Stewardship:
    """Steward actions against one identity store (blocking calls: run them in a worker thread)."""

    def __init__(self, store: IdentityStore) -> None:
        self.store = store

    # --- companies ---------------------------------------------------------------------------------

    def link(self, customer_id: int, records: Sequence[SourceRecord], actor: str, reason: str) -> int:
        """Put ``records`` into ``customer_id`` (from wherever they are); returns the customer id."""
        if not records:
            raise StewardError("records", "name at least one record to link")
        with self.store.engine.begin() as conn:
            customer = _existing_customer(conn, customer_id, "customerId")
            current = _customers_of(conn, records, "records")
            anchor = _anchor(conn, customer, exclude=frozenset(records))
            moved = [record for record in records if current[record] != customer]
            pairs = [(anchor, record) for record in records] if anchor else list(itertools.pairwise(records))
            _move(conn, moved, customer)
            _retire_emptied(conn, {current[record] for record in moved}, customer)
            steward.record(conn, _decision("link", actor, reason, customer=customer, records=records), pairs,
                           at=utcnow())  # fmt: skip
            return customer

    def unlink(self, record: SourceRecord, actor: str, reason: str) -> int:
        """Take ``record`` out of its customer into a new one of its own; returns the new customer id."""
        with self.store.engine.begin() as conn:
            old = _customers_of(conn, [record], "record")[record]
            others = [other for other in _records_of(conn, old) if other != record]
            if not others:
                raise StewardError("record", f"{_name(record)} is the only record of its customer already")
            new = _new_customer(conn)
            _move(conn, [record], new)
            apart = [(record, other) for other in others]
            steward.record(conn, _decision("unlink", actor, reason, customer=old, records=[record]), apart=apart,
                           at=utcnow())  # fmt: skip
            return new

    def merge(self, survivor_id: int, absorbed_ids: Sequence[int], actor: str, reason: str) -> int:
        """Fold ``absorbed_ids`` into ``survivor_id``; absorbed ids keep resolving to the survivor."""
        absorbed_unique = list(dict.fromkeys(absorbed_ids))
        if not absorbed_unique:
            raise StewardError("absorbedIds", "name at least one customer to merge into the survivor")
        with self.store.engine.begin() as conn:
            survivor = _existing_customer(conn, survivor_id, "survivorId")
            absorbed = [_existing_customer(conn, cid, f"absorbedIds.{n}") for n, cid in enumerate(absorbed_unique)]
            if survivor in absorbed:
                raise StewardError("absorbedIds", "a customer cannot absorb itself")
            anchor = _anchor(conn, survivor)
            pairs = []
            for cid in absorbed:
                other = _anchor(conn, cid)
                if anchor and other:
                    pairs.append((anchor, other))
                _move(conn, _records_of(conn, cid), survivor)
            _retire_emptied(conn, set(absorbed), survivor)
            steward.record(conn, _decision("merge", actor, reason, customer=survivor, absorbed=absorbed), pairs,
                           at=utcnow())  # fmt: skip
            return survivor

    def split(self, customer_id: int, records: Sequence[SourceRecord], actor: str, reason: str) -> int:
        """Move ``records`` out of ``customer_id`` into one new customer; returns the new customer's id."""
        if not records:
            raise StewardError("records", "name the records that form the new customer")
        with self.store.engine.begin() as conn:
            customer = _existing_customer(conn, customer_id, "customerId")
            current = _customers_of(conn, records, "records")
            for position, record in enumerate(records):
                if current[record] != customer:
                    raise StewardError(f"records.{position}", f"{_name(record)} is not a record of this customer")
            staying = [other for other in _records_of(conn, customer) if other not in set(records)]
            if not staying:
                raise StewardError("records", "leave at least one record with the customer; to rename it, don't split")
            new = _new_customer(conn)
            _move(conn, list(records), new)
            apart = [(a, b) for a in records for b in staying]
            together = list(itertools.pairwise(records))
            steward.record(conn, _decision("split", actor, reason, customer=customer, new=new, records=records),
                           together, apart, at=utcnow())  # fmt: skip
            return new

    # --- review candidates -------------------------------------------------------------------------

    def candidates(self, kind: str | None, first: int, after: int | None) -> tuple[list[ReviewCandidate], bool]:
        """Open candidates, strongest first (by match weight, then id); ``after`` is a candidate id."""
        query = select(t.review).order_by(t.review.c.weight.desc(), t.review.c.id)
        if kind is not None:
            query = query.where(t.review.c.kind == kind)
        with self.store.engine.connect() as conn:
            rows = [_candidate(row) for row in conn.execute(query)]
        if after is not None:
            position = next((n for n, row in enumerate(rows) if row.id == after), None)
            if position is None:
                raise StewardError("after", "this cursor names a candidate that was decided or replaced")
            rows = rows[position + 1 :]
        return rows[:first], len(rows) > first

    def candidate_count(self, kind: str | None) -> int:
        query = select(func.count()).select_from(t.review)
        if kind is not None:
            query = query.where(t.review.c.kind == kind)
        with self.store.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def accept(self, candidate_id: int, actor: str, reason: str) -> int:
        """The pair is one customer (or person): their golden records are merged; returns the golden id."""
        with self.store.engine.begin() as conn:
            candidate = _open_candidate(conn, candidate_id)
            pair = (candidate.left, candidate.right)
            if candidate.kind == "company":
                golden = set(_customers_of(conn, list(pair), "id").values())
                survivor = min(golden)  # the older customer absorbs the newer
                for cid in golden - {survivor}:
                    _move(conn, _records_of(conn, cid), survivor)
                _retire_emptied(conn, golden - {survivor}, survivor)
            else:
                survivor = _merge_persons(conn, candidate.left, candidate.right)
            conn.execute(delete(t.review).where(t.review.c.id == candidate_id))
            steward.record(conn, _decision("accept", actor, reason, candidate=candidate_id, kind=candidate.kind),
                           [pair], at=utcnow())  # fmt: skip
            return survivor

    def reject(self, candidate_id: int, actor: str, reason: str) -> None:
        """The pair is not the same: it is never linked by the matcher again."""
        with self.store.engine.begin() as conn:
            candidate = _open_candidate(conn, candidate_id)
            conn.execute(delete(t.review).where(t.review.c.id == candidate_id))
            steward.record(conn, _decision("reject", actor, reason, candidate=candidate_id, kind=candidate.kind),
                           apart=[(candidate.left, candidate.right)], at=utcnow())  # fmt: skip


def _decision(action: str, actor: str, reason: str, **detail: Any) -> Decision:
    kind = str(detail.get("kind", "company"))
    return Decision(kind=kind, action=action, actor=actor, reason=reason, detail=detail)


def _name(record: SourceRecord) -> str:
    return f"{record[0]}/{record[1]}"


def _existing_customer(conn: Connection, customer_id: int, field: str) -> int:
    """The customer's id, following an alias of a merged customer; an error naming ``field`` if unknown."""
    if conn.scalar(select(t.customers.c.id).where(t.customers.c.id == customer_id)) is not None:
        return customer_id
    survivor = conn.scalar(
        select(t.aliases.c.survivor_id).where(t.aliases.c.kind == "customer", t.aliases.c.old_id == customer_id)
    )
    if survivor is None:
        raise StewardError(field, f"no customer has the id {customer_id}", "NOT_FOUND")
    return int(survivor)


def _customers_of(conn: Connection, records: Sequence[SourceRecord], field: str) -> dict[SourceRecord, int]:
    found: dict[SourceRecord, int] = {}
    for position, record in enumerate(records):
        customer = conn.scalar(
            select(t.links.c.customer_id).where(
                t.links.c.source == record[0], t.links.c.entity == "party", t.links.c.source_id == record[1]
            )
        )
        if customer is None:
            where = field if len(records) == 1 and field != "records" else f"{field}.{position}"
            raise StewardError(
                where, f"no linked record {_name(record)}; run `crmgraph link` if it is new", "NOT_FOUND"
            )
        found[record] = int(customer)
    return found


def _records_of(conn: Connection, customer_id: int) -> list[SourceRecord]:
    rows = conn.execute(
        select(t.links.c.source, t.links.c.source_id)
        .where(t.links.c.customer_id == customer_id, t.links.c.entity == "party")
        .order_by(t.links.c.source, t.links.c.source_id)
    )
    return [(row.source, row.source_id) for row in rows]


def _anchor(conn: Connection, customer_id: int, exclude: frozenset[SourceRecord] = frozenset()) -> SourceRecord | None:
    """A record that stands for the customer in a decision's pairs."""
    return next((record for record in _records_of(conn, customer_id) if record not in exclude), None)


def _move(conn: Connection, records: Sequence[SourceRecord], customer_id: int) -> None:
    now = utcnow()
    for source, source_id in records:
        conn.execute(
            update(t.links)
            .where(t.links.c.source == source, t.links.c.entity == "party", t.links.c.source_id == source_id)
            .values(customer_id=customer_id, rule="steward", confidence=1.0, linked_at=now)
        )


def _new_customer(conn: Connection) -> int:
    highest = max(conn.scalar(select(func.max(t.customers.c.id))) or 0,
                  conn.scalar(select(func.max(t.aliases.c.old_id))) or 0)  # fmt: skip
    new = int(highest) + 1
    conn.execute(t.customers.insert().values(id=new, created_at=utcnow()))
    return new


def _retire_emptied(conn: Connection, customers: set[int], survivor: int) -> None:
    """Customers left without records are absorbed by ``survivor``: aliases, match keys and people follow."""
    now = utcnow()
    for customer in sorted(customers - {survivor}):
        if _records_of(conn, customer):
            continue
        conn.execute(update(t.match_keys).where(t.match_keys.c.customer_id == customer).values(customer_id=survivor))
        conn.execute(update(t.persons).where(t.persons.c.customer_id == customer).values(customer_id=survivor))
        following = (t.aliases.c.kind == "customer") & (t.aliases.c.survivor_id == customer)
        conn.execute(update(t.aliases).where(following).values(survivor_id=survivor))
        conn.execute(t.aliases.insert().values(kind="customer", old_id=customer, survivor_id=survivor, at=now))
        conn.execute(delete(t.customers).where(t.customers.c.id == customer))


def _person_of(conn: Connection, record: SourceRecord) -> int:
    person = conn.scalar(
        select(t.person_links.c.person_id).where(
            t.person_links.c.source == record[0], t.person_links.c.source_id == record[1]
        )
    )
    if person is None:
        raise StewardError("id", f"no linked person record {_name(record)}", "NOT_FOUND")
    return int(person)


def _merge_persons(conn: Connection, left: SourceRecord, right: SourceRecord) -> int:
    a, b = _person_of(conn, left), _person_of(conn, right)
    if a == b:
        return a
    survivor, absorbed = min(a, b), max(a, b)
    conn.execute(
        update(t.person_links).where(t.person_links.c.person_id == absorbed).values(person_id=survivor, rule="steward")
    )
    following = (t.aliases.c.kind == "person") & (t.aliases.c.survivor_id == absorbed)
    conn.execute(update(t.aliases).where(following).values(survivor_id=survivor))
    conn.execute(t.aliases.insert().values(kind="person", old_id=absorbed, survivor_id=survivor, at=utcnow()))
    conn.execute(delete(t.persons).where(t.persons.c.id == absorbed))
    return survivor


def _candidate(row: Any) -> ReviewCandidate:
    return ReviewCandidate(
        id=row.id, kind=row.kind, left=(row.left_source, row.left_id), right=(row.right_source, row.right_id),
        probability=row.probability, weight=row.weight, why=row.why, evidence=json.loads(row.evidence),
        created_at=row.created_at,
    )  # fmt: skip


def _open_candidate(conn: Connection, candidate_id: int) -> ReviewCandidate:
    row = conn.execute(select(t.review).where(t.review.c.id == candidate_id)).first()
    if row is None:
        raise StewardError("id", f"no open review candidate {candidate_id}; it was decided or replaced", "NOT_FOUND")
    return _candidate(row)
