"""CPU per resolved field: the list page and the customer 360, against graphql-core's own floor.

    .venv/bin/python bench/field_cpu.py [--customers 300] [--runs 30] [--profile-runs 10] [--top 25]

Starts the demo estate (CRM, tickets, ERP) in a process of its own, links identities, and builds the
facade in this process with its cache off (every TTL 0), 0 ms upstreams, no auth (``bench/customer360.py``'s
configuration). Each query is sent straight to the ASGI app (no socket, no HTTP client: what is measured is
the facade's own work, the upstream HTTP client and the SQL driver included), ``--runs`` times, and the
process's CPU time is divided by the fields the answer resolved: every key of every object in ``data``,
list elements counted one by one; the asyncio tasks created per answer are counted too (a task factory),
a figure that does not move with the machine's load. Then ``--profile-runs`` more under cProfile, whose top ``--top``
functions by cumulative and by own time are printed (the main thread's CPU time).

The floor: a schema built from the facade's own SDL (``schema.graphql``'s shape) with no resolvers, so that
graphql-core's default resolver reads each field from plain dicts, answers the same document from the
facade's answer; once synchronously, and once with every field an ``async`` resolver returning the same
value (what graphql-core's asynchronous execution costs by itself). The document is parsed and validated
once, outside the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from common import active_customers, estate_processors, global_id, linked_store, seeded_layout
from customer360 import QUERY as CUSTOMER_360
from customer360 import config_for
from graphql import (
    DocumentNode,
    GraphQLObjectType,
    GraphQLSchema,
    execute,
    execute_sync,
    parse,
    print_schema,
    validate,
)
from graphql import build_schema as build_sdl_schema
from peer_queries import LIST_FULL
from starlette.applications import Starlette

from crmgraph.app import build_app
from crmgraph.demo.process import estate_process


def resolved_fields(value: Any) -> int:
    """Fields an answer resolved: each key of each object, each element of a list counted on its own."""
    if isinstance(value, dict):
        return len(value) + sum(resolved_fields(v) for v in value.values())
    if isinstance(value, list):
        return sum(resolved_fields(v) for v in value)
    return 0


class AsgiCaller:
    """POSTs a GraphQL body to an ASGI app in this thread: no socket, no HTTP client to count."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def post(self, body: dict[str, Any]) -> dict[str, Any]:
        payload = orjson.dumps(body)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"content-type", b"application/json"),
                (b"accept", b"application/graphql-response+json"),
                (b"content-length", str(len(payload)).encode()),
            ],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False
        chunks: list[bytes] = []
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # a disconnect never comes while the answer is written
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        answer: dict[str, Any] = orjson.loads(b"".join(chunks))
        if status != 200 or answer.get("errors"):
            raise SystemExit(f"query failed ({status}): {str(answer.get('errors', answer))[:2000]}")
        return answer


async def measure(caller: AsgiCaller, bodies: list[dict[str, Any]], runs: int) -> tuple[float, int, int, list[float]]:
    """CPU seconds, resolved fields and asyncio tasks created for ``runs`` passes over ``bodies``, and the
    CPU seconds of each answer (their median moves less with other work on the machine than the mean)."""
    fields = 0
    each: list[float] = []
    loop = asyncio.get_running_loop()
    tasks = 0

    def counting(loop: asyncio.AbstractEventLoop, coroutine: Any, **options: Any) -> asyncio.Task[Any]:
        nonlocal tasks
        tasks += 1
        return asyncio.Task(coroutine, loop=loop, **options)

    loop.set_task_factory(counting)
    started = time.process_time()
    try:
        for _ in range(runs):
            for body in bodies:
                before = time.process_time()
                fields += resolved_fields((await caller.post(body))["data"])
                each.append(time.process_time() - before)
        return time.process_time() - started, fields, tasks, each
    finally:
        loop.set_task_factory(None)


async def profile(
    caller: AsgiCaller, bodies: list[dict[str, Any]], runs: int, top: int, dump: Path | None = None
) -> str:
    # The main thread's CPU time, not the wall clock: waits on the estate and on the ERP's driver threads
    # (the GIL) would otherwise be charged to whatever function was running when they began.
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    for _ in range(runs):
        for body in bodies:
            await caller.post(body)
    profiler.disable()
    if dump is not None:
        profiler.dump_stats(dump)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative")
    stats.print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def floor_schemas(sdl: str) -> tuple[GraphQLSchema, GraphQLSchema]:
    """The facade's schema shape without resolvers, and the same with every field an async identity."""
    plain = build_sdl_schema(sdl)
    asynchronous = build_sdl_schema(sdl)
    for named in asynchronous.type_map.values():
        if isinstance(named, GraphQLObjectType) and not named.name.startswith("__"):
            for name, field in named.fields.items():
                field.resolve = _async_reader(name)
    return plain, asynchronous


def _async_reader(name: str) -> Callable[..., Any]:
    async def read(source: Any, info: Any, **arguments: Any) -> Any:
        return source.get(name) if isinstance(source, dict) else None

    return read


def floor(
    schema: GraphQLSchema, document: DocumentNode, answers: list[tuple[dict[str, Any], dict[str, Any]]], runs: int
) -> tuple[float, int]:
    """CPU seconds and fields for graphql-core answering ``document`` from each (variables, data) answer."""
    errors = validate(schema, document)
    if errors:
        raise SystemExit(f"the floor's schema refuses the document: {errors[0]}")
    asynchronous = any(
        field.resolve is not None
        for named in schema.type_map.values()
        if isinstance(named, GraphQLObjectType)
        for field in named.fields.values()
    )
    if asynchronous:
        return asyncio.run(_floor_async(schema, document, answers, runs))
    fields = 0
    started = time.process_time()
    for _ in range(runs):
        for variables, data in answers:
            result = execute_sync(schema, document, root_value=data, variable_values=variables)
            if result.errors:
                raise SystemExit(f"the floor failed: {result.errors[0]}")
            fields += resolved_fields(result.data)
    return time.process_time() - started, fields


async def _floor_async(
    schema: GraphQLSchema, document: DocumentNode, answers: list[tuple[dict[str, Any], dict[str, Any]]], runs: int
) -> tuple[float, int]:
    fields = 0
    started = time.process_time()
    for _ in range(runs):
        for variables, data in answers:
            result = await _execute(schema, document, data, variables)
            if result.errors:
                raise SystemExit(f"the floor failed: {result.errors[0]}")
            fields += resolved_fields(result.data)
    return time.process_time() - started, fields


async def _execute(schema: GraphQLSchema, document: DocumentNode, data: Any, variables: dict[str, Any]) -> Any:
    result = execute(schema, document, root_value=data, variable_values=variables)
    return await result if asyncio.iscoroutine(result) else result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--sample", type=int, default=10, help="customers asked the customer-360 query")
    parser.add_argument("--runs", type=int, default=30, help="passes over each query's requests, measured")
    parser.add_argument("--profile-runs", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-peer"))
    parser.add_argument("--dump-profiles", type=Path, help="a directory to write each query's raw cProfile data to")
    args = parser.parse_args()

    layout = seeded_layout(args.data_dir, args.customers)
    estate_cpus = estate_processors(required=False)  # the estate on a processor of its own
    with estate_process(layout.root, customers=args.customers, seed=42, cpus=estate_cpus) as urls:
        identity_url = f"sqlite:///{layout.root.resolve() / 'bench-identity.sqlite'}"
        config = config_for(urls, identity_url, 0)
        store = linked_store(identity_url, config)
        ids = [global_id("Customer", c) for c in active_customers(store, args.sample)]
        queries = {
            "customers(first: 50): owner, contacts, orders, tickets": [{"query": LIST_FULL}],
            f"customer 360 ({len(ids)} customers)": [{"query": CUSTOMER_360, "variables": {"id": i}} for i in ids],
        }
        app = build_app(config)
        rows: list[tuple[str, float, int, int, int, list[float]]] = []
        profiles: dict[str, str] = {}
        answers: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}

        async def facade() -> None:
            async with app.router.lifespan_context(app):
                caller = AsgiCaller(app)
                for name, bodies in queries.items():
                    answers[name] = [(b.get("variables", {}), (await caller.post(b))["data"]) for b in bodies]
                    await measure(caller, bodies, 2)  # warm: imports, the parser's and validator's caches
                    seconds, fields, tasks, each = await measure(caller, bodies, args.runs)
                    rows.append((name, seconds, fields, args.runs * len(bodies), tasks, each))
                    dump = None
                    if args.dump_profiles is not None:
                        args.dump_profiles.mkdir(parents=True, exist_ok=True)
                        dump = args.dump_profiles / f"{'list' if name.startswith('customers') else '360'}.prof"
                    profiles[name] = await profile(caller, bodies, args.profile_runs, args.top, dump)

        asyncio.run(facade())
        schema = app.router.routes[0].app.schema  # type: ignore[attr-defined]  # the GraphQLApp's
        plain, asynchronous = floor_schemas(print_schema(schema._schema))
        floors: list[tuple[str, float, int, float, int]] = []
        for name, bodies in queries.items():
            document = parse(bodies[0]["query"])
            sync_s, sync_fields = floor(plain, document, answers[name], args.runs)
            async_s, async_fields = floor(asynchronous, document, answers[name], args.runs)
            floors.append((name, sync_s, sync_fields, async_s, async_fields))

    print(f"CPU per resolved field, cache off, 0 ms upstreams, {args.runs} runs (estate on its own processor)")
    print()
    print("| query | fields per answer | asyncio tasks per answer | crmgraph ms per answer (median) "
          "| crmgraph µs per field | graphql-core floor µs per field (sync) | floor (async resolvers) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for (name, seconds, fields, answered, tasks, each), (_, sync_s, sync_fields, async_s, async_fields) in zip(
        rows, floors, strict=True
    ):
        print(
            f"| {name} | {fields / answered:.0f} | {tasks / answered:.0f} | {seconds * 1000 / answered:.1f} "
            f"({statistics.median(each) * 1000:.1f}) "
            f"| {seconds * 1e6 / fields:.1f} "
            f"| {sync_s * 1e6 / sync_fields:.2f} | {async_s * 1e6 / async_fields:.2f} |"
        )
    for name, text in profiles.items():
        print()
        print(f"cProfile, {name}, {args.profile_runs} runs, top {args.top} by cumulative time:")
        print(text)


if __name__ == "__main__":
    main()
