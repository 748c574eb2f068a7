"""From a request's headers to its principal: a bearer JWT, an API key, or the configured anonymous role.

    Authorization: Bearer <JWT>
    Authorization: ApiKey cg_<key id>_<secret>      (or X-Api-Key: cg_..., or Bearer cg_...)

Without credentials the request is refused (401 with a ``WWW-Authenticate`` challenge) unless the
configuration names an anonymous role.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from crmgraph.policy.api_keys import PREFIX, ApiKeyStore
from crmgraph.policy.auth_settings import AuthConfig
from crmgraph.policy.principal import Principal, Unauthenticated
from crmgraph.policy.tokens import TokenVerifier

ANONYMOUS_SUBJECT = "anonymous"


class Authenticator:
    def __init__(self, config: AuthConfig, api_keys: ApiKeyStore | None = None, base_dir: Path | None = None) -> None:
        self.config = config
        self.api_keys = api_keys if config.api_keys else None
        self.tokens = TokenVerifier(config.jwt, base_dir) if config.jwt is not None else None

    def principal(self, headers: Mapping[str, str]) -> Principal:
        """The principal of a request (header names in lower case, as ASGI gives them)."""
        authorization = headers.get("authorization", "").strip()
        if authorization:
            scheme, _, credentials = authorization.partition(" ")
            credentials = credentials.strip()
            if not credentials:
                raise Unauthenticated(f"the Authorization header names {scheme!r} but carries no credentials",
                                      "invalid_request")  # fmt: skip
            if scheme.lower() == "apikey" or (scheme.lower() == "bearer" and credentials.startswith(f"{PREFIX}_")):
                return self._api_key(credentials)
            if scheme.lower() == "bearer":
                if self.tokens is None:
                    raise Unauthenticated("this server accepts no JWTs (no auth.jwt configured)")
                return self.tokens.verify(credentials)
            raise Unauthenticated(f"the authorization scheme {scheme!r} is not supported (Bearer, ApiKey)",
                                  "invalid_request")  # fmt: skip
        api_key = headers.get("x-api-key", "").strip()
        if api_key:
            return self._api_key(api_key)
        if self.config.anonymous_role is not None:
            return Principal(ANONYMOUS_SUBJECT, frozenset({self.config.anonymous_role}), "anonymous")
        raise Unauthenticated("no credentials: send Authorization: Bearer <JWT> or an API key", error=None)

    def _api_key(self, presented: str) -> Principal:
        if self.api_keys is None:
            raise Unauthenticated("this server accepts no API keys (auth.api_keys is off)")
        return self.api_keys.verify(presented)
