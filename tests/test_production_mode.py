"""Production mode (``server.production``): introspection and field suggestions off, GraphiQL off, CSRF
protection on; and what every mode has: security headers on every answer, CORS only for listed origins."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from crmgraph.config import Config
from crmgraph.policy.trusted_documents import build_manifest
from tests.conftest import Estate
from tests.perimeter import asgi_client, error_of, perimeter_config, token

ROLES = {"roles": {"admin": {"mutations": ["*"], "explore": True}, "reader": {}}}
INTROSPECTION = "{ __schema { queryType { name } } }"
TYPO = "{ customerz(first: 1) { totalCount } }"
JSON_ACCEPT = {"accept": "application/json"}


HIDDEN_TYPE = '{ __type(name: "Customer") { name } }'


@pytest.fixture(scope="module")
def production(running_estate: Estate, linked_identity: str, tmp_path_factory: pytest.TempPathFactory) -> Config:
    # Even a trusted document may not introspect for a role that may not explore.
    manifest = tmp_path_factory.mktemp("production") / "documents.json"
    manifest.write_bytes(orjson.dumps(build_manifest([INTROSPECTION, HIDDEN_TYPE, "{ __typename }"])))
    return perimeter_config(
        running_estate,
        linked_identity,
        server={"production": True},
        policy=ROLES,
        auth={"anonymous_role": "reader"},
        trusted_documents={"manifest": str(manifest)},
    )


@pytest.fixture(scope="module")
def development(running_estate: Estate, linked_identity: str) -> Config:
    return perimeter_config(running_estate, linked_identity, policy=ROLES, auth={"anonymous_role": "reader"})


def _run(config: Config, scenario: Any, address: str = "127.0.0.1") -> None:
    async def run() -> None:
        async with asgi_client(config, address) as client:
            await scenario(client)

    asyncio.run(run())


def test_production_refuses_introspection_except_to_roles_that_may_explore(production: Config) -> None:
    async def scenario(client: Any) -> None:
        refused = (await client.post("/graphql", json={"query": INTROSPECTION}, headers=token("rex", "reader"))).json()
        assert refused.get("data") is None
        (error,) = refused["errors"]
        assert error["extensions"]["code"] == "INTROSPECTION_DISABLED"
        hidden_type = {"query": HIDDEN_TYPE}
        assert (await client.post("/graphql", json=hidden_type)).json()["errors"][0]["extensions"]["code"] == (
            "INTROSPECTION_DISABLED"
        )
        allowed = (await client.post("/graphql", json={"query": INTROSPECTION}, headers=token("ann", "admin"))).json()
        assert allowed == {"data": {"__schema": {"queryType": {"name": "Query"}}}}

    _run(production, scenario)


def test_production_cuts_field_suggestions_and_development_keeps_them(production: Config, development: Config) -> None:
    messages: dict[str, str] = {}

    def scenario_for(mode: str) -> Any:
        async def scenario(client: Any) -> None:
            answer = (await client.post("/graphql", json={"query": TYPO}, headers=token("ann", "admin"))).json()
            messages[mode] = answer["errors"][0]["message"]

        return scenario

    _run(production, scenario_for("production"))
    _run(development, scenario_for("development"))
    assert "Did you mean" in messages["development"]
    assert messages["production"] == "Cannot query field 'customerz' on type 'Query'."


def test_production_serves_no_graphiql(production: Config, development: Config) -> None:
    async def off(client: Any) -> None:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 404 and error_of(page)["extensions"]["code"] == "NOT_FOUND"

    async def on(client: Any) -> None:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "script-src 'self' 'sha256-" in page.headers["content-security-policy"]

    _run(production, off)
    _run(development, on)


def test_production_refuses_simple_requests_without_a_preflight_header(production: Config) -> None:
    admin = token("ann", "admin")

    async def scenario(client: Any) -> None:
        get = await client.get("/graphql", params={"query": "{ __typename }"}, headers={**admin, **JSON_ACCEPT})
        assert get.status_code == 400 and error_of(get)["extensions"]["code"] == "CSRF_PREFLIGHT_REQUIRED"
        form = await client.post(
            "/graphql", content=b"query={__typename}", headers={**admin, "content-type": "text/plain"}
        )
        assert form.status_code == 400 and error_of(form)["extensions"]["code"] == "CSRF_PREFLIGHT_REQUIRED"
        preflighted = await client.get(
            "/graphql",
            params={"query": "{ __typename }"},
            headers={**admin, **JSON_ACCEPT, "GraphQL-Require-Preflight": "1"},
        )
        assert preflighted.status_code == 200
        posted = await client.post("/graphql", json={"query": "{ __typename }"}, headers=admin)
        assert posted.status_code == 200, "a JSON POST is preflighted by any browser: no header needed"

    _run(production, scenario)


def test_development_needs_no_preflight_header_unless_csrf_is_switched_on(
    development: Config, running_estate: Estate, linked_identity: str
) -> None:
    async def plain_get(client: Any) -> None:
        get = await client.get("/graphql", params={"query": "{ __typename }"}, headers=JSON_ACCEPT)
        assert get.status_code == 200

    async def refused_get(client: Any) -> None:
        get = await client.get("/graphql", params={"query": "{ __typename }"}, headers=JSON_ACCEPT)
        assert get.status_code == 400

    _run(development, plain_get)
    _run(perimeter_config(running_estate, linked_identity, server={"csrf": True}), refused_get)


def test_every_answer_carries_the_security_headers(development: Config) -> None:
    expected = {
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "cross-origin-resource-policy": "same-origin",
    }

    async def scenario(client: Any) -> None:
        answers = [
            await client.post("/graphql", json={"query": "{ __typename }"}),
            await client.post("/graphql", content=b"[]", headers={"content-type": "application/json"}),
            await client.get("/healthz"),
            await client.get("/nowhere"),
            await client.post("/graphql", content=b"x" * 2_000_000, headers={"content-type": "application/json"}),
        ]
        for answer in answers:
            assert {name: answer.headers.get(name) for name in expected} == expected, answer.request.url
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answers[-1].status_code == 413

    _run(development, scenario)


def test_cors_answers_only_the_listed_origins(
    running_estate: Estate, linked_identity: str, development: Config
) -> None:
    listed = "https://console.example.com"
    config = perimeter_config(running_estate, linked_identity, server={"cors_origins": [listed]})
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }

    async def scenario(client: Any) -> None:
        allowed = await client.options("/graphql", headers={"origin": listed, **preflight})
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == listed
        other = await client.options("/graphql", headers={"origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers
        simple = await client.post("/graphql", json={"query": "{ __typename }"}, headers={"origin": listed})
        assert simple.headers["access-control-allow-origin"] == listed

    async def no_cors(client: Any) -> None:
        answer = await client.post("/graphql", json={"query": "{ __typename }"}, headers={"origin": listed})
        assert "access-control-allow-origin" not in answer.headers

    _run(config, scenario)
    _run(development, no_cors)
