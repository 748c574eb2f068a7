"""Change events and subscriptions against real servers: two facade instances over the real Redis, a
graphql-transport-ws client, the demo estate behind them.

Events are published into an instance as a webhook handler there will (``EventHub.publish`` on its loop);
a subscriber is told of a change only once its subscription is registered (``wait_for_subscribers``):
delivery is at most once, to the subscriptions open when the event passes.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update
from websockets.exceptions import ConnectionClosed

from crmgraph.config import Config
from crmgraph.demo.stores.erp import VBAK
from crmgraph.events import ChangeEvent, ChangeKind, Entity
from crmgraph.schema.ids import encode_id
from tests.conftest import Estate
from tests.facade import TEST_AUTH, facade_config
from tests.realtime import (
    Instance,
    acknowledged,
    events_section,
    instance,
    next_payload,
    open_connection,
    receive,
    subscribe,
)
from tests.test_governance import GOVERNANCE, Estate360, token

TICKETS = """subscription($customerId: ID) { ticketChanged(customerId: $customerId) {
  event { id system entity kind changedFields occurredAt receivedAt } customer { id } ticket { id number } } }"""
CUSTOMER = """subscription($id: ID!) { customerChanged(id: $id) {
  event { entity kind } customer { id } node { id ... on Order { number status } } } }"""
SAMPLE = """{ customers(first: 60) { nodes { id sources { system recordId }
  tickets(first: 1) { nodes { number } } orders(first: 1) { nodes { number status } } } } }"""


@dataclass(frozen=True)
class Sample:
    """A customer with a ticket and an order, and the ids its systems know it by."""

    customer: str
    customer_id: int
    organization: str  # the ticket system's id of its organization
    ticket: str
    debtor: str  # the ERP's customer number
    order: str
    order_status: str


def _sample(facade: Instance) -> Sample:
    for node in facade.query(SAMPLE)["data"]["customers"]["nodes"]:
        sources = {link["system"]: link["recordId"] for link in node["sources"]}
        if {"tickets", "erp"} <= sources.keys() and node["tickets"]["nodes"] and node["orders"]["nodes"]:
            order = node["orders"]["nodes"][0]
            number = int(base64.urlsafe_b64decode(node["id"] + "=" * (-len(node["id"]) % 4)).decode().split(":")[1])
            return Sample(node["id"], number, sources["tickets"], node["tickets"]["nodes"][0]["number"],
                          sources["erp"], order["number"], order["status"])  # fmt: skip
    pytest.fail("no customer with a ticket and an order in the first page")


def _config(estate: Estate, identity: str, events: str, *, erp_url: str | None = None, cache_url: str = "memory://",
            namespace: str = "realtime", governance: str = TEST_AUTH) -> Config:  # fmt: skip
    return facade_config(estate.crm_url, estate.tickets_url, erp_url or estate.layout.erp_url, identity,
                         cache_url=cache_url, namespace=namespace, governance=f"{governance}\n        {events}")  # fmt: skip


def _channel() -> str:
    # Redis pub/sub channels are server-wide (not per database): each test gets its own.
    return f"test-realtime-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def store_url(linked_identity: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    copy = tmp_path_factory.mktemp("realtime") / "identity.sqlite"
    shutil.copy(linked_identity.removeprefix("sqlite:///"), copy)
    return f"sqlite:///{copy}"


@pytest.fixture(scope="module")
def sample(running_estate: Estate, store_url: str) -> Sample:
    with instance(_config(running_estate, store_url, events_section(None, "sample"))) as facade:
        return _sample(facade)


@pytest.fixture
def pair(running_estate: Estate, store_url: str, redis_url: str) -> Iterator[tuple[Instance, Instance]]:
    """Two instances sharing one bus (Redis), each with its own memory cache."""
    events = events_section(redis_url, _channel())
    with instance(_config(running_estate, store_url, events)) as a, instance(_config(running_estate, store_url, events)) as b:
        yield a, b


def ticket_event(sample: Sample, **overrides: object) -> ChangeEvent:
    fields: dict[str, object] = {"kind": ChangeKind.UPDATED, "changed": ("status",),
                                 "parents": (("party", sample.organization),)}  # fmt: skip
    return ChangeEvent("tickets", Entity.TICKET, sample.ticket, **fields | overrides)  # type: ignore[arg-type]


def test_a_subscriber_on_instance_b_hears_a_change_published_at_instance_a(
    pair: tuple[Instance, Instance], sample: Sample
) -> None:
    a, b = pair

    async def scenario() -> tuple[dict[str, object], dict[str, object]]:
        on_b, on_a = await acknowledged(b), await acknowledged(a)
        await subscribe(on_b, "b", TICKETS, customerId=sample.customer)
        await subscribe(on_a, "a", TICKETS, customerId=sample.customer)
        await asyncio.to_thread(b.wait_for_subscribers, 1)
        await asyncio.to_thread(a.wait_for_subscribers, 1)
        published = await asyncio.to_thread(a.publish, ticket_event(sample))
        assert published[0].customer_ids == (sample.customer_id,)  # found from the organization's link
        heard = await next_payload(on_b, "b"), await next_payload(on_a, "a")
        await on_b.close()
        await on_a.close()
        return heard

    on_b, on_a = asyncio.run(scenario())
    change = on_b["data"]["ticketChanged"]  # type: ignore[index]
    assert change["event"]["system"] == "tickets" and change["event"]["entity"] == "TICKET"
    assert change["event"]["kind"] == "UPDATED" and change["event"]["changedFields"] == ["status"]
    assert change["customer"] == {"id": sample.customer}
    assert change["ticket"] == {"id": encode_id("Ticket", "tickets", sample.ticket), "number": sample.ticket}
    assert on_a == on_b  # one event, the same answer on both instances
    b.wait_for_subscribers(0)  # a closed connection leaves nothing behind
