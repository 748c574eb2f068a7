"""Who is asking: the principal every request resolves to, and why a request could not be resolved.

A principal is a subject, its roles and its attributes (owner id, team, countries: what row scopes are
written against). It comes from a JWT (:mod:`crmgraph.policy.tokens`), an API key
(:mod:`crmgraph.policy.api_keys`), or, when the configuration names one, the anonymous role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Via = Literal["jwt", "api_key", "anonymous", "service"]  # service: the facade's own workflows


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    via: Via
    attributes: Mapping[str, object] = field(default_factory=dict)

    def has_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)


class Unauthenticated(Exception):
    """The request carries no usable credentials; ``reason`` says which part failed, for the client.

    ``error`` follows RFC 6750: ``invalid_request`` (malformed), ``invalid_token`` (expired, forged,
    revoked), or None when no credentials came at all (the challenge then names only the scheme).
    """

    def __init__(self, reason: str, error: str | None = "invalid_token") -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error

    def challenge(self, realm: str = "crmgraph") -> str:
        """The ``WWW-Authenticate`` header value of the 401 answer."""
        if self.error is None:
            return f'Bearer realm="{realm}", ApiKey realm="{realm}"'
        description = self.reason.replace('"', "'")
        return f'Bearer realm="{realm}", error="{self.error}", error_description="{description}"'
