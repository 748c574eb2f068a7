"""API keys for services that cannot hold a JWT: made with ``crmgraph apikey create``, kept hashed.

A key reads ``cg_<key id>_<secret>``. The store keeps the key id, a SHA-256 of the secret (the secret is
256 random bits, so a fast hash suffices: there is nothing to guess), the subject, roles and attributes,
and when it was made and revoked. The key itself is shown once, when it is made. A revoked key stops
working at once; its row stays, so the audit trail can still name whose it was.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, create_engine, select, update

from crmgraph.policy.principal import Principal, Unauthenticated

PREFIX = "cg"
metadata = MetaData()
api_keys = Table(
    "crmgraph_api_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("roles", Text, nullable=False),  # JSON list
    Column("attributes", Text, nullable=False),  # JSON object
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("note", String(500), nullable=False, default=""),
)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    subject: str
    roles: list[str]
    attributes: dict[str, Any]
    created_at: datetime
    revoked_at: datetime | None
    note: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyStore:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def create(
        self, subject: str, roles: list[str], attributes: dict[str, Any] | None = None, note: str = ""
    ) -> tuple[ApiKey, str]:
        """The new key's record and the key itself (shown once, never stored)."""
        if not subject.strip():
            raise ValueError("subject: a key needs a subject (who or what uses it)")
        if not roles or not all(role.strip() for role in roles):
            raise ValueError("roles: name at least one role")
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        row = {"key_id": key_id, "secret_sha256": _digest(secret), "subject": subject, "note": note,
               "roles": orjson.dumps(roles).decode(), "attributes": orjson.dumps(attributes or {}).decode(),
               "created_at": datetime.now(UTC), "revoked_at": None}  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(api_keys.insert().values(**row))
        return self._record(row), f"{PREFIX}_{key_id}_{secret}"

    def list(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).mappings().all()
        return [self._record(dict(row)) for row in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke the key; False when there is no such key or it was revoked already."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        return bool(done.rowcount)

    def verify(self, presented: str) -> Principal:
        prefix, _, rest = presented.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != PREFIX or len(key_id) != 16 or not secret:
            raise Unauthenticated("the API key is malformed (expected cg_<key id>_<secret>)", "invalid_request")
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
        # Compared in constant time, and the same answer for an unknown key and a wrong secret.
        if row is None or not hmac.compare_digest(row["secret_sha256"], _digest(secret)):
            raise Unauthenticated("the API key is not valid")
        if row["revoked_at"] is not None:
            raise Unauthenticated("the API key has been revoked")
        record = self._record(dict(row))
        return Principal(record.subject, frozenset(record.roles), "api_key", record.attributes)

    @staticmethod
    def _record(row: dict[str, Any]) -> ApiKey:
        return ApiKey(row["key_id"], row["subject"], orjson.loads(row["roles"]), orjson.loads(row["attributes"]),
                      row["created_at"], row["revoked_at"], row.get("note") or "")  # fmt: skip
