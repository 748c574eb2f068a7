"""GraphQL over HTTP: media types negotiated, their status codes, and the graphql-http audit.

The audit is graphql-http's ``auditServer`` (npm), run by ``tests/http_audit.mjs`` with node; graphql-http
is installed once into ``var/http-audit`` (kept between runs). The test skips only when node is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.facade import Facade

ROOT = Path(__file__).resolve().parent.parent
AUDIT_SCRIPT = ROOT / "tests" / "http_audit.mjs"
AUDIT_DIR = ROOT / "var" / "http-audit"
GRAPHQL_HTTP = "graphql-http@1.23.1"  # the audit's version is part of the result: upgrade deliberately
GRAPHQL_JS = "graphql@16"

GRAPHQL_RESPONSE = "application/graphql-response+json"


def _post(facade: Facade, body: dict[str, Any], accept: str | None = None) -> httpx.Response:
    headers = {"accept": accept} if accept is not None else {}
    return httpx.post(f"{facade.url}/graphql", json=body, headers=headers, timeout=30)


def test_graphql_response_json_is_served_when_asked_for(facade: Facade) -> None:
    response = _post(facade, {"query": "{ __typename }"}, accept=f"{GRAPHQL_RESPONSE}, application/json;q=0.9")
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", f"application/json, {GRAPHQL_RESPONSE};q=0.5"])
def test_application_json_is_kept_for_clients_that_ask_for_it_or_name_nothing(facade: Facade, accept: str) -> None:
    response = _post(facade, {"query": "{ __typename }"}, accept=accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


def test_a_document_that_does_not_validate_is_400_without_data_under_graphql_response_json(facade: Facade) -> None:
    response = _post(facade, {"query": "{ noSuchField }"}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    answer = response.json()
    assert "data" not in answer
    assert "noSuchField" in answer["errors"][0]["message"]


def test_a_document_that_does_not_validate_is_200_under_application_json(facade: Facade) -> None:
    response = _post(facade, {"query": "{ noSuchField }"}, accept="application/json")
    assert response.status_code == 200
    assert response.json()["errors"]


def test_a_variable_that_does_not_coerce_is_400_under_graphql_response_json(facade: Facade) -> None:
    body = {"query": "query ($id: ID!) { node(id: $id) { id } }", "variables": {"id": None}}
    response = _post(facade, body, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert "data" not in response.json()


def test_an_executed_operation_is_200_under_graphql_response_json_even_with_field_errors(facade: Facade) -> None:
    response = _post(facade, {"query": '{ node(id: "not-an-id") { id } }'}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 200
    assert "data" in response.json()


def test_get_with_a_mutation_answers_405_with_allow_post(facade: Facade) -> None:
    response = httpx.get(
        f"{facade.url}/graphql",
        params={"query": "mutation { __typename }"},
        headers={"accept": GRAPHQL_RESPONSE},
        timeout=30,
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json()["errors"][0]["extensions"] == {
        "code": "METHOD_NOT_ALLOWED",
        "part": "method",
        "expected": "POST",
    }


def test_a_method_other_than_get_and_post_answers_405_with_allow(facade: Facade) -> None:
    response = httpx.head(f"{facade.url}/graphql", params={"query": "{ __typename }"}, timeout=30)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_get_with_a_query_is_served(facade: Facade) -> None:
    response = httpx.get(f"{facade.url}/graphql", params={"query": "{ __typename }"}, timeout=30)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


def test_an_accept_header_allowing_no_graphql_media_type_is_406(facade: Facade) -> None:
    response = _post(facade, {"query": "{ __typename }"}, accept="text/csv")
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["expected"] == f"{GRAPHQL_RESPONSE}, application/json"


def test_a_post_without_a_json_content_type_is_415(facade: Facade) -> None:
    response = httpx.post(f"{facade.url}/graphql", content=b'{"query": "{ __typename }"}', timeout=30)
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["part"] == "headers.content-type"


@pytest.mark.parametrize(
    ("body", "part"),
    [
        ({"query": 1}, "query"),
        ({"notquery": "{ __typename }"}, "query"),
        ({"query": "{ __typename }", "variables": "x"}, "variables"),
        ({"query": "{ __typename }", "operationName": ["x"]}, "operationName"),
        ({"query": "{ __typename }", "extensions": 0}, "extensions"),
    ],
)
def test_parameters_of_the_wrong_type_are_400_naming_the_parameter(
    facade: Facade, body: dict[str, Any], part: str
) -> None:
    response = _post(facade, body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["part"] == part


def _graphql_http() -> Path:
    """The folder holding graphql-http's node_modules, installed on first use."""
    marker = AUDIT_DIR / "node_modules" / "graphql-http" / "package.json"
    if marker.exists() and json.loads(marker.read_text())["version"] == GRAPHQL_HTTP.split("@")[1]:
        return AUDIT_DIR
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    AUDIT_DIR.mkdir(parents=True, exist_ok=True)
    (AUDIT_DIR / "package.json").write_text('{"private": true}\n')
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", GRAPHQL_HTTP, GRAPHQL_JS],
        cwd=AUDIT_DIR,
        check=True,
        timeout=300,
    )
    return AUDIT_DIR


def test_the_graphql_http_audit_finds_no_must_failure_and_no_should_warning(facade: Facade) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    folder = _graphql_http()
    run = subprocess.run(
        [node, str(AUDIT_SCRIPT), f"{facade.url}/graphql"],
        env={"GRAPHQL_HTTP_DIR": str(folder), "PATH": str(Path(node).parent)},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(run.stdout)
    assert report["failures"] == []
    assert (report["error"], report["warn"], report["notice"]) == (0, 0, 0)
    assert report["ok"] == report["total"] >= 60
