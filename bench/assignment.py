"""Event-to-assignment latency of lead distribution: leads made in the marketing system's own API at a steady
rate, each heard by the facade through the marketing system's webhooks, assigned by the rules, its owner
written into the CRM and announced as ``leadAssigned``.

    .venv/bin/python bench/assignment.py [--rate 100] [--leads 500] [--latency-ms 0] [--customers 300]
                                         [--workers 32] [--sample-every 20] [--store URL] [--pin]

Starts the demo estate (its own process) and one facade (a ``crmgraph serve`` process, so that its CPU time
can be read from /proc) configured as the demo is for leads: the ``workflows.assignment.leads`` section of
``crmgraph/demo/config.yaml`` as it stands (four teams of the demo CRM's owners, territory by region, then
language, working hours, capacity and round robin), the marketing source (the ``rest`` adapter over
``crmgraph/demo/marketing.yaml``) and the marketing system's webhooks (Mautic format) with a secret; the
estate is told to deliver its webhooks to the facade (``POST {marketing}/_control/webhooks``). The identity
store is linked afresh each run, and the assignment store is that same SQLite file (the default:
``identity.url``) unless ``--store`` names another.

This process subscribes to ``leadAssigned`` over graphql-transport-ws, creates a few warm-up leads one at a
time (until the subscription has heard one), then ``--leads`` leads (``POST /api/contacts/new``, countries
spread over the teams' territories) on a fixed schedule of ``--rate`` per second, from ``--workers`` client
tasks: each takes the next slot and sends when it is due (late when every task is busy: the achieved rate
says so). For each lead:

- (a) from the create call's **return** (its id is known only then) to this subscriber's receipt of its
  ``leadAssigned`` message (one clock: this process's); the same from the create **request's start** is
  printed too;
- (b) for every ``--sample-every``-th lead, from the create call's return until the CRM's own API shows an
  owner on the contact of the lead's e-mail (``POST /crm/v3/objects/contacts/search``, polled every
  ``--poll-ms``: the figure is high by up to that much plus one search);
- (c) from the create call's return to the facade's claim of the lead (``claimed_at`` in the store, wall
  clocks of two processes on one machine): the webhook's share.

Then checks that every lead was assigned exactly once: the store's rows (state, owner, no earlier owner,
version), the ``leadAssigned`` messages per lead, and in the CRM's own API exactly one contact per lead's
e-mail, carrying the store's owner. ``--latency-ms`` injects latency into every answer of the CRM, the
ticket system and the marketing system (``POST /_control/faults``) after the warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml
from common import estate_processors, linked_store, percentile, seeded_layout
from marketing import SPEC
from marketing import config_for as marketing_config
from realtime import free_port
from sqlalchemy import create_engine, text
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from crmgraph.cli_graph import demo_config_text
from crmgraph.demo.layout import EstateCredentials
from crmgraph.demo.process import estate_process
from crmgraph.schema.ids import decode_id

SECRET = "bench-assignment-webhook-secret"
SUBSCRIPTION = "subscription { leadAssigned { assignment { leadId ownerId state } } }"
# Mautic keeps the country's English name; these fall to the demo's apac, emea and amer teams, and (the last
# two: no territory holds them) to inside-sales.
COUNTRIES = ("Germany", "France", "United Kingdom", "China", "Japan", "Singapore", "United States", "Brazil", "")
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def facade_config(urls: dict[str, str], identity_url: str, store_url: str | None) -> str:
    """The benchmarks' facade over the four systems, with the demo's lead distribution and the marketing
    system's webhooks; as YAML for ``crmgraph serve -c``."""
    api = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    api["base_url"] = f"{urls['marketing']}/api"
    leads = yaml.safe_load(demo_config_text())["workflows"]["assignment"]["leads"]
    assignment: dict[str, Any] = {"leads": leads, **({"store": store_url} if store_url else {})}
    return f"""
sources:
  crm: {{adapter: hubspot, url: "{urls["crm"]}", token: demo-crm-token}}
  erp: {{adapter: sql, url: "{urls["erp"]}"}}
  tickets: {{adapter: zendesk, url: "{urls["tickets"]}", email: api@demo.crmgraph.test, token: demo-zendesk-token}}
  marketing: {json.dumps({"adapter": "rest", "api": api})}
identity: {{url: "{identity_url}"}}
auth: {{anonymous_role: admin}}
policy: {{roles: {{admin: {{mutations: ["*"], explain: true}}}}}}
rate_limit: {{enabled: false}}
webhooks: {{sources: {{marketing: {{secret: "{SECRET}", format: mautic}}}}}}
workflows: {{assignment: {json.dumps(assignment)}}}
"""


@contextlib.contextmanager
def facade_process(config_file: Path, log_file: Path) -> Any:
    port = free_port()
    command = [sys.executable, "-m", "crmgraph", "serve", "-c", str(config_file), "--port", str(port)]
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the facade did not start: see {log_file}")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def cpu_s(pid: int) -> float:
    """User + system CPU time of a process (its threads included), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


@dataclass
class Lead:
    email: str
    started: float  # perf_counter at the create request's start
    returned: float = 0.0  # ... at its return
    returned_wall: float = 0.0  # time.time() at its return, against the store's claimed_at
    lead_id: str = ""
    heard: float | None = None
    in_crm: float | None = None


@dataclass
class Run:
    leads: list[Lead] = field(default_factory=list)
    by_id: dict[str, Lead] = field(default_factory=dict)
    heard: Counter[str] = field(default_factory=Counter)  # leadAssigned messages per lead id
    owners_heard: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


class Listener:
    """One graphql-transport-ws connection subscribed to ``leadAssigned``; each message's receipt time."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None
        self.any_heard = asyncio.Event()

    async def open(self, url: str) -> None:
        ws_url = url.replace("http://", "ws://") + "/graphql"
        self.ws = await connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")], max_queue=None)
        await self.ws.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
        assert orjson.loads(await self.ws.recv())["type"] == "connection_ack"
        await self.ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}).decode())
        self.task = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            now = time.perf_counter()
            message = orjson.loads(raw)
            if message["type"] == "ping":
                await ws.send('{"type": "pong"}')
            elif message["type"] == "next":
                payload = message["payload"]
                if payload.get("errors"):
                    self.run.failures.append(f"leadAssigned error: {payload['errors']}")
                    continue
                said = payload["data"]["leadAssigned"]["assignment"]
                lead_id = decode_id(said["leadId"])[1][-1]
                self.run.heard[lead_id] += 1
                self.run.owners_heard[lead_id] = said["ownerId"]
                lead = self.run.by_id.get(lead_id)
                if lead is not None and lead.heard is None:
                    lead.heard = now
                self.any_heard.set()
            elif message["type"] in ("error", "complete"):
                self.run.failures.append(f"subscription ended: {message}")

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


async def create(mautic: httpx.AsyncClient, run: Run, n: int, tag: str) -> Lead:
    lead = Lead(f"bench-{tag}-{n}-{uuid.uuid4().hex[:6]}@prospect.example.test", time.perf_counter())
    body = {"firstname": "Bench", "lastname": f"Lead{n}", "email": lead.email, "country": COUNTRIES[n % len(COUNTRIES)]}
    answer = await mautic.post("/api/contacts/new", json=body)
    lead.returned, lead.returned_wall = time.perf_counter(), time.time()
    if answer.status_code != 201:
        raise SystemExit(f"the marketing system refused a lead ({answer.status_code}): {answer.text[:300]}")
    lead.lead_id = str(answer.json()["contact"]["id"])
    run.by_id[lead.lead_id] = lead
    run.leads.append(lead)
    return lead


async def crm_owner(crm: httpx.AsyncClient, email: str) -> list[dict[str, Any]]:
    body = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}],
            "properties": ["email", "hubspot_owner_id"], "limit": 10}  # fmt: skip
    answer = await crm.post("/crm/v3/objects/contacts/search", json=body)
    answer.raise_for_status()
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


async def watch_crm(crm: httpx.AsyncClient, lead: Lead, poll_s: float, timeout_s: float) -> None:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        found = await crm_owner(crm, lead.email)
        if any(c["properties"].get("hubspot_owner_id") for c in found):
            lead.in_crm = time.perf_counter()
            return
        await asyncio.sleep(poll_s)


async def until(condition: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def drive(args: argparse.Namespace, urls: dict[str, str], facade: str, pid: int) -> dict[str, Any]:
    run = Run()
    credentials = EstateCredentials()
    limits = httpx.Limits(max_connections=args.workers + 8, max_keepalive_connections=args.workers + 8)
    mautic = httpx.AsyncClient(base_url=urls["marketing"], headers={"Authorization": credentials.marketing_basic},
                               timeout=60, limits=limits)  # fmt: skip
    crm = httpx.AsyncClient(base_url=urls["crm"], headers={"Authorization": f"Bearer {credentials.crm_token}"},
                            timeout=60, limits=limits)  # fmt: skip
    listener = Listener(run)
    await listener.open(facade)
    tag = uuid.uuid4().hex[:6]
    try:
        # Warm-up: one lead at a time until the subscription (registered asynchronously) hears one.
        warm = Run()
        for n in range(20):
            lead = await create(mautic, warm, n, f"{tag}w")
            run.by_id[lead.lead_id] = lead
            if await until(listener.any_heard.is_set, 3 if n < 19 else 20):
                break
        else:
            raise SystemExit("no leadAssigned heard for the warm-up leads: see the facade's log")
        warm_ids = set(warm.by_id)
        await asyncio.sleep(1)
        run.by_id.clear()
        if args.latency_ms:
            for system in ("crm", "tickets", "marketing"):
                (await httpx.AsyncClient().post(f"{urls[system]}/_control/faults",
                                                json={"latency_ms": args.latency_ms})).raise_for_status()  # fmt: skip

        schedule = iter(range(args.leads))
        start = time.perf_counter() + 0.05
        cpu_before = cpu_s(pid)
        watchers: list[asyncio.Task[None]] = []

        async def worker() -> None:
            for n in schedule:
                due = start + n / args.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                lead = await create(mautic, run, n, tag)
                if n % args.sample_every == 0:
                    watchers.append(asyncio.create_task(watch_crm(crm, lead, args.poll_ms / 1000, args.wait_s)))

        await asyncio.gather(*(worker() for _ in range(args.workers)))
        created_s = max(lead.returned for lead in run.leads) - min(lead.started for lead in run.leads)
        all_heard = await until(lambda: all(lead.heard is not None for lead in run.leads), args.wait_s)
        cpu_used = cpu_s(pid) - cpu_before
        busy_s = max((lead.heard or 0.0) for lead in run.leads) - start
        await asyncio.gather(*watchers)
        await asyncio.sleep(1)  # late duplicates of leadAssigned, if any
        if not all_heard:
            run.failures.append(f"{sum(lead.heard is None for lead in run.leads)} leads not heard in {args.wait_s} s")

        # Exactly once, in the CRM's own API: one contact per lead's e-mail, with an owner.
        crm_contacts: dict[str, list[dict[str, Any]]] = {}
        gate = asyncio.Semaphore(8)

        async def look(lead: Lead) -> None:
            async with gate:
                crm_contacts[lead.lead_id] = await crm_owner(crm, lead.email)

        await asyncio.gather(*(look(lead) for lead in run.leads))
        if args.latency_ms:
            for system in ("crm", "tickets", "marketing"):
                (await httpx.AsyncClient().post(f"{urls[system]}/_control/faults", json={})).raise_for_status()
    finally:
        await listener.close()
        await mautic.aclose()
        await crm.aclose()
    return {"run": run, "warm_ids": warm_ids, "created_s": created_s, "cpu_s": cpu_used, "busy_s": busy_s,
            "crm": crm_contacts}  # fmt: skip


def check_store(store_url: str, run: Run, warm_ids: set[str], crm: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    engine = create_engine(store_url)
    with engine.connect() as conn:
        rows = {str(r.lead_id): r for r in conn.execute(text(
            "SELECT lead_id, state, owner_id, team, rule, crm_id, version, history, claimed_at, assigned_at "
            "FROM crmgraph_lead_assignments WHERE source = 'marketing'"))}  # fmt: skip
    engine.dispose()
    anomalies: list[str] = []
    ids = [lead.lead_id for lead in run.leads]
    extra = set(rows) - set(ids) - warm_ids
    if extra:
        anomalies.append(f"{len(extra)} store rows for leads this run did not make: {sorted(extra)[:5]}")
    states = Counter(rows[i].state if i in rows else "no row" for i in ids)
    for lead_id in ids:
        row = rows.get(lead_id)
        heard = run.heard[lead_id]
        contacts = crm.get(lead_id, [])
        if row is None or row.state != "assigned":
            anomalies.append(f"lead {lead_id}: {row.state if row else 'no row'} in the store")
            continue
        if json.loads(row.history) or row.version != 3:
            anomalies.append(f"lead {lead_id}: version {row.version}, earlier owners {row.history}")
        if heard != 1:
            anomalies.append(f"lead {lead_id}: leadAssigned heard {heard} times")
        elif run.owners_heard[lead_id] != row.owner_id:
            anomalies.append(f"lead {lead_id}: heard owner {run.owners_heard[lead_id]}, store {row.owner_id}")
        if len(contacts) != 1:
            anomalies.append(f"lead {lead_id}: {len(contacts)} CRM contacts with its e-mail")
        elif (contacts[0]["id"], contacts[0]["properties"].get("hubspot_owner_id")) != (row.crm_id, row.owner_id):
            said = contacts[0]["properties"].get("hubspot_owner_id")
            anomalies.append(f"lead {lead_id}: CRM contact {contacts[0]['id']} owner {said}, "
                             f"store {row.crm_id} {row.owner_id}")  # fmt: skip

    to_claim = [(_utc(rows[lead.lead_id].claimed_at) - lead.returned_wall) * 1000 for lead in run.leads
                if lead.lead_id in rows]  # fmt: skip
    owners = Counter(str(rows[i].owner_id) for i in ids if i in rows)
    rules = Counter(f"{rows[i].team}/{rows[i].rule}" for i in ids if i in rows)
    return {"states": states, "anomalies": anomalies, "to_claim": to_claim, "owners": owners, "rules": rules}


def _utc(value: Any) -> float:
    """A stored time (SQLite hands back naive UTC) as epoch seconds."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def line(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: none"
    return (f"{name}: n={len(values)}  p50 {percentile(values, .5):7.1f} ms  p95 {percentile(values, .95):7.1f} ms"
            f"  p99 {percentile(values, .99):7.1f} ms  max {max(values):7.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="leads created per second")
    parser.add_argument("--leads", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="injected into the CRM, tickets and marketing")
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--workers", type=int, default=32, help="client tasks creating leads")
    parser.add_argument("--sample-every", type=int, default=20, help="every n-th lead's owner polled in the CRM")
    parser.add_argument("--poll-ms", type=float, default=20.0)
    parser.add_argument("--wait-s", type=float, default=120.0, help="how long to wait for every assignment")
    parser.add_argument("--store", help="the assignment store (SQLAlchemy URL); default: the identity store's")
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-assignment"))
    parser.add_argument("--pin", action="store_true",
                        help="the estate on the last processor, the facade and this client on the others")  # fmt: skip
    args = parser.parse_args()

    layout = seeded_layout(args.data_dir, args.customers)
    estate_cpus = estate_processors(required=True) if args.pin else None
    load_before = os.getloadavg()[0]
    with estate_process(layout.root, customers=args.customers, seed=42, cpus=estate_cpus) as urls:
        identity_path = layout.root.resolve() / "bench-assignment-identity.sqlite"
        identity_path.unlink(missing_ok=True)  # linked afresh, and an empty assignment store, every run
        identity_url = f"sqlite:///{identity_path}"
        store = linked_store(identity_url, marketing_config(urls, identity_url, 0))
        store.close()
        if args.store:
            engine = create_engine(args.store)
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS crmgraph_lead_assignments"))
                conn.execute(text("DROP TABLE IF EXISTS crmgraph_assignment_rotations"))
            engine.dispose()
        config_file = layout.root / "bench-assignment.yaml"
        config_file.write_text(facade_config(urls, identity_url, args.store))
        with facade_process(config_file, layout.root / "bench-assignment-facade.log") as (facade, pid):
            hook = {"url": f"{facade}/webhooks/marketing", "secret": SECRET, "retry_base_s": 0.2}
            httpx.post(f"{urls['marketing']}/_control/webhooks", json=hook, timeout=10).raise_for_status()
            result = asyncio.run(drive(args, urls, facade, pid))
    load_after = os.getloadavg()[0]

    run: Run = result["run"]
    checked = check_store(args.store or identity_url, run, result["warm_ids"], result["crm"])
    heard = [(lead.heard - lead.returned) * 1000 for lead in run.leads if lead.heard is not None]
    heard_from_start = [(lead.heard - lead.started) * 1000 for lead in run.leads if lead.heard is not None]
    in_crm = [(lead.in_crm - lead.returned) * 1000 for lead in run.leads if lead.in_crm is not None]
    create_ms = [(lead.returned - lead.started) * 1000 for lead in run.leads]
    sampled = len(range(0, args.leads, args.sample_every))
    print(f"lead assignment, {args.customers} customers, {args.latency_ms:g} ms injected per upstream answer; estate "
          + (f"pinned to processor {sorted(estate_cpus)[0]}" if estate_cpus else "sharing the processors")
          + f"; load average {load_before:.1f} before, {load_after:.1f} after")  # fmt: skip
    achieved = len(run.leads) / result["created_s"]
    print(f"created {len(run.leads)} leads in {result['created_s']:.2f} s: {achieved:.1f}/s "
          f"achieved of {args.rate:g}/s asked ({args.workers} client tasks)")  # fmt: skip
    print(line("create call (marketing API)", create_ms))
    print(f"store: {dict(checked['states'])}; leadAssigned heard for {sum(1 for lead in run.leads if lead.heard)} "
          f"of {len(run.leads)}; anomalies: {len(checked['anomalies']) + len(run.failures)}")  # fmt: skip
    for anomaly in [*run.failures, *checked["anomalies"]][:20]:
        print(f"  {anomaly}")
    print(line("(a) create returned -> leadAssigned heard", heard))
    print(line("    create started  -> leadAssigned heard", heard_from_start))
    print(line(f"(b) create returned -> owner in the CRM's API (every {args.sample_every}th, polled "
               f"{args.poll_ms:g} ms; {len(in_crm)} of {sampled})", in_crm))  # fmt: skip
    print(line("(c) create returned -> facade's claim (webhook delivery)", checked["to_claim"]))
    print(f"facade CPU {result['cpu_s']:.2f} s over {result['busy_s']:.2f} s from the first create to the last "
          f"assignment heard: {result['cpu_s'] / max(len(run.leads), 1) * 1000:.1f} ms per lead, "
          f"{result['cpu_s'] / result['busy_s'] * 100:.0f}% of one processor")  # fmt: skip
    print("owners: " + ", ".join(f"{o} {n}" for o, n in sorted(checked["owners"].items())))
    print("team/rule: " + ", ".join(f"{r} {n}" for r, n in sorted(checked["rules"].items())))


if __name__ == "__main__":
    main()
