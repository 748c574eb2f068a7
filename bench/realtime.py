"""Change-to-subscriber latency over two instances, and the events per second one instance sustains.

    .venv/bin/python bench/realtime.py [--customers 300] [--subscribers 1000] [--events 200] [--rate 20]
                                       [--burst 5000] [--burst-subscribers 10] [--redis redis://127.0.0.1:6379/0]

Two facade instances run as `crmgraph serve` processes over one Redis bus, in front of the demo estate
(its own process). This process opens the graphql-transport-ws clients, half on each instance, each
subscribed to `ticketChanged` (every customer: each event reaches every subscriber), and publishes as a
webhook handler will: `EventHub.publish` (the customer found from the organization's link, the cache
entries forgotten, one PUBLISH). Latency is from the call to `publish` to the subscriber's `next` message
(one clock: this process's); the clients run on one event loop here, so their own parsing is counted.

Throughput: a burst of events published in batches of 100 as fast as Redis takes them, to one instance
with `--burst-subscribers` subscribers; events per second = burst / time until every subscriber has every
event (queues sized so that nobody is dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from argparse import ArgumentParser, Namespace
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
from common import linked_store, percentile
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from crmgraph.cache.backend import open_backend
from crmgraph.cache.read_through import ReadThrough
from crmgraph.config import parse_config
from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.process import estate_process
from crmgraph.demo.seed import data_dir_is_current, generate_estate
from crmgraph.events import ChangeEvent, ChangeKind, Entity, EventHub
from crmgraph.sources import build_adapters

SUBSCRIPTION = "subscription { ticketChanged { event { id kind } customer { id } } }"


def config_text(urls: dict[str, str], identity_url: str, redis_url: str, channel: str, queue_size: int) -> str:
    return f"""
sources:
  crm: {{adapter: hubspot, url: "{urls["crm"]}", token: demo-crm-token}}
  erp: {{adapter: sql, url: "{urls["erp"]}"}}
  tickets: {{adapter: zendesk, url: "{urls["tickets"]}", email: api@demo.crmgraph.test, token: demo-zendesk-token}}
identity: {{url: "{identity_url}"}}
auth: {{anonymous_role: admin}}
policy: {{roles: {{admin: {{mutations: ["*"]}}}}}}
audit: {{enabled: false}}
events: {{url: "{redis_url}", channel: "{channel}", queue_size: {queue_size}}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def instances(config_file: Path, count: int) -> Iterator[list[str]]:
    """``count`` facade processes serving ``config_file``; their base URLs."""
    ports = [free_port() for _ in range(count)]
    command = [sys.executable, "-m", "crmgraph", "serve", "-c", str(config_file), "--port"]
    processes = [subprocess.Popen([*command, str(port)], stderr=subprocess.DEVNULL) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit(f"{url} did not start")
                time.sleep(0.1)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


class Subscribers:
    """Connections each subscribed once; what each received, by event id, when."""

    def __init__(self) -> None:
        self.connections: list[ClientConnection] = []
        self.received: list[dict[str, float]] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self, urls: list[str], count: int) -> None:
        for n in range(count):
            url = urls[n % len(urls)].replace("http://", "ws://") + "/graphql"
            ws = await connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], max_queue=None)
            await ws.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
            assert orjson.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}).decode())
            received: dict[str, float] = {}
            self.connections.append(ws)
            self.received.append(received)
            self.tasks.append(asyncio.create_task(self._read(ws, received)))

    @staticmethod
    async def _read(ws: ClientConnection, received: dict[str, float]) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                message = orjson.loads(raw)
                if message["type"] == "next":
                    received[message["payload"]["data"]["ticketChanged"]["event"]["id"]] = time.perf_counter()
                elif message["type"] == "ping":
                    await ws.send('{"type": "pong"}')

    def have_all(self, ids: list[str]) -> bool:
        return all(all(i in got for i in ids) for got in self.received)

    async def close(self) -> None:
        for ws in self.connections:
            await ws.close()
        for task in self.tasks:
            task.cancel()


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def warm_up(hub: EventHub, subscribers: Subscribers, event: ChangeEvent) -> None:
    """Publish until every subscriber has heard one event (then every subscription is registered), and wait
    until nothing more arrives: the measured events must not queue behind the warm-up's."""
    while not all(subscribers.received):
        await hub.publish([ChangeEvent(event.system, event.entity, event.record_id, parents=event.parents)])
        deadline = time.monotonic() + 5
        while not all(subscribers.received) and time.monotonic() < deadline:  # noqa: ASYNC110 - polls other tasks' results
            await asyncio.sleep(0.05)
    total = -1
    while total != (total := sum(len(got) for got in subscribers.received)):  # noqa: ASYNC110 - until quiet for 1 s
        await asyncio.sleep(1)
    for got in subscribers.received:
        got.clear()


async def measure(a: Namespace, urls: list[str], hub: EventHub, samples: list[tuple[str, str]]) -> dict[str, float]:
    subscribers = Subscribers()
    await subscribers.open(urls, a.subscribers)
    template = ChangeEvent("tickets", Entity.TICKET, samples[0][1], parents=(("party", samples[0][0]),))
    await warm_up(hub, subscribers, template)
    published: dict[str, float] = {}
    for n in range(a.events):
        org, ticket = samples[n % len(samples)]
        event = ChangeEvent("tickets", Entity.TICKET, ticket, ChangeKind.UPDATED, ("status",), (("party", org),))
        published[event.id] = time.perf_counter()
        await hub.publish([event])
        await asyncio.sleep(1 / a.rate)
    ids = list(published)
    await until(lambda: subscribers.have_all(ids), 120, "every subscriber to hear every event")
    latencies = [(got[i] - published[i]) * 1000 for got in subscribers.received for i in ids]
    await subscribers.close()
    return {"n": len(latencies), "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
            "max": max(latencies)}  # fmt: skip


async def throughput(a: Namespace, url: str, hub: EventHub, samples: list[tuple[str, str]]) -> dict[str, float]:
    subscribers = Subscribers()
    await subscribers.open([url], a.burst_subscribers)
    await warm_up(hub, subscribers, ChangeEvent("tickets", Entity.TICKET, samples[0][1],
                                                 parents=(("party", samples[0][0]),)))  # fmt: skip
    events = [
        ChangeEvent("tickets", Entity.TICKET, ticket, ChangeKind.UPDATED, ("status",), (("party", org),))
        for n in range(a.burst)
        for org, ticket in [samples[n % len(samples)]]
    ]
    started = time.perf_counter()
    for start in range(0, len(events), 100):
        await hub.publish(events[start : start + 100])
    ids = [event.id for event in events]
    await until(lambda: subscribers.have_all(ids), 600, "every subscriber to hear the burst")
    elapsed = max(max(got.values()) for got in subscribers.received) - started
    await subscribers.close()
    return {"events": len(events), "seconds": elapsed, "per_s": len(events) / elapsed}


def main() -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--burst-subscribers", type=int, default=10)
    parser.add_argument("--redis", default=os.environ.get("CRMGRAPH_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-realtime"))
    args = parser.parse_args()

    layout = EstateLayout(args.data_dir)
    if not data_dir_is_current(layout.root, seed=42, customers=args.customers):
        generate_estate(layout, customers=args.customers, seed=42)
    with estate_process(layout.root, customers=args.customers, seed=42) as urls:
        identity_url = f"sqlite:///{layout.root.resolve() / 'bench-realtime-identity.sqlite'}"
        channel = f"bench-realtime-{uuid.uuid4().hex}"
        queue = max(1024, args.burst + 100)
        config_file = layout.root / "bench-realtime.yaml"
        config_file.write_text(config_text(urls, identity_url, args.redis, channel, queue))
        config = parse_config(config_file.read_text())
        store = linked_store(identity_url, config)
        with store.engine.connect() as conn:
            query = "SELECT source_id FROM crmgraph_links WHERE source = 'tickets' AND entity = 'party' LIMIT 50"
            orgs = [row[0] for row in conn.exec_driver_sql(query)]
        samples = [(org, str(900000 + n)) for n, org in enumerate(orgs)]

        async def run() -> tuple[dict[str, float], dict[str, float]]:
            # The publisher: what an instance receiving a webhook does (identity look-up, forget, PUBLISH).
            hub = EventHub(config.events, ReadThrough(open_backend(config.cache), config.cache.ttl_for), store,
                           build_adapters(config))  # fmt: skip
            try:
                with instances(config_file, 2) as urls_ab:
                    latency = await measure(args, urls_ab, hub, samples)
                    rate = await throughput(args, urls_ab[0], hub, samples)
            finally:
                await hub.close()
            return latency, rate

        latency, rate = asyncio.run(run())
        store.close()
    print(f"change-to-subscriber latency, {args.subscribers} subscribers over 2 instances, {args.events} events "
          f"at {args.rate:g}/s: {latency['n']} deliveries, p50 {latency['p50']:.2f} ms, p99 {latency['p99']:.2f} ms, "
          f"max {latency['max']:.2f} ms")  # fmt: skip
    print(f"one instance, {args.burst_subscribers} subscribers: {rate['events']:.0f} events in {rate['seconds']:.2f} s "
          f"= {rate['per_s']:.0f} events/s ({rate['per_s'] * args.burst_subscribers:.0f} deliveries/s)")  # fmt: skip


if __name__ == "__main__":
    main()
