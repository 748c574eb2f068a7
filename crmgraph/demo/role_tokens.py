"""A token for each of the demo's roles, so that every view of the graph is one paste away.

The sales rep's token names a real owner: the CRM owner who holds the most customers in the demo's
identity store (identity resolution keeps every owner a customer's records name), so that their view is
neither empty nor everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from crmgraph.identity.store import IdentityStore
from crmgraph.identity.tables import match_keys
from crmgraph.policy.tokens import DEMO_AUDIENCE, DEMO_ISSUER, issue_development_token

ROLES = ("admin", "data_steward", "sales_rep", "service_agent", "marketing")
WHAT_EACH_SEES = {
    "admin": "everything, explain and the audit trail; may run every mutation",
    "data_steward": "every customer; may link, merge, split and review",
    "sales_rep": "only the customers the owner in the token holds",
    "service_agent": "every customer, no invoice amounts; may open, change and answer tickets",
    "marketing": "every customer, e-mail, phone and tax id masked",
}


@dataclass(frozen=True)
class RoleToken:
    role: str
    subject: str
    token: str
    claims: dict[str, object]


def busiest_owner(identity: IdentityStore) -> str | None:
    """The owner id most customers name, if any."""
    query = (
        select(match_keys.c.value)
        .where(match_keys.c.kind == "owner_id")
        .group_by(match_keys.c.value)
        .order_by(func.count().desc(), match_keys.c.value)
        .limit(1)
    )
    with identity.engine.connect() as conn:
        found = conn.scalar(query)
    return None if found is None else str(found)


def role_tokens(data_dir: Path, identity_url: str) -> list[RoleToken]:
    identity = IdentityStore(identity_url)
    try:
        owner = busiest_owner(identity)
    finally:
        identity.close()
    return [role_token(data_dir, role, owner) for role in ROLES]


def role_token(
    key_folder: Path, role: str, owner: str | None, issuer: str = DEMO_ISSUER, audience: str = DEMO_AUDIENCE
) -> RoleToken:
    """The development token of one demo role (subject ``demo-<role>``); a sales rep's names ``owner``."""
    claims: dict[str, object] = {"owner_id": owner} if role == "sales_rep" and owner is not None else {}
    subject = f"demo-{role.replace('_', '-')}"
    token = issue_development_token(key_folder, subject=subject, roles=[role], issuer=issuer, audience=audience,
                                    claims=claims)  # fmt: skip
    return RoleToken(role, subject, token, claims)
