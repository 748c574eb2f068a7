"""Principals: JWTs verified (and every way a token can be wrong refused), API keys made, used and revoked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from crmgraph.policy.api_keys import ApiKeyStore
from crmgraph.policy.auth_settings import AuthConfig, JwtSettings
from crmgraph.policy.authenticate import Authenticator
from crmgraph.policy.principal import Unauthenticated
from crmgraph.policy.roles import PolicyConfig
from crmgraph.policy.tokens import JWKS_FILE, TokenVerifier, ensure_development_key, issue_development_token
from tests.conftest import Estate
from tests.facade import estate_config_file, facade_config, serve_facade

ISSUER, AUDIENCE = "https://idp.test/", "crmgraph"


@pytest.fixture
def key_folder(tmp_path: Path) -> Path:
    ensure_development_key(tmp_path)
    return tmp_path


@pytest.fixture
def verifier(key_folder: Path) -> TokenVerifier:
    settings = JwtSettings(jwks_file=str(key_folder / JWKS_FILE), issuer=ISSUER, audience=AUDIENCE, leeway_seconds=5)
    return TokenVerifier(settings)


def _token(folder: Path, **overrides: Any) -> str:
    claims = overrides.pop("claims", {"owner_id": "77", "countries": ["DE", "FR"]})
    subject, roles = overrides.pop("subject", "ana"), overrides.pop("roles", ["sales_rep"])
    issuer, audience = overrides.pop("issuer", ISSUER), overrides.pop("audience", AUDIENCE)
    return issue_development_token(
        folder, subject=subject, roles=roles, issuer=issuer, audience=audience, claims=claims, **overrides
    )


def _unsigned(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None = None) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(payload)}"
    signature = b"" if secret is None else hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "mallory", "roles": ["admin"], "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600} | extra


def test_a_valid_token_gives_its_subject_roles_and_attributes(verifier: TokenVerifier, key_folder: Path) -> None:
    principal = verifier.verify(_token(key_folder))
    assert (principal.subject, principal.roles, principal.via) == ("ana", frozenset({"sales_rep"}), "jwt")
    assert principal.attributes == {"owner_id": "77", "countries": ["DE", "FR"]}


def test_every_way_a_token_can_be_wrong_is_refused_with_its_reason(verifier: TokenVerifier, key_folder: Path) -> None:
    kid = json.loads((key_folder / JWKS_FILE).read_text())["keys"][0]["kid"]
    own_key = serialization.load_pem_private_key((key_folder / "jwt-signing-key.pem").read_bytes(), None)

    def signed(claims: dict[str, Any]) -> str:  # with the right key: only the claims are wrong
        return jwt.encode(claims, own_key, algorithm="ES256", headers={"kid": kid})

    other_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks_public = jwt.PyJWKSet.from_json((key_folder / JWKS_FILE).read_text()).keys[0].key
    public_key_pem = jwks_public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    cases = {
        "expired": (_token(key_folder, ttl_seconds=-60), "expired"),
        "wrong audience": (_token(key_folder, audience="someone-else"), "audience"),
        "wrong issuer": (_token(key_folder, issuer="https://evil.test/"), "issued by"),
        "signed with another key": (jwt.encode(_claims(), other_key, algorithm="ES256", headers={"kid": kid}),
                                    "signature"),
        "alg none": (_unsigned({"alg": "none", "kid": kid}, _claims()), "'none' are not accepted"),
        "HS256 with the public key as secret": (_unsigned({"alg": "HS256", "kid": kid}, _claims(), public_key_pem),
                                                "'HS256' are not accepted"),
        "RS256 against an EC key": (jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": kid}),
                                    "does not fit its key"),
        "unknown kid": (jwt.encode(_claims(), other_key, algorithm="ES256", headers={"kid": "nope"}), "no key"),
        "garbage": ("not.a.jwt", "not a JWT"),
        "not yet valid": (signed(_claims(nbf=int(time.time()) + 3600)), "not valid yet"),
        "no subject": (signed({k: v for k, v in _claims().items() if k != "sub"}), "'sub'"),
        "roles not a list": (signed(_claims(roles={"admin": True})), "list of role names"),
    }  # fmt: skip
    for name, (token, reason) in cases.items():
        with pytest.raises(Unauthenticated) as refused:
            verifier.verify(token)
        assert reason in refused.value.reason, (name, refused.value.reason)
        assert refused.value.challenge().startswith('Bearer realm="crmgraph", error=')


def test_a_token_within_the_leeway_still_passes(verifier: TokenVerifier, key_folder: Path) -> None:
    assert verifier.verify(_token(key_folder, ttl_seconds=-2)).subject == "ana"


def test_a_development_secret_verifies_hs256_only(key_folder: Path) -> None:
    secret = "s" * 40
    settings = JwtSettings(hs256_secret=secret, issuer=ISSUER, audience=AUDIENCE)
    verifier = TokenVerifier(settings)
    assert verifier.verify(jwt.encode(_claims(), secret, algorithm="HS256")).subject == "mallory"
    with pytest.raises(Unauthenticated, match="'ES256' are not accepted"):
        verifier.verify(_token(key_folder))


@pytest.fixture(params=["sqlite", "postgres"])
def key_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ApiKeyStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'keys.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = ApiKeyStore(url)
    yield store
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM crmgraph_api_keys")
    store.close()


def test_an_api_key_works_until_it_is_revoked_and_only_its_hash_is_kept(key_store: ApiKeyStore) -> None:
    record, key = key_store.create("billing-sync", ["service_agent"], {"team": "billing"}, note="nightly job")
    assert key.startswith(f"cg_{record.key_id}_")
    principal = key_store.verify(key)
    assert (principal.subject, principal.roles, principal.via) == (
        "billing-sync",
        frozenset({"service_agent"}),
        "api_key",
    )
    assert principal.attributes == {"team": "billing"}
    with key_store.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT secret_sha256 FROM crmgraph_api_keys").scalar_one()
    assert key.rsplit("_", 1)[1] not in stored, "the secret itself is never stored"
    with pytest.raises(Unauthenticated, match="not valid"):
        key_store.verify(key[:-1] + ("A" if key[-1] != "A" else "B"))
    assert key_store.revoke(record.key_id) and not key_store.revoke(record.key_id)
    with pytest.raises(Unauthenticated, match="revoked"):
        key_store.verify(key)
    assert [k.revoked_at is not None for k in key_store.list()] == [True]


def test_an_api_key_needs_a_subject_and_roles(key_store: ApiKeyStore) -> None:
    with pytest.raises(ValueError, match="subject"):
        key_store.create(" ", ["admin"])
    with pytest.raises(ValueError, match="roles"):
        key_store.create("svc", [])


def test_the_authenticator_reads_bearer_tokens_api_keys_and_refuses_a_request_without_either(
    key_folder: Path, tmp_path: Path
) -> None:
    store = ApiKeyStore(f"sqlite:///{tmp_path / 'keys.sqlite'}")
    _, key = store.create("svc", ["admin"])
    config = AuthConfig(jwt=JwtSettings(jwks_file=str(key_folder / JWKS_FILE), issuer=ISSUER, audience=AUDIENCE))
    authenticator = Authenticator(config, store)
    assert authenticator.principal({"authorization": f"Bearer {_token(key_folder)}"}).subject == "ana"
    assert authenticator.principal({"authorization": f"ApiKey {key}"}).via == "api_key"
    assert authenticator.principal({"x-api-key": key}).subject == "svc"
    with pytest.raises(Unauthenticated) as missing:
        authenticator.principal({})
    assert (
        missing.value.error is None and missing.value.challenge() == 'Bearer realm="crmgraph", ApiKey realm="crmgraph"'
    )
    with pytest.raises(Unauthenticated, match="not supported"):
        authenticator.principal({"authorization": "Basic dXNlcjpwYXNz"})
    anonymous = Authenticator(config.model_copy(update={"anonymous_role": "marketing"}), store)
    assert anonymous.principal({}).roles == frozenset({"marketing"})
    store.close()


def test_the_apikey_commands_make_list_and_revoke_keys_and_the_token_command_signs_with_the_demo_key(
    estate: Estate, tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    config = estate_config_file(estate, tmp_path / "crmgraph.yaml", store_url)

    def crmgraph(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "crmgraph", *args], capture_output=True, text=True, timeout=60,
                              env=os.environ | {"COLUMNS": "200"})  # fmt: skip

    made = crmgraph("apikey", "create", "-c", str(config), "--subject", "billing-sync", "--role", "service_agent",
                    "--attribute", "team=billing", "--note", "nightly")  # fmt: skip
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    store = ApiKeyStore(store_url)
    assert store.verify(key).attributes == {"team": "billing"}
    listed = crmgraph("apikey", "list", "-c", str(config))
    key_id = key.split("_")[1]
    assert key_id in listed.stdout and "billing-sync" in listed.stdout and key not in listed.stdout
    assert crmgraph("apikey", "revoke", "-c", str(config), key_id).returncode == 0
    with pytest.raises(Unauthenticated, match="revoked"):
        store.verify(key)
    again = crmgraph("apikey", "revoke", "-c", str(config), key_id)
    assert again.returncode == 1 and "not revoked already" in again.stderr
    store.close()

    printed = crmgraph("token", "--subject", "ana", "--role", "sales_rep", "--claim", "countries=DE",
                       "--claim", "countries=FR", "--data-dir", str(tmp_path / "demo"))  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    settings = JwtSettings(jwks_file=str(tmp_path / "demo" / JWKS_FILE), issuer="crmgraph-demo", audience="crmgraph")
    principal = TokenVerifier(settings).verify(printed.stdout.strip())
    assert principal.subject == "ana" and principal.attributes == {"countries": ["DE", "FR"]}


def test_the_served_graph_lets_in_tokens_and_keys_and_answers_401_to_everyone_else(
    estate: Estate, linked_identity: str, key_folder: Path
) -> None:
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity)
    jwt_settings = JwtSettings(jwks_file=str(key_folder / JWKS_FILE), issuer=ISSUER, audience=AUDIENCE)
    required = config.model_copy(update={"auth": AuthConfig(jwt=jwt_settings)})
    store = ApiKeyStore(linked_identity)
    record, key = store.create("nightly-sync", ["admin"])
    query = {"query": "{ customers(first: 1) { totalCount } }"}
    try:
        with serve_facade(required) as facade:
            url = f"{facade.url}/graphql"

            def post(headers: dict[str, str]) -> httpx.Response:
                return httpx.post(url, json=query, headers=headers, timeout=30)

            nobody = post({})
            assert nobody.status_code == 401 and nobody.headers["www-authenticate"] == (
                'Bearer realm="crmgraph", ApiKey realm="crmgraph"'
            )
            expired = post({"Authorization": f"Bearer {_token(key_folder, ttl_seconds=-3600)}"})
            assert expired.status_code == 401 and "expired" in expired.json()["errors"][0]["message"]
            assert 'error="invalid_token"' in expired.headers["www-authenticate"]
            admin = post({"Authorization": f"Bearer {_token(key_folder, roles=['admin'])}"})
            assert admin.json()["data"]["customers"]["totalCount"] > 0
            # A role the policy does not name grants nothing: let in, it sees no customer.
            assert (
                post({"Authorization": f"Bearer {_token(key_folder)}"}).json()["data"]["customers"]["totalCount"] == 0
            )
            assert post({"X-Api-Key": key}).json()["data"]["customers"]["totalCount"] > 0
            store.revoke(record.key_id)
            assert post({"X-Api-Key": key}).status_code == 401
            assert httpx.get(url, headers={"Accept": "text/html"}, timeout=10).status_code == 200, "GraphiQL loads"
    finally:
        store.close()


def test_a_mutation_no_role_of_the_principal_names_is_refused_whole_and_explain_is_for_some_roles(
    estate: Estate, linked_identity: str, key_folder: Path
) -> None:
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity)
    jwt_settings = JwtSettings(jwks_file=str(key_folder / JWKS_FILE), issuer=ISSUER, audience=AUDIENCE)
    policy = PolicyConfig.model_validate(
        {"roles": {"steward": {"mutations": ["customerMerge"]}, "analyst": {"explain": True}, "viewer": {}}}
    )
    served = config.model_copy(update={"auth": AuthConfig(jwt=jwt_settings), "policy": policy})
    merge = """mutation { customerMerge(input: {survivorId: "Q3VzdG9tZXI6MQ", absorbedIds: ["Q3VzdG9tZXI6MQ"],
                 reason: "test"}) { userErrors { code } } }"""
    with serve_facade(served) as facade:

        def ask(role: str, body: dict[str, Any]) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {_token(key_folder, roles=[role])}"}
            answer: dict[str, Any] = httpx.post(f"{facade.url}/graphql", json=body, headers=headers, timeout=30).json()
            return answer

        refused = ask("viewer", {"query": merge})
        assert refused["data"] is None and refused["errors"][0]["extensions"] == {
            "code": "FORBIDDEN", "mutations": ["customerMerge"]
        }  # fmt: skip
        allowed = ask("steward", {"query": merge})
        assert "errors" not in allowed, "the steward's mutation runs (and answers its own input errors)"
        assert allowed["data"]["customerMerge"]["userErrors"], "merging a customer into itself is an input error"
        query = {"query": "{ customers(first: 1) { totalCount } }", "extensions": {"explain": True}}
        assert "upstream" in ask("analyst", query).get("extensions", {})
        assert "upstream" not in ask("viewer", query).get("extensions", {})
