"""``crmgraph events publish``: put a change event on the bus, as a webhook or change feed will.

Run against the configuration the instances use: the event goes on their shared bus (``events.url``, a
Redis), the cache entries it affects are forgotten in the shared cache, and every instance hears it (and
forgets its own entries, and tells its subscribers). With ``events.url: memory://`` no instance would
hear it, so the command refuses.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from crmgraph.config import Config
from crmgraph.events import ChangeEvent, ChangeKind, Entity

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
events_app = typer.Typer(help="Change events: publish one to every instance (docs/realtime.md).")


@events_app.command("publish")
def publish(
    config_file: Annotated[Path, typer.Option("--config", "-c", help="The YAML configuration file.")],
    system: Annotated[str, typer.Option(help="The source the change was made in (a name under sources:).")],
    entity: Annotated[Entity, typer.Option(help="The kind of record.")],
    record_id: Annotated[str, typer.Option("--id", help="The record's id in that system.")],
    kind: Annotated[ChangeKind, typer.Option(help="What happened.")] = ChangeKind.UPDATED,
    changed: Annotated[list[str] | None, typer.Option(help="A field that changed (repeat for several).")] = None,
    parent: Annotated[
        list[str] | None, typer.Option(help="A list the record is in, as by=key: party=360 (repeat for several).")
    ] = None,
    customer: Annotated[
        list[int] | None, typer.Option(help="A golden customer id (found from the party if not given).")
    ] = None,
    occurred_at: Annotated[str | None, typer.Option(help="When it happened (ISO); now if not given.")] = None,
) -> None:
    """Publish one change event."""
    from crmgraph.cli_graph import _load

    config = _load(config_file)
    if system not in config.sources:
        raise typer.BadParameter(f"no source is named {system!r}; sources: {', '.join(config.sources)}",
                                 param_hint="--system")  # fmt: skip
    if config.events.url == "memory://":
        raise typer.BadParameter("events.url is memory://: no instance would hear it; configure the Redis they share",
                                 param_hint="--config")  # fmt: skip
    parents = []
    for item in parent or ():
        by, sign, key = item.partition("=")
        if not sign or not by or not key:
            raise typer.BadParameter(f"expected by=key (party=360), got {item!r}", param_hint="--parent")
        parents.append((by, key))
    moment = datetime.now(UTC)
    if occurred_at is not None:
        try:
            moment = datetime.fromisoformat(occurred_at)
        except ValueError:
            raise typer.BadParameter(f"not an ISO time: {occurred_at!r}", param_hint="--occurred-at") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    event = ChangeEvent(system, entity, record_id, kind, tuple(changed or ()), tuple(parents),
                        tuple(customer or ()), occurred_at=moment)  # fmt: skip
    published = asyncio.run(_publish(config, event))
    out.print_json(published.to_json().decode())


async def _publish(config: Config, event: ChangeEvent) -> ChangeEvent:
    from crmgraph.cache.backend import close_backend, open_backend
    from crmgraph.cache.read_through import ReadThrough
    from crmgraph.events import EventHub
    from crmgraph.identity.store import IdentityStore
    from crmgraph.sources import build_adapters

    backend = open_backend(config.cache)
    identity = IdentityStore(config.identity.url)
    # Adapters are built, not opened: only their declared access paths are read (which lists to forget).
    hub = EventHub(config.events, ReadThrough(backend, config.cache.ttl_for), identity, build_adapters(config))
    try:
        published = await hub.publish([event])
    finally:
        await hub.close()
        await close_backend(backend)
        identity.close()
    return published[0]
