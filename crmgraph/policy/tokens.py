"""JWTs: verified into principals with PyJWT, and issued with a development key for the demo.

A verifier holds keys of one kind and accepts only their algorithms: RS256/ES256 for the public keys of a
JWKS (file or URL), HS256 for a development secret. The token's header is read first only to pick the key
(by ``kid``) and to refuse an algorithm the key was not made for: an RSA public key offered as an HMAC
secret (algorithm confusion) and ``alg: none`` never verify. Issuer, audience, expiry and not-before are
checked with a small leeway; ``sub`` and ``exp`` are required.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from crmgraph.policy.auth_settings import JwtSettings
from crmgraph.policy.principal import Principal, Unauthenticated

KEY_TYPE_OF = {"RS256": "RSA", "ES256": "EC", "HS256": "oct"}
REGISTERED = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti"})


class TokenVerifier:
    def __init__(self, settings: JwtSettings, base_dir: Path | None = None) -> None:
        self.settings = settings
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._client: jwt.PyJWKClient | None = None
        self._secret: str | None = settings.hs256_secret
        if settings.hs256_secret:
            self.algorithms: tuple[str, ...] = ("HS256",)
        else:
            self.algorithms = ("RS256", "ES256")
            if settings.jwks_file:
                path = Path(settings.jwks_file)
                if not path.is_absolute() and base_dir is not None:
                    path = base_dir / path
                for key in jwt.PyJWKSet.from_json(path.read_text(encoding="utf-8")).keys:
                    self._keys[key.key_id] = key
            else:
                assert settings.jwks_url is not None
                self._client = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300)

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the bearer token is not a JWT", "invalid_request") from None
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise Unauthenticated(f"tokens signed with {algorithm!r} are not accepted (expected {self._expected()})")
        key = self._key(header, str(algorithm))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[str(algorithm)],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("the token is not valid yet (nbf or iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(f"the token is not for this audience (expected {self.settings.audience})") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(f"the token was not issued by {self.settings.issuer}") from None
        except jwt.MissingRequiredClaimError as missing:
            raise Unauthenticated(f"the token lacks the {missing.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("the token's signature does not verify") from None
        except jwt.PyJWTError:
            raise Unauthenticated("the token is malformed") from None
        return self._principal(claims)

    def _expected(self) -> str:
        return ", ".join(self.algorithms)

    def _key(self, header: dict[str, Any], algorithm: str) -> Any:
        if self._secret is not None:
            return self._secret
        kid = header.get("kid")
        if self._client is not None:
            try:
                found = self._client.get_signing_key(str(kid)) if kid else None
            except jwt.PyJWTError:
                found = None
        else:
            found = self._keys.get(kid) if kid else (next(iter(self._keys.values())) if len(self._keys) == 1 else None)
        if found is None:
            raise Unauthenticated("the token names no key this server knows (kid)")
        if found.key_type != KEY_TYPE_OF[algorithm]:
            raise Unauthenticated(f"the token's algorithm {algorithm} does not fit its key ({found.key_type})")
        return found.key

    def _principal(self, claims: dict[str, Any]) -> Principal:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("the token's 'sub' claim must be a non-empty string")
        raw_roles = claims.get(self.settings.roles_claim, [])
        roles = [raw_roles] if isinstance(raw_roles, str) else raw_roles
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise Unauthenticated(f"the token's {self.settings.roles_claim!r} claim must be a list of role names")
        attributes = {name: value for name, value in claims.items() if name not in REGISTERED}
        attributes.pop(self.settings.roles_claim, None)
        return Principal(subject, frozenset(roles), "jwt", attributes)


# --- a development signing key (the demo's), and tokens signed with it -------------------------------------

PRIVATE_KEY_FILE = "jwt-signing-key.pem"
DEMO_ISSUER, DEMO_AUDIENCE = "crmgraph-demo", "crmgraph"  # what the demo's configuration expects
JWKS_FILE = "jwks.json"


def ensure_development_key(folder: Path) -> tuple[Path, Path]:
    """An ES256 key pair in ``folder`` (made once): the private key's PEM and the public JWKS."""
    private_path, jwks_path = folder / PRIVATE_KEY_FILE, folder / JWKS_FILE
    if private_path.exists() and jwks_path.exists():
        return private_path, jwks_path
    folder.mkdir(parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    public |= {"kid": uuid.uuid4().hex[:16], "alg": "ES256", "use": "sig"}
    private_path.write_bytes(pem)
    private_path.chmod(0o600)
    jwks_path.write_text(json.dumps({"keys": [public]}, indent=2), encoding="utf-8")
    return private_path, jwks_path


def issue_development_token(
    folder: Path,
    *,
    subject: str,
    roles: list[str],
    issuer: str,
    audience: str,
    claims: dict[str, object] | None = None,
    ttl_seconds: int = 8 * 3600,
) -> str:
    """A token signed with ``folder``'s development key (see :func:`ensure_development_key`)."""
    private_path, jwks_path = ensure_development_key(folder)
    kid = json.loads(jwks_path.read_text(encoding="utf-8"))["keys"][0]["kid"]
    now = int(time.time())
    payload = {**(claims or {}), "sub": subject, "roles": roles, "iss": issuer, "aud": audience,
               "iat": now, "nbf": now, "exp": now + ttl_seconds}  # fmt: skip
    return jwt.encode(payload, private_path.read_bytes(), algorithm="ES256", headers={"kid": kid})
