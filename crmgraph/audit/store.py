"""The audit table: append-only rows, hash-chained per writer; reading, verifying and pruning them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
)

from crmgraph.audit.events import AuditEvent, chained_hash
from crmgraph.store_engine import store_engine

GENESIS = "0" * 64  # the "previous hash" of a chain's first row
metadata = MetaData()
audit_events = Table(
    "crmgraph_audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chain", String(40), nullable=False),
    Column("n", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", String(16), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("roles", Text, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("operation", String(200), nullable=False),
    Column("operation_hash", String(64), nullable=False),
    Column("client", String(64), nullable=False),
    Column("customers", Text, nullable=False),
    Column("fields", Text, nullable=False),
    Column("masked", Boolean, nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("chain", "n", name="crmgraph_audit_chain_position"),
    Index("crmgraph_audit_at", "at"),
)
# Which customers each event names, for `crmgraph audit --customer` (the event row keeps them too, hashed).
audit_customers = Table(
    "crmgraph_audit_customers",
    metadata,
    Column("event_id", Integer, nullable=False),
    Column("customer_id", Integer, nullable=False),
    Index("crmgraph_audit_customers_customer", "customer_id", "event_id"),
)


@dataclass(frozen=True)
class Problem:
    chain: str
    position: int
    what: str  # "edited", "missing", "broken link"

    def __str__(self) -> str:
        return f"chain {self.chain}, row {self.position}: {self.what}"


class AuditStore:
    def __init__(self, url: str) -> None:
        self.engine = store_engine(url)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def head(self, chain: str) -> tuple[int, str]:
        """(last position, its hash) of ``chain``; (0, genesis) for a new one."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(audit_events.c.n, audit_events.c.hash)
                .where(audit_events.c.chain == chain)
                .order_by(audit_events.c.n.desc())
                .limit(1)
            ).first()
        return (int(row.n), str(row.hash)) if row else (0, GENESIS)

    def append(self, chain: str, events: Sequence[AuditEvent], after: tuple[int, str]) -> tuple[int, str]:
        """Write ``events`` after position ``after`` of ``chain`` in one transaction; the new head."""
        position, previous = after
        rows: list[dict[str, Any]] = []
        for event in events:
            position += 1
            content = event.content()
            digest = chained_hash(chain, position, previous, content)
            rows.append(_row(chain, position, previous, digest, content, event.at))
            previous = digest
        if rows:
            with self.engine.begin() as conn:
                conn.execute(audit_events.insert(), rows)
                positions = select(audit_events.c.n, audit_events.c.id).where(
                    audit_events.c.chain == chain, audit_events.c.n > after[0]
                )
                ids = {int(n): int(event_id) for n, event_id in conn.execute(positions)}
                named = [{"event_id": ids[row["n"]], "customer_id": customer}
                         for row in rows for customer in orjson.loads(row["customers"])]  # fmt: skip
                if named:
                    conn.execute(audit_customers.insert(), named)
        return position, previous

    def events(
        self,
        *,
        customer: int | None = None,
        since: datetime | None = None,
        limit: int = 1000,
        after_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Events oldest first (by time, then id); ``after_id`` resumes after the event with that id."""
        query = select(audit_events).order_by(audit_events.c.at, audit_events.c.id).limit(limit)
        if after_id is not None:
            resume = select(audit_events.c.at).where(audit_events.c.id == after_id).scalar_subquery()
            query = query.where(
                (audit_events.c.at > resume) | ((audit_events.c.at == resume) & (audit_events.c.id > after_id))
            )
        query = _matching(query, customer, since)
        with self.engine.connect() as conn:
            rows = [dict(row) for row in conn.execute(query).mappings()]
        return [row | {k: orjson.loads(row[k]) for k in ("roles", "customers", "fields")} for row in rows]

    def count(self, *, customer: int | None = None, since: datetime | None = None) -> int:
        query = _matching(select(func.count()).select_from(audit_events), customer, since)
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def prune(self, before: datetime) -> int:
        """Delete the events older than ``before`` (the retention rule); the number deleted."""
        old = select(audit_events.c.id).where(audit_events.c.at < before)
        with self.engine.begin() as conn:
            conn.execute(delete(audit_customers).where(audit_customers.c.event_id.in_(old)))
            return int(conn.execute(delete(audit_events).where(audit_events.c.at < before)).rowcount)


def _matching(query: Select[Any], customer: int | None, since: datetime | None) -> Select[Any]:
    """``query`` kept to the events naming ``customer`` and from ``since`` on (either may be None)."""
    if since is not None:
        query = query.where(audit_events.c.at >= since)
    if customer is not None:
        naming = select(audit_customers.c.event_id).where(audit_customers.c.customer_id == customer)
        query = query.where(audit_events.c.id.in_(naming))
    return query


def _row(
    chain: str, position: int, previous: str, digest: str, content: dict[str, Any], at: datetime
) -> dict[str, Any]:
    return {
        "chain": chain, "n": position, "at": at, "action": content["action"], "subject": content["subject"],
        "roles": orjson.dumps(content["roles"]).decode(), "request_id": content["request_id"],
        "operation": content["operation"], "operation_hash": content["operation_hash"], "client": content["client"],
        "customers": orjson.dumps(content["customers"]).decode(), "fields": orjson.dumps(content["fields"]).decode(),
        "masked": content["masked"], "outcome": content["outcome"], "prev_hash": previous, "hash": digest,
    }  # fmt: skip


def verify(store: AuditStore) -> list[Problem]:
    """Every edited, missing or re-linked row of every chain (an empty list: the trail is intact)."""
    problems: list[Problem] = []
    with store.engine.connect() as conn:
        rows = conn.execute(select(audit_events).order_by(audit_events.c.chain, audit_events.c.n)).mappings()
        chain, expected_position, previous = None, 0, GENESIS
        for row in rows:
            if row["chain"] != chain:
                # A chain may begin anywhere (its head pruned by retention); from there on it must hold.
                chain, expected_position, previous = row["chain"], row["n"], row["prev_hash"]
            if row["n"] != expected_position:
                problems.append(Problem(row["chain"], expected_position, f"missing (next found: {row['n']})"))
            elif row["prev_hash"] != previous:
                problems.append(Problem(row["chain"], row["n"], "broken link"))
            content = _event_of(row).content()  # the stored row read back into the form its hash covers
            if chained_hash(row["chain"], row["n"], row["prev_hash"], content) != row["hash"]:
                problems.append(Problem(row["chain"], row["n"], "edited"))
            expected_position, previous = row["n"] + 1, row["hash"]
    return problems


def _event_of(row: Any) -> AuditEvent:
    return AuditEvent(
        action=row["action"], subject=row["subject"], roles=tuple(orjson.loads(row["roles"])),
        request_id=row["request_id"], operation=row["operation"], operation_hash=row["operation_hash"],
        client=row["client"], customers=tuple(orjson.loads(row["customers"])),
        fields=tuple(orjson.loads(row["fields"])), masked=bool(row["masked"]), outcome=row["outcome"],
        at=_aware(row["at"]),
    )  # fmt: skip


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
