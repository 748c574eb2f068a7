"""Running the crmgraph facade as a real HTTP server on loopback, for tests."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from crmgraph.app import build_app
from crmgraph.config import Config, parse_config
from crmgraph.runner import serving

if TYPE_CHECKING:
    from tests.conftest import Estate

# Tests of what the graph answers ask as an anonymous admin; tests of authentication configure their own.
TEST_AUTH = """auth: {anonymous_role: admin}
        policy: {roles: {admin: {mutations: ["*"], explain: true}}}"""


def facade_config(
    crm_url: str,
    tickets_url: str,
    erp_url: str,
    identity_url: str,
    cache_url: str = "memory://",
    namespace: str = "t",
    ttl_s: float = 60,
    deadline_s: float = 10,
    tickets_resilience: dict[str, Any] | None = None,
    tracing: dict[str, Any] | None = None,
    survivorship: dict[str, Any] | None = None,
    governance: str = TEST_AUTH,
    crm: dict[str, Any] | None = None,
    more_sources: dict[str, dict[str, Any]] | None = None,
) -> Config:
    """The facade in front of the test estate; ``governance`` holds its ``auth:`` and ``policy:`` sections (and
    any other top-level section a test adds, such as ``audit:``), indented as TEST_AUTH's second line is.
    ``more_sources`` are further sources after the three (name -> settings, ``adapter`` among them)."""
    tickets_policy = json.dumps(tickets_resilience or {})  # JSON is YAML
    tracing_section = json.dumps(tracing or {})
    survivorship_section = json.dumps(survivorship or {})
    extra = "".join(f"\n          {name}: {json.dumps(settings)}" for name, settings in (more_sources or {}).items())
    crm_settings = "".join(f", {key}: {json.dumps(value)}" for key, value in (crm or {}).items())  # more settings
    return parse_config(
        f"""
        sources:
          crm: {{adapter: hubspot, url: "{crm_url}", token: demo-crm-token{crm_settings}}}
          erp: {{adapter: sql, url: "{erp_url}"}}
          tickets: {{adapter: zendesk, url: "{tickets_url}", email: api@demo.crmgraph.test, token: demo-zendesk-token,
                    resilience: {tickets_policy}}}{extra}
        cache: {{url: "{cache_url}", ttl_s: {{default: {ttl_s}}}, namespace: "{namespace}"}}
        identity: {{url: "{identity_url}", survivorship: {survivorship_section}}}
        server: {{max_page_size: 200, deadline_s: {deadline_s}}}
        tracing: {tracing_section}
        {governance}
        """
    )


@dataclass
class Facade:
    url: str

    def query(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        explain: bool = False,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if explain:
            body["extensions"] = {"explain": True}
        response = httpx.post(f"{self.url}/graphql", json=body, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


def estate_config_file(estate: Estate, path: Path, store_url: str) -> Path:
    """A configuration file for the running estate with ``store_url`` as the facade's store, for the CLI."""
    path.write_text(
        f"""sources:
  crm: {{adapter: hubspot, url: "{estate.crm_url}", token: demo-crm-token}}
  erp: {{adapter: sql, url: "{estate.layout.erp_url}"}}
  tickets: {{adapter: zendesk, url: "{estate.tickets_url}", email: api@demo.crmgraph.test, token: demo-zendesk-token}}
identity: {{url: "{store_url}"}}
"""
    )
    return path


def store_copy(store_url: str, folder: Path) -> str:
    """A copy of an SQLite store (the session's linked identity store) that a test may write to: the facade
    keeps its own records (audit trail, idempotency records, sagas, ...) there. The writable estate is a copy
    of the seeded one, so the session's links fit it too."""
    copy = folder / "identity.sqlite"
    shutil.copy(store_url.removeprefix("sqlite:///"), copy)
    return f"sqlite:///{copy}"


@contextmanager
def serve_facade(config: Config) -> Iterator[Facade]:
    """The facade for ``config`` as a real server on a free loopback port."""
    with serving(build_app(config)) as url:
        yield Facade(url)
