"""Trusted documents: the manifest, documents named by hash (Apollo's extension and documentId), and
production mode's refusal of documents outside the manifest except for roles that may explore."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import orjson
import pytest

from crmgraph.config import ConfigErrors
from crmgraph.policy.trusted_documents import ManifestError, TrustedDocuments, build_manifest, sha256_hex
from tests.conftest import Estate
from tests.perimeter import asgi_client, error_of, perimeter_config, token

CARD = "query Card { customers(first: 1) { totalCount } }"
OTHER = "{ __typename }"
EXPLORERS = {"roles": {"admin": {"mutations": ["*"], "explore": True}, "reader": {}}}


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "documents.json"
    path.write_bytes(orjson.dumps(build_manifest([CARD])))
    return path


def test_a_manifest_loads_in_either_format_and_every_hash_is_checked(tmp_path: Path) -> None:
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({sha256_hex(CARD): CARD}))
    apollo = tmp_path / "apollo.json"
    apollo.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": sha256_hex(CARD), "name": "Card", "type": "query", "body": CARD}],
            }
        )
    )
    for path in (plain, apollo):
        assert TrustedDocuments.load(path).get(sha256_hex(CARD)) == CARD
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({sha256_hex(OTHER): CARD}))
    with pytest.raises(ManifestError, match="the document's SHA-256 is"):
        TrustedDocuments.load(forged)
    with pytest.raises(ManifestError, match="cannot read"):
        TrustedDocuments.load(tmp_path / "missing.json")


def test_a_manifest_that_cannot_be_loaded_is_a_configuration_error(
    running_estate: Estate, linked_identity: str, tmp_path: Path
) -> None:
    from crmgraph.app import build_app

    config = perimeter_config(running_estate, linked_identity, trusted_documents={"manifest": str(tmp_path / "no")})
    with pytest.raises(ConfigErrors) as raised:
        build_app(config)
    assert raised.value.problems[0].path == "trusted_documents.manifest"


def test_a_request_may_name_a_trusted_document_by_its_hash(
    running_estate: Estate, linked_identity: str, manifest: Path
) -> None:
    config = perimeter_config(running_estate, linked_identity, trusted_documents={"manifest": str(manifest)})
    digest = sha256_hex(CARD)
    apollo = {"persistedQuery": {"version": 1, "sha256Hash": digest}}

    async def scenario() -> None:
        async with asgi_client(config) as client:
            by_extension = await client.post("/graphql", json={"extensions": apollo})
            assert by_extension.status_code == 200 and by_extension.json()["data"]["customers"]["totalCount"] > 0
            by_id = await client.post("/graphql", json={"documentId": f"sha256:{digest}"})
            assert by_id.json() == by_extension.json()
            by_get = await client.get("/graphql", params={"extensions": json.dumps(apollo)})
            assert by_get.status_code == 200 and by_get.json() == by_extension.json()
            with_text = await client.post("/graphql", json={"query": CARD, "extensions": apollo})
            assert with_text.status_code == 200
            # Outside production mode, other documents still run.
            assert (await client.post("/graphql", json={"query": OTHER})).status_code == 200

    asyncio.run(scenario())


def test_an_unknown_hash_a_mismatched_query_and_a_malformed_hash_are_refused_precisely(
    running_estate: Estate, linked_identity: str, manifest: Path
) -> None:
    config = perimeter_config(running_estate, linked_identity, trusted_documents={"manifest": str(manifest)})

    def apollo(digest: object, version: int = 1) -> dict[str, object]:
        return {"persistedQuery": {"version": version, "sha256Hash": digest}}

    cases = [
        ({"extensions": apollo(sha256_hex(OTHER))}, 400, "PERSISTED_QUERY_NOT_FOUND"),
        ({"documentId": f"sha256:{sha256_hex(OTHER)}"}, 400, "PERSISTED_QUERY_NOT_FOUND"),
        ({"query": OTHER, "extensions": apollo(sha256_hex(CARD))}, 400, "PERSISTED_QUERY_HASH_MISMATCH"),
        ({"extensions": apollo("ABC")}, 400, "BAD_REQUEST"),
        ({"documentId": "md5:abc"}, 400, "BAD_REQUEST"),
        ({"extensions": apollo(sha256_hex(CARD), version=2)}, 400, "PERSISTED_QUERY_NOT_SUPPORTED"),
        ({}, 400, "BAD_REQUEST"),
    ]

    async def scenario() -> None:
        async with asgi_client(config) as client:
            for body, status, code in cases:
                response = await client.post("/graphql", json=body)
                assert (response.status_code, error_of(response)["extensions"]["code"]) == (status, code), body

    asyncio.run(scenario())


def test_production_runs_only_trusted_documents_except_for_roles_that_may_explore(
    running_estate: Estate, linked_identity: str, manifest: Path
) -> None:
    config = perimeter_config(
        running_estate,
        linked_identity,
        server={"production": True},
        trusted_documents={"manifest": str(manifest)},
        policy=EXPLORERS,
        auth={"anonymous_role": "reader"},
    )

    async def scenario() -> None:
        async with asgi_client(config) as client:
            refused = await client.post("/graphql", json={"query": OTHER})
            assert refused.status_code == 403
            error = error_of(refused)
            assert error["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED" and error["extensions"]["limit"] == 1
            # The trusted document itself, by hash or in full, runs for anyone.
            assert (await client.post("/graphql", json={"documentId": f"sha256:{sha256_hex(CARD)}"})).status_code == 200
            assert (await client.post("/graphql", json={"query": CARD})).status_code == 200
            explorer = await client.post("/graphql", json={"query": OTHER}, headers=token("ann", "admin"))
            assert explorer.status_code == 200 and explorer.json()["data"] == {"__typename": "Query"}

    asyncio.run(scenario())


def test_the_cli_builds_a_manifest_from_graphql_files_and_refuses_invalid_ones(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from crmgraph.cli import app

    folder = tmp_path / "operations"
    folder.mkdir()
    (folder / "card.graphql").write_text(CARD)
    output = tmp_path / "documents.json"
    result = CliRunner().invoke(app, ["documents", "build", str(folder), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert TrustedDocuments.load(output).get(sha256_hex(CARD)) == CARD
    (folder / "typo.graphql").write_text("{ customerz { totalCount } }")
    result = CliRunner().invoke(app, ["documents", "build", str(folder), "-o", str(tmp_path / "other.json")])
    assert result.exit_code == 1 and "customerz" in result.output
