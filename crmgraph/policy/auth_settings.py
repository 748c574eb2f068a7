"""The ``auth:`` section of the configuration: how a request proves who it is.

    auth:
      jwt:
        jwks_file: var/demo/jwks.json        # or jwks_url: https://idp.example.com/.well-known/jwks.json
        issuer: https://idp.example.com/
        audience: crmgraph
        leeway_seconds: 30
      api_keys: true                         # keys made with `crmgraph apikey create`, kept hashed
      anonymous_role: null                   # a role for requests without credentials; null: 401

Keys from a JWKS sign with RS256 or ES256; ``hs256_secret`` (development only) with HS256. A verifier
accepts only the algorithms of the keys it holds, so a token cannot switch a public key into an HMAC
secret, and ``alg: none`` is never accepted.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JwtSettings(_Strict):
    jwks_file: str | None = Field(None, description="A JWKS file holding the public keys (RS256, ES256).")
    jwks_url: str | None = Field(None, description="A JWKS URL (fetched and cached; refreshed on an unknown kid).")
    hs256_secret: str | None = Field(
        None, min_length=32, description="A shared secret for HS256 (development only; at least 32 characters)."
    )
    issuer: str = Field(min_length=1, description="The `iss` every token must carry.")
    audience: str = Field(min_length=1, description="The `aud` every token must name.")
    leeway_seconds: int = Field(30, ge=0, le=300, description="Clock skew allowed on exp, nbf and iat.")
    roles_claim: str = Field("roles", min_length=1, description="The claim listing the subject's roles.")

    @model_validator(mode="after")
    def _one_key_source(self) -> JwtSettings:
        given = [name for name in ("jwks_file", "jwks_url", "hs256_secret") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(f"name exactly one of jwks_file, jwks_url, hs256_secret (got {given or 'none'})")
        return self


class AuthConfig(_Strict):
    jwt: JwtSettings | None = None
    api_keys: bool = Field(True, description="Accept API keys made with `crmgraph apikey create`.")
    anonymous_role: str | None = Field(
        None, description="The role of a request without credentials; null (the default) answers it 401."
    )
