"""Running the crmgraph facade as a real HTTP server on loopback, for tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from crmgraph.app import build_app
from crmgraph.config import Config, parse_config


def facade_config(
    crm_url: str, tickets_url: str, erp_url: str, identity_url: str, cache_url: str = "memory://"
) -> Config:
    return parse_config(
        f"""
        sources:
          crm: {{adapter: hubspot, url: "{crm_url}", token: demo-crm-token}}
          erp: {{adapter: sql, url: "{erp_url}"}}
          tickets: {{adapter: zendesk, url: "{tickets_url}", email: api@demo.crmgraph.test, token: demo-zendesk-token}}
        cache: {{url: "{cache_url}", ttl_s: {{default: 60}}}}
        identity: {{url: "{identity_url}"}}
        server: {{max_page_size: 200}}
        """
    )


@dataclass
class Facade:
    url: str

    def query(self, query: str, variables: dict[str, Any] | None = None, *, explain: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if explain:
            body["extensions"] = {"explain": True}
        response = httpx.post(f"{self.url}/graphql", json=body, timeout=60)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@contextmanager
def serve_facade(config: Config) -> Iterator[Facade]:
    """Start uvicorn in a thread on a free port; stop it on exit."""
    server = uvicorn.Server(
        uvicorn.Config(build_app(config), host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the facade did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Facade(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        loop.close()
