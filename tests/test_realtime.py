"""Change events and subscriptions against real servers: two facade instances over the real Redis, a
graphql-transport-ws client, the demo estate behind them.

Events are published into an instance as a webhook handler there will (``EventHub.publish`` on its loop);
a subscriber is told of a change only once its subscription is registered (``wait_for_subscribers``):
delivery is at most once, to the subscriptions open when the event passes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, update
from websockets.exceptions import ConnectionClosed

from crmgraph.config import Config
from crmgraph.demo.stores.erp import VBAK
from crmgraph.events import ChangeEvent, ChangeKind, Entity
from crmgraph.schema.ids import encode_id
from crmgraph.schema.shared_answers import AnswerCounts
from tests.conftest import Estate
from tests.facade import TEST_AUTH, estate_config_file, facade_config, store_copy
from tests.realtime import Instance, connected, events_section, instance, open_connection, receive
from tests.test_governance import GOVERNANCE, Estate360, token

TICKETS = """subscription($customerId: ID) { ticketChanged(customerId: $customerId) {
  event { id system entity kind changedFields occurredAt receivedAt } customer { id } ticket { id number } } }"""
CUSTOMER = """subscription($id: ID!) { customerChanged(id: $id) {
  event { entity kind } customer { id } node { id ... on Order { number status } } } }"""
SAMPLE = """{ customers(first: 60) { nodes { id sources { system recordId }
  tickets(first: 1) { nodes { number } } orders(first: 1) { nodes { id number status } } } } }"""


@dataclass(frozen=True)
class Sample:
    """A customer with a ticket and an order, and the ids its systems know it by."""

    customer: str
    customer_id: int
    organization: str  # the ticket system's id of its organization
    ticket: str
    debtor: str  # the ERP's customer number
    order: str  # the order's id in the ERP
    order_status: str


def _sample(facade: Instance) -> Sample:
    for node in facade.query(SAMPLE)["data"]["customers"]["nodes"]:
        sources = {link["system"]: link["recordId"] for link in node["sources"]}
        if {"tickets", "erp"} <= sources.keys() and node["tickets"]["nodes"] and node["orders"]["nodes"]:
            order = node["orders"]["nodes"][0]
            return Sample(node["id"], int(_decoded(node["id"])[1]), sources["tickets"],
                          node["tickets"]["nodes"][0]["number"], sources["erp"], _decoded(order["id"])[2],
                          order["status"])  # fmt: skip
    pytest.fail("no customer with a ticket and an order in the first page")


def _decoded(global_id: str) -> list[str]:
    return base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().split(":")


def _config(estate: Estate, identity: str, events: str, *, erp_url: str | None = None, cache_url: str = "memory://",
            namespace: str = "realtime", governance: str = TEST_AUTH) -> Config:  # fmt: skip
    sections = f"{governance}\n        {events}"
    return facade_config(estate.crm_url, estate.tickets_url, erp_url or estate.layout.erp_url, identity,
                         cache_url=cache_url, namespace=namespace, governance=sections)  # fmt: skip


def _channel() -> str:
    # Redis pub/sub channels are server-wide (not per database): each test gets its own.
    return f"test-realtime-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def store_url(linked_identity: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return store_copy(linked_identity, tmp_path_factory.mktemp("realtime"))


@pytest.fixture(scope="module")
def sample(running_estate: Estate, store_url: str) -> Sample:
    with instance(_config(running_estate, store_url, events_section(None, "sample"))) as facade:
        return _sample(facade)


@pytest.fixture
def pair(running_estate: Estate, store_url: str, redis_url: str) -> Iterator[tuple[Instance, Instance]]:
    """Two instances sharing one bus (Redis), each with its own memory cache."""
    events = events_section(redis_url, _channel())
    with (
        instance(_config(running_estate, store_url, events)) as a,
        instance(_config(running_estate, store_url, events)) as b,
    ):
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
        async with connected(b) as on_b, connected(a) as on_a:
            await on_b.subscribe("b", TICKETS, customerId=sample.customer)
            await on_a.subscribe("a", TICKETS, customerId=sample.customer)
            await asyncio.to_thread(b.wait_for_subscribers, 1)
            await asyncio.to_thread(a.wait_for_subscribers, 1)
            published = await asyncio.to_thread(a.publish, ticket_event(sample))
            assert published[0].customer_ids == (sample.customer_id,)  # found from the organization's link
            return await on_b.next("b"), await on_a.next("a")

    on_b, on_a = asyncio.run(scenario())
    change = on_b["data"]["ticketChanged"]  # type: ignore[index]
    assert change["event"]["system"] == "tickets" and change["event"]["entity"] == "TICKET"
    assert change["event"]["kind"] == "UPDATED" and change["event"]["changedFields"] == ["status"]
    assert change["customer"] == {"id": sample.customer}
    assert change["ticket"] == {"id": encode_id("Ticket", "tickets", sample.ticket), "number": sample.ticket}
    assert on_a == on_b  # one event, the same answer on both instances
    b.wait_for_subscribers(0)  # a closed connection leaves nothing behind


def test_crmgraph_events_publish_reaches_a_subscriber_of_a_running_instance(
    running_estate: Estate, store_url: str, redis_url: str, sample: Sample, tmp_path: Path
) -> None:
    channel = _channel()
    config_file = estate_config_file(running_estate, tmp_path / "crmgraph.yaml", store_url)
    with config_file.open("a") as text:
        text.write(events_section(redis_url, channel) + "\n")
    command = [sys.executable, "-m", "crmgraph", "events", "publish", "-c", str(config_file), "--system", "tickets",
               "--entity", "ticket", "--id", sample.ticket, "--kind", "created", "--parent",
               f"party={sample.organization}"]  # fmt: skip
    with instance(_config(running_estate, store_url, events_section(redis_url, channel))) as facade:

        async def scenario() -> tuple[dict[str, object], subprocess.CompletedProcess[str]]:
            async with connected(facade) as client:
                await client.subscribe("cli", TICKETS)
                await asyncio.to_thread(facade.wait_for_subscribers, 1)
                done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60,
                                               env=os.environ)  # fmt: skip
                return await client.next("cli"), done

        heard, done = asyncio.run(scenario())
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["customerIds"] == [sample.customer_id] and printed["kind"] == "created"
    change = heard["data"]["ticketChanged"]  # type: ignore[index]
    assert change["event"]["id"] == printed["id"] and change["customer"] == {"id": sample.customer}


def test_crmgraph_events_publish_refuses_a_bus_no_instance_listens_to(
    running_estate: Estate, store_url: str, tmp_path: Path
) -> None:
    config_file = estate_config_file(running_estate, tmp_path / "crmgraph.yaml", store_url)
    command = [sys.executable, "-m", "crmgraph", "events", "publish", "-c", str(config_file), "--system", "tickets",
               "--entity", "ticket", "--id", "1"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=os.environ | {"COLUMNS": "250"})
    assert done.returncode != 0 and "events.url is memory://" in done.stderr


# --- who hears what ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def owned(store_url: str) -> Estate360:
    return Estate360(store_url)


@pytest.fixture
def governed(running_estate: Estate, store_url: str, redis_url: str) -> Iterator[tuple[Instance, Instance]]:
    """Two instances verifying HS256 tokens with the demo's roles, sharing one bus."""
    events = events_section(redis_url, _channel())
    config = _config(running_estate, store_url, events, namespace="realtime-governed", governance=GOVERNANCE)
    with instance(config) as a, instance(config) as b:
        yield a, b


def test_a_sales_rep_hears_only_of_the_customers_they_own(
    governed: tuple[Instance, Instance], owned: Estate360
) -> None:
    a, b = governed
    mine, theirs = min(owned.owned), owned.outside[0]
    rep = token("sales_rep", "rita.rep", owner_id=owned.owner)

    def event(customer_id: int, record: str) -> ChangeEvent:
        return ChangeEvent("tickets", Entity.TICKET, record, ChangeKind.CREATED, customer_ids=(customer_id,))

    async def scenario() -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
        async with connected(b, rep) as as_rep, connected(b, token("admin")) as as_admin:
            await as_rep.subscribe("rep", TICKETS)
            await as_admin.subscribe("admin", TICKETS)
            await asyncio.to_thread(b.wait_for_subscribers, 2)
            # Published in this order on one bus: had the rep been told of the first, it would come first.
            await asyncio.to_thread(a.publish, event(theirs, "900001"), event(mine, "900002"))
            return await as_rep.next("rep"), await as_admin.next("admin"), await as_admin.next("admin")

    rep_first, admin_first, admin_second = asyncio.run(scenario())
    assert rep_first["data"]["ticketChanged"]["customer"] == {"id": encode_id("Customer", str(mine))}  # type: ignore[index]
    assert admin_first["data"]["ticketChanged"]["customer"] == {"id": encode_id("Customer", str(theirs))}  # type: ignore[index]
    assert admin_second["data"]["ticketChanged"]["customer"] == {"id": encode_id("Customer", str(mine))}  # type: ignore[index]


def test_subscribing_to_a_customer_outside_the_scope_answers_as_for_a_missing_one(
    governed: tuple[Instance, Instance], owned: Estate360
) -> None:
    _, b = governed
    rep = token("sales_rep", "rita.rep", owner_id=owned.owner)
    outside, missing = encode_id("Customer", str(owned.outside[0])), encode_id("Customer", "999999999")

    async def scenario() -> list[dict[str, object]]:
        async with connected(b, rep) as client:
            await client.subscribe("outside", CUSTOMER, id=outside)
            await client.subscribe("missing", CUSTOMER, id=missing)
            return [await client.next("outside"), await client.next("missing")]

    outside_answer, missing_answer = asyncio.run(scenario())
    assert outside_answer["errors"][0]["message"].replace(outside, "X") == (  # type: ignore[index]
        missing_answer["errors"][0]["message"].replace(missing, "X")  # type: ignore[index]
    )
    assert "no customer" in outside_answer["errors"][0]["message"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("init", "headers"),
    [({}, {}), ({"Authorization": "Bearer not-a-token"}, {}), ({}, {"Authorization": "Bearer not-a-token"})],
    ids=["no credentials", "bad token in connection_init", "bad token on the upgrade request"],
)
def test_a_connection_without_valid_credentials_is_refused_at_connection_init(
    governed: tuple[Instance, Instance], init: dict[str, str], headers: dict[str, str]
) -> None:
    _, b = governed

    async def scenario() -> int | None:
        ws = await open_connection(b, init, headers)
        try:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws)
        finally:
            await ws.close()
        return closed.value.rcvd.code if closed.value.rcvd is not None else None

    assert asyncio.run(scenario()) == 4403


def test_credentials_may_come_in_connection_init_or_on_the_upgrade_request(governed: tuple[Instance, Instance]) -> None:
    _, b = governed

    async def scenario() -> None:
        async with connected(b, token("admin")), connected(b, headers=token("admin")):
            pass  # both acknowledged

    asyncio.run(scenario())


def test_subscriptions_with_one_selection_and_access_share_one_answer_per_event(
    governed: tuple[Instance, Instance], sample: Sample
) -> None:
    a, b = governed
    plain = (
        """subscription($c: ID) { ticketChanged(customerId: $c) { event { id } customer { id } ticket { subject } } }"""
    )
    personal = """subscription($c: ID) { ticketChanged(customerId: $c) { event { id } customer { id email } } }"""
    before = (AnswerCounts.executed, AnswerCounts.shared)

    async def scenario() -> list[dict[str, object]]:
        async with (
            connected(b, token("admin", "ann")) as first,
            connected(b, token("admin", "bob")) as second,
            connected(b, token("admin", "cy")) as third,
            connected(b, token("marketing")) as masked,
        ):
            for client in (first, second, third):
                await client.subscribe("plain", plain, c=sample.customer)
            await masked.subscribe("personal", personal, c=sample.customer)
            await asyncio.to_thread(b.wait_for_subscribers, 4)
            await asyncio.to_thread(a.publish, ticket_event(sample))
            return [await first.next("plain"), await second.next("plain"), await third.next("plain"),
                    await masked.next("personal")]  # fmt: skip

    first, second, third, personal_answer = asyncio.run(scenario())
    assert first == second == third and first["data"]["ticketChanged"]["ticket"]["subject"]  # type: ignore[index]
    # One execution for the three admins; the e-mail address (masked and audited) is answered on its own.
    assert (AnswerCounts.executed - before[0], AnswerCounts.shared - before[1]) == (2, 2)
    assert personal_answer["data"]["ticketChanged"]["customer"]["id"] == sample.customer  # type: ignore[index]


# --- back-pressure ----------------------------------------------------------------------------------------


def test_a_subscriber_that_falls_behind_is_disconnected_with_4429_and_its_queue_stays_bounded(
    running_estate: Estate, store_url: str, redis_url: str, sample: Sample
) -> None:
    config = _config(running_estate, store_url, events_section(redis_url, _channel(), queue_size=4))
    with instance(config) as facade:

        async def scenario() -> int | None:
            async with connected(facade) as client:
                await client.subscribe("slow", TICKETS, customerId=sample.customer)
                await asyncio.to_thread(facade.wait_for_subscribers, 1)
                subscriber = next(iter(facade.hub.fanout.subscribers))
                # One batch: it is offered to the subscriber whole, before the subscriber can take one event.
                burst = [ticket_event(sample, customer_ids=(sample.customer_id,)) for _ in range(50)]
                await asyncio.to_thread(facade.publish, *burst)
                delivered = 0
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await client.next("slow")
                        delivered += 1
            assert delivered < len(burst)
            assert subscriber.overflowed and subscriber.high_water <= 4
            return closed.value.rcvd.code if closed.value.rcvd is not None else None

        assert asyncio.run(scenario()) == 4429
        facade.wait_for_subscribers(0)
        metrics = httpx.get(f"{facade.url}/metrics").text
        assert "crmgraph_event_subscribers_dropped_total 1.0" in metrics
        assert "crmgraph_event_subscribers 0.0" in metrics


# --- the cache forgets what changed ------------------------------------------------------------------------


@pytest.fixture
def erp_copy(running_estate: Estate, tmp_path: Path) -> str:
    """A scratch copy of the ERP, changed directly as another system would."""
    target = tmp_path / "erp.sqlite"
    shutil.copy(running_estate.layout.erp_url.removeprefix("sqlite:///"), target)
    return f"sqlite:///{target}"


ORDERS = """query($id: ID!) { customer(id: $id) { orders(first: 50) { nodes { id status } } } }"""
GBSTK = {"OPEN": "A", "COMPLETED": "C"}


def _status(facade: Instance, sample: Sample) -> str:
    orders = facade.query(ORDERS, {"id": sample.customer})["data"]["customer"]["orders"]["nodes"]
    return next(order["status"] for order in orders if _decoded(order["id"])[2] == sample.order)


@pytest.mark.parametrize("cache", ["redis", "memory"])
def test_an_event_makes_every_instance_forget_the_cached_record_so_the_next_query_sees_the_change(
    running_estate: Estate, store_url: str, redis_url: str, sample: Sample, erp_copy: str, cache: str
) -> None:
    events = events_section(redis_url, _channel())
    cache_url = redis_url if cache == "redis" else "memory://"
    config = _config(running_estate, store_url, events, erp_url=erp_copy, cache_url=cache_url,
                     namespace=f"realtime-{uuid.uuid4().hex}")  # fmt: skip
    new = "COMPLETED" if sample.order_status != "COMPLETED" else "OPEN"
    with instance(config) as a, instance(config) as b:
        before = _status(b, sample)  # now cached (60 s)
        engine = create_engine(erp_copy)
        with engine.begin() as conn:
            conn.execute(update(VBAK).where(sample.order == VBAK.c.VBELN).values(GBSTK=GBSTK[new]))
        engine.dispose()
        assert _status(b, sample) == before  # the cache does not know yet
        a.publish(
            ChangeEvent("erp", Entity.ORDER, sample.order, changed=("status",), parents=(("party", sample.debtor),))
        )
        b.wait_for_received(1)  # with a memory cache, B forgets on hearing the event
        assert _status(b, sample) == new
        assert _status(a, sample) == new
