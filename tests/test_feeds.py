"""The ticket system's change feed polled into change events: a facade killed (SIGKILL) and started again
goes on from the position it kept in the store, so a subscriber on another instance hears every change
once: none missed while it was down, none delivered twice."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from crmgraph.schema.ids import encode_id
from tests.conftest import Estate
from tests.facade import TEST_AUTH, facade_config
from tests.realtime import WAIT_S, connected, events_section, instance

TICKETS = """subscription($customerId: ID) { ticketChanged(customerId: $customerId) {
  event { id kind } ticket { number status } } }"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve_process(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``crmgraph serve`` as a process of its own (so that it can be killed outright)."""
    port = _free_port()
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "crmgraph", "serve", "-c", str(config), "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the facade did not come up"
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def _followed(store: str) -> bool:
    with sqlite3.connect(store) as conn:
        try:
            return bool(conn.execute("SELECT count(*) FROM crmgraph_feed_positions").fetchone()[0])
        except sqlite3.OperationalError:
            return False


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_killed_facade_resumes_the_ticket_feed_without_missing_or_repeating_a_change(
    writable_estate: Estate, linked_identity: str, redis_url: str, tmp_path: Path
) -> None:
    store = tmp_path / "identity.sqlite"
    shutil.copy(linked_identity.removeprefix("sqlite:///"), store)
    with sqlite3.connect(store) as conn:
        organizations = conn.execute(
            "SELECT customer_id, source_id FROM crmgraph_links WHERE source = 'tickets' AND entity = 'party' "
            "ORDER BY customer_id LIMIT 20"
        ).fetchall()
    estate = writable_estate
    with estate.tickets() as zd:  # a customer with two tickets: a feed gives each changed ticket as it is now
        for candidate, organization in organizations:
            listed = zd.get(f"/api/v2/organizations/{organization}/tickets.json").json()["tickets"]
            tickets = [t["id"] for t in listed if t["status"] != "closed"]  # a closed ticket takes no change
            if len(tickets) >= 2:
                customer_id, (first_ticket, second_ticket) = candidate, tickets[:2]
                break
        else:
            pytest.fail("no customer with two tickets")
    channel = f"test-feeds-{uuid.uuid4().hex}"
    events = events_section(redis_url, channel)
    follower = tmp_path / "follower.yaml"
    follower.write_text(f"""sources:
  crm: {{adapter: hubspot, url: "{estate.crm_url}", token: demo-crm-token}}
  erp: {{adapter: sql, url: "{estate.layout.erp_url}"}}
  tickets: {{adapter: zendesk, url: "{estate.tickets_url}", email: api@demo.crmgraph.test, token: demo-zendesk-token}}
identity: {{url: "sqlite:///{store}"}}
{TEST_AUTH.replace("        ", "")}
{events}
feeds: {{follow: [{{source: tickets, entity: ticket, every_s: 0.2}}], lease_s: 1}}
""")
    sections = f"{TEST_AUTH}\n        {events}"
    listener = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, f"sqlite:///{store}",
                             namespace=f"f{uuid.uuid4().hex[:6]}", governance=sections)  # fmt: skip
    customer = encode_id("Customer", str(customer_id))
    changes: list[tuple[str, str]] = []  # (ticket, when it changed) of every change made

    def change(ticket: int, status: str) -> None:
        with estate.tickets() as zd:
            answer = zd.put(f"/api/v2/tickets/{ticket}.json", json={"ticket": {"status": status}})
            assert answer.status_code == 200, answer.text
            updated = answer.json()["ticket"]["updated_at"]
        changes.append((str(ticket), datetime.fromisoformat(updated.replace("Z", "+00:00")).isoformat()))

    with instance(listener) as b:

        async def scenario() -> list[dict[str, Any]]:
            heard: list[dict[str, Any]] = []
            async with connected(b) as on_b:
                await on_b.subscribe("t", TICKETS, customerId=customer)
                await asyncio.to_thread(b.wait_for_subscribers, 1)

                async def hear(count: int) -> None:
                    while len(heard) < count:
                        heard.append(await asyncio.wait_for(on_b.next("t"), WAIT_S))

                log = tmp_path / "follower.log"
                with serve_process(follower, log) as first:
                    await asyncio.to_thread(_wait, lambda: _followed(str(store)), "the feed was never read")
                    await asyncio.to_thread(change, first_ticket, "open")
                    await hear(1)
                    os.kill(first.pid, signal.SIGKILL)  # no shutdown: the lease and the position stay as they were
                    first.wait(timeout=20)
                # While it is down, each ticket changes once (a feed has no intermediate states to give).
                await asyncio.to_thread(change, first_ticket, "pending")
                await asyncio.to_thread(change, second_ticket, "hold")
                with serve_process(follower, log):
                    await hear(3)
                    await asyncio.to_thread(change, second_ticket, "solved")
                    await hear(4)  # a change after the restart, heard once: nothing before it was repeated
            return heard

        heard = asyncio.run(scenario())
    ids = [message["data"]["ticketChanged"]["event"]["id"] for message in heard]
    assert len(ids) == len(set(ids)) == 4, ids
    # An event id is the record and when it changed: each change made, heard once.
    assert sorted(tuple(i.split(":feed:ticket:", 1)[1].split(":", 1)) for i in ids) == sorted(changes)
