"""Writing a linking run into the store, in one transaction: a failed run changes nothing.

Only what changed is written: links whose golden id, rule or confidence moved, golden ids created or
absorbed (absorbed ids become aliases), match keys of the customers whose records changed, and the
review queue, which each run replaces (pairs a steward already decided never re-enter it).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Table, bindparam, delete, func, select, update

from crmgraph.identity import tables as t
from crmgraph.identity.fellegi_sunter import Model
from crmgraph.identity.golden_ids import Assignment, assign
from crmgraph.identity.matcher import MatchResult
from crmgraph.identity.profiles import Profile, SourceRecord, Value
from crmgraph.identity.settings import SET_FIELDS

T = TypeVar("T")
CHUNK = 900  # ids per IN (...): under SQLite's default limit of bound parameters


@dataclass(frozen=True)
class LinkRow:
    golden_id: int
    rule: str
    confidence: float


@dataclass
class KindReport:
    records: int = 0
    golden: int = 0
    new: int = 0
    absorbed: int = 0
    links_written: int = 0
    review: int = 0
    by_rule: dict[str, int] | None = None


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def current_links(conn: Connection, kind: str) -> dict[SourceRecord, LinkRow]:
    if kind == "company":
        query = select(t.links.c.source, t.links.c.source_id, t.links.c.customer_id.label("golden"),
                       t.links.c.rule, t.links.c.confidence).where(t.links.c.entity == "party")  # fmt: skip
    else:
        query = select(t.person_links.c.source, t.person_links.c.source_id,
                       t.person_links.c.person_id.label("golden"), t.person_links.c.rule,
                       t.person_links.c.confidence)  # fmt: skip
    return {(r.source, r.source_id): LinkRow(r.golden, r.rule, r.confidence) for r in conn.execute(query)}


def _next_id(conn: Connection, table: Table) -> int:
    highest = conn.scalar(select(func.max(table.c.id))) or 0
    absorbed = conn.scalar(select(func.max(t.aliases.c.old_id))) or 0
    return int(max(highest, absorbed)) + 1  # an absorbed id is never handed out again


def _labels(result: MatchResult) -> dict[int, list[SourceRecord]]:
    """Cluster label -> its records, the clusters most systems know first (then the larger, then by their
    first record): new golden ids are handed out in this order, so that the default listing of customers
    opens with the ones every system has a record of."""
    clusters: dict[int, list[SourceRecord]] = {}
    for row, profile in enumerate(result.profiles):
        clusters.setdefault(int(result.labels[row]), []).append(profile.key)

    def connected_first(item: tuple[int, list[SourceRecord]]) -> tuple[int, int, SourceRecord]:
        members = item[1]
        return (-len({source for source, _ in members}), -len(members), min(members))

    return dict(sorted(clusters.items(), key=connected_first))


def write_links(
    conn: Connection, kind: str, result: MatchResult, now: datetime, parents: Mapping[int, int | None] | None = None
) -> tuple[Assignment[int], KindReport]:
    """Golden ids and links of one kind. ``parents``: for persons, cluster label -> golden customer id."""
    golden_table = t.customers if kind == "company" else t.persons
    alias_kind = "customer" if kind == "company" else "person"
    existing = current_links(conn, kind)
    clusters = _labels(result)
    assignment = assign(clusters, {key: row.golden_id for key, row in existing.items()}, _next_id(conn, golden_table))
    report = KindReport(records=len(result.profiles), golden=len(clusters), new=len(assignment.new))
    rows: list[dict[str, Any]] = []
    for row, profile in enumerate(result.profiles):
        joined = result.joined[row]
        wanted = LinkRow(assignment.ids[int(result.labels[row])], joined.rule, round(joined.confidence, 6))
        if existing.get(profile.key) != wanted:
            rows.append({"source": profile.source, "source_id": profile.source_id, "golden": wanted.golden_id,
                         "rule": wanted.rule, "confidence": wanted.confidence})  # fmt: skip
    by_rule: defaultdict[str, int] = defaultdict(int)
    for joined in result.joined:
        by_rule[joined.rule] += 1
    report.by_rule = dict(by_rule)

    if assignment.new:
        values: list[dict[str, Any]] = [{"id": golden, "created_at": now} for golden in assignment.new]
        if kind == "person":
            for value in values:
                value["customer_id"] = None
        for part in chunks(values, 5000):
            conn.execute(golden_table.insert(), list(part))
    _replace_links(conn, kind, rows, now, existing)
    report.links_written = len(rows)
    if kind == "person" and parents is not None:
        _set_person_customers(conn, {assignment.ids[label]: customer for label, customer in parents.items()})
    _retire(conn, golden_table, alias_kind, assignment.retired, now)
    report.absorbed = sum(1 for survivor in assignment.retired.values() if survivor is not None)
    return assignment, report


def _replace_links(
    conn: Connection, kind: str, rows: list[dict[str, Any]], now: datetime, existing: Mapping[SourceRecord, LinkRow]
) -> None:
    by_source: defaultdict[str, list[str]] = defaultdict(list)
    for row in rows:
        if (row["source"], row["source_id"]) in existing:  # a record seen for the first time has no link yet
            by_source[row["source"]].append(row["source_id"])
    table = t.links if kind == "company" else t.person_links
    for source, ids in by_source.items():
        for part in chunks(ids):
            condition = (table.c.source == source) & table.c.source_id.in_(part)
            if kind == "company":
                condition = condition & (table.c.entity == "party")
            conn.execute(delete(table).where(condition))
    golden_column = "customer_id" if kind == "company" else "person_id"
    inserts = [
        {golden_column: row["golden"], "source": row["source"], "source_id": row["source_id"], "rule": row["rule"],
         "confidence": row["confidence"], "linked_at": now}
        | ({"entity": "party"} if kind == "company" else {})
        for row in rows
    ]  # fmt: skip
    for rows_part in chunks(inserts, 5000):
        conn.execute(table.insert(), list(rows_part))


_SET_CUSTOMER = update(t.persons).where(t.persons.c.id == bindparam("person")).values(customer_id=bindparam("customer"))


def _set_person_customers(conn: Connection, customer_of: Mapping[int, int | None]) -> None:
    """Each person's customer, where it changed: one statement run for every such person."""
    current = {row.id: row.customer_id for row in conn.execute(select(t.persons.c.id, t.persons.c.customer_id))}
    changed = [
        {"person": person, "customer": customer}
        for person, customer in customer_of.items()
        if current.get(person, -1) != customer
    ]
    for part in chunks(changed, 5000):
        conn.execute(_SET_CUSTOMER, list(part))


def _retire(conn: Connection, table: Table, kind: str, retired: Mapping[int, int | None], now: datetime) -> None:
    """Remove absorbed golden ids; each becomes an alias of its survivor, and aliases to it follow along."""
    if not retired:
        return
    ids = sorted(retired)
    for part in chunks(ids):
        if table is t.customers:
            conn.execute(delete(t.match_keys).where(t.match_keys.c.customer_id.in_(part)))
            conn.execute(update(t.persons).where(t.persons.c.customer_id.in_(part)).values(customer_id=None))
        conn.execute(delete(table).where(table.c.id.in_(part)))
    for old, survivor in retired.items():
        if survivor is None:
            continue
        conn.execute(
            update(t.aliases)
            .where(t.aliases.c.kind == kind, t.aliases.c.survivor_id == old)
            .values(survivor_id=survivor)
        )
        conn.execute(delete(t.aliases).where(t.aliases.c.kind == kind, t.aliases.c.old_id == old))
        conn.execute(t.aliases.insert().values(kind=kind, old_id=old, survivor_id=survivor, at=now))


def write_match_keys(conn: Connection, keys: Mapping[int, set[tuple[str, str]]], new: Iterable[int] = ()) -> None:
    """Replace the search keys of the given customers (``new`` ones have none to replace)."""
    ids = sorted(keys)
    fresh = set(new)
    for part in chunks([cid for cid in ids if cid not in fresh]):
        conn.execute(delete(t.match_keys).where(t.match_keys.c.customer_id.in_(part)))
    rows = [{"customer_id": cid, "kind": kind, "value": value[:255]} for cid in ids for kind, value in keys[cid]]
    for rows_part in chunks(rows, 5000):
        conn.execute(t.match_keys.insert(), list(rows_part))


def write_review(
    conn: Connection,
    kind: str,
    result: MatchResult,
    decided: set[frozenset[SourceRecord]],
    now: datetime,
    touching: set[SourceRecord] | None = None,
) -> int:
    """Replace the open review queue of ``kind`` with this run's candidates (undecided pairs only); with
    ``touching``, only the candidates that involve those records."""
    if touching is None:
        conn.execute(delete(t.review).where(t.review.c.kind == kind))
    else:
        for source, source_id in touching:
            involved = ((t.review.c.left_source == source) & (t.review.c.left_id == source_id)) | (
                (t.review.c.right_source == source) & (t.review.c.right_id == source_id)
            )
            conn.execute(delete(t.review).where((t.review.c.kind == kind) & involved))
    rows: list[dict[str, Any]] = []
    for candidate in result.review:
        left, right = result.profiles[candidate.left], result.profiles[candidate.right]
        if frozenset((left.key, right.key)) in decided:
            continue
        if touching is not None and left.key not in touching and right.key not in touching:
            continue
        evidence = [vars(item) for item in result.explain(candidate.row)]
        rows.append(
            {"kind": kind, "left_source": left.source, "left_id": left.source_id, "right_source": right.source,
             "right_id": right.source_id, "probability": candidate.probability, "weight": candidate.weight,
             "why": candidate.why, "evidence": json.dumps(evidence, ensure_ascii=False), "created_at": now}
        )  # fmt: skip
    for part in chunks(rows, 2000):
        conn.execute(t.review.insert(), list(part))
    return len(rows)


def write_model(conn: Connection, kind: str, model: Model, now: datetime) -> None:
    conn.execute(delete(t.models).where(t.models.c.kind == kind))
    conn.execute(t.models.insert().values(kind=kind, params=json.dumps(model.to_json()), fitted_at=now))


def read_model(conn: Connection, kind: str) -> Model | None:
    params = conn.scalar(select(t.models.c.params).where(t.models.c.kind == kind))
    return Model.from_json(json.loads(params)) if params else None


def utcnow() -> datetime:
    return datetime.now(UTC)


def _profile_json(profile: Profile) -> str:
    values = {
        name: sorted(value) if isinstance(value, frozenset) else value
        for name, value in profile.values.items()
        if name != "customer"  # derived in each run from the company match
    }
    return orjson.dumps({"v": values, "x": [list(x) for x in profile.xrefs], "p": profile.parent}).decode()


def profile_from_json(kind: str, source: str, source_id: str, text: str) -> Profile:
    data = json.loads(text)
    values: dict[str, Value] = {
        name: frozenset(value) if name in SET_FIELDS and value is not None else value
        for name, value in data["v"].items()
    }
    parent = tuple(data["p"]) if data.get("p") else None
    xrefs = tuple((a, b) for a, b in data.get("x", ()))
    return Profile(source, source_id, values, xrefs, parent)


def write_profiles(conn: Connection, kind: str, profiles: Sequence[Profile], *, replace_all: bool) -> None:
    """Keep each record's match fields for incremental runs (all of a kind, or just these records)."""
    if replace_all:
        conn.execute(delete(t.profiles).where(t.profiles.c.kind == kind))
    else:
        by_source: defaultdict[str, list[str]] = defaultdict(list)
        for profile in profiles:
            by_source[profile.source].append(profile.source_id)
        for source, ids in by_source.items():
            for part in chunks(ids):
                condition = (t.profiles.c.kind == kind) & (t.profiles.c.source == source)
                conn.execute(delete(t.profiles).where(condition & t.profiles.c.source_id.in_(part)))
    rows = [{"kind": kind, "source": p.source, "source_id": p.source_id, "fields": _profile_json(p)} for p in profiles]
    for rows_part in chunks(rows, 5000):
        conn.execute(t.profiles.insert(), list(rows_part))


def read_profiles(conn: Connection, kind: str) -> list[Profile]:
    rows = conn.execute(
        select(t.profiles.c.source, t.profiles.c.source_id, t.profiles.c.fields).where(t.profiles.c.kind == kind)
    )
    return [profile_from_json(kind, row.source, row.source_id, row.fields) for row in rows]


def write_watermarks(conn: Connection, marks: Mapping[tuple[str, str], str], now: datetime) -> None:
    for (source, entity), value in marks.items():
        conn.execute(delete(t.watermarks).where(t.watermarks.c.source == source, t.watermarks.c.entity == entity))
        conn.execute(t.watermarks.insert().values(source=source, entity=entity, value=value, at=now))


def read_watermarks(conn: Connection) -> dict[tuple[str, str], str]:
    return {(r.source, r.entity): r.value for r in conn.execute(select(t.watermarks))}
