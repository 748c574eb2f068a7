"""Sign in to the console as one of the demo's roles: the role's development token, issued on request.

Only when ``console.demo_sign_in`` is on (the demo's configuration; refused in production mode) and the
development signing key lies beside the configured ``auth.jwt.jwks_file`` (``crmgraph demo`` makes it
there). The tokens are the ones ``crmgraph demo`` prints: the same subjects, the sales rep's ``owner_id``
claim naming the busiest owner, so a role signed in here sees what the printed token sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crmgraph.config import Config
from crmgraph.demo.role_tokens import ROLES, WHAT_EACH_SEES, RoleToken, busiest_owner, role_token
from crmgraph.identity.store import IdentityStore
from crmgraph.policy.tokens import JWKS_FILE, PRIVATE_KEY_FILE

# The demo's roles in the order the sign-in page lists them; sales_manager only where the policy has it.
OFFERED = (*ROLES, "sales_manager")
DESCRIPTIONS = {**WHAT_EACH_SEES, "sales_manager": "places leads by hand (leadAssign, leadReassign)"}


class DemoSignInUnavailable(Exception):
    """Why the console issues no demo token here (a sentence for the sign-in page)."""


@dataclass(frozen=True)
class DemoRole:
    role: str
    description: str


class DemoSignIn:
    """The demo roles a configuration offers, and their tokens."""

    def __init__(self, config: Config, identity: Callable[[], IdentityStore]) -> None:
        self._config = config
        self._identity = identity

    def unavailable(self) -> str | None:
        """Why no demo sign-in is offered, or None when it is."""
        if not self._config.console.demo_sign_in:
            return "demo sign-in is off (console.demo_sign_in)"
        if self._config.server.production:
            return "demo sign-in is never offered in production mode"
        folder = self._key_folder()
        if folder is None:
            return f"demo sign-in needs auth.jwt.jwks_file naming the demo's {JWKS_FILE} (its development key)"
        if not (folder / PRIVATE_KEY_FILE).exists():
            return f"no development signing key in {folder} (crmgraph demo makes it)"
        return None

    def roles(self) -> list[DemoRole]:
        if self.unavailable() is not None:
            return []
        configured = self._config.policy.roles
        return [DemoRole(role, DESCRIPTIONS[role]) for role in OFFERED if role in configured]

    def issue(self, role: str) -> RoleToken:
        """The development token of ``role``; :class:`DemoSignInUnavailable` if none may be issued, KeyError
        for a role the page does not offer."""
        why = self.unavailable()
        if why is not None:
            raise DemoSignInUnavailable(why)
        if role not in {offered.role for offered in self.roles()}:
            raise KeyError(role)
        jwt = self._config.auth.jwt
        folder = self._key_folder()
        assert jwt is not None and folder is not None  # unavailable() said so
        owner = busiest_owner(self._identity()) if role == "sales_rep" else None
        return role_token(folder, role, owner, issuer=jwt.issuer, audience=jwt.audience)

    def _key_folder(self) -> Path | None:
        jwt = self._config.auth.jwt
        if jwt is None or jwt.jwks_file is None or Path(jwt.jwks_file).name != JWKS_FILE:
            return None  # the development key pair is a private key beside a jwks.json (ensure_development_key)
        return Path(jwt.jwks_file).parent
