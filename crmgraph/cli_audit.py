"""``crmgraph audit``: the audit trail read back, verified and pruned."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from crmgraph.audit import AuditStore, verify

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
ConfigFile = Annotated[Path, typer.Option("--config", "-c", help="The YAML configuration file.")]
audit_app = typer.Typer(help="The audit trail: reads of personal data, mutations and denied requests.")


def _store(config_file: Path) -> AuditStore:
    """The audit table lives in the facade's own store (the identity store's database)."""
    from crmgraph.cli_graph import _load

    return AuditStore(_load(config_file).identity.url)


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected an ISO date or time (2026-12-01, 2026-12-01T08:00), got {value!r}",
                                 param_hint=option) from None  # fmt: skip
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@audit_app.callback(invoke_without_command=True)
def audit_list(
    context: typer.Context,
    config_file: Annotated[Path | None, typer.Option("--config", "-c", help="The YAML configuration file.")] = None,
    customer: Annotated[int | None, typer.Option(help="Only events naming this golden customer id.")] = None,
    since: Annotated[str | None, typer.Option(help="Only events from this ISO date or time on.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Events shown at most.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")] = False,
) -> None:
    """List audit events, oldest first."""
    if context.invoked_subcommand is not None:
        return
    if config_file is None:
        raise typer.BadParameter("name the configuration file", param_hint="--config")
    store = _store(config_file)
    try:
        events = store.events(customer=customer, since=_moment(since, "--since"), limit=limit)
    finally:
        store.close()
    if as_json:
        for event in events:
            sys.stdout.write(orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")
        console.print(f"{len(events)} event(s)")
        return
    table = Table("at", "action", "subject", "roles", "operation", "customers", "fields", "masked", "outcome")
    for event in events:
        table.add_row(str(event["at"])[:23], event["action"], event["subject"], ", ".join(event["roles"]),
                      event["operation"], ", ".join(map(str, event["customers"])), ", ".join(event["fields"]),
                      "masked" if event["masked"] else "clear", event["outcome"])  # fmt: skip
    out.print(table)
    console.print(f"{len(events)} event(s)")


@audit_app.command("verify")
def audit_verify(config_file: ConfigFile) -> None:
    """Check every chain of the trail: an edited, deleted or re-linked row is reported (exit 1)."""
    store = _store(config_file)
    try:
        problems = verify(store)
    finally:
        store.close()
    for problem in problems:
        console.print(f"[red]{problem}[/red]")
    if problems:
        raise typer.Exit(1)
    console.print("the audit trail is intact")


@audit_app.command("prune")
def audit_prune(
    config_file: ConfigFile,
    keep_days: Annotated[int, typer.Option(min=1, help="Keep the events of this many days.")] = 365,
) -> None:
    """Delete the events older than the retention period (the oldest rows of each chain)."""
    store = _store(config_file)
    try:
        deleted = store.prune(datetime.now(UTC) - timedelta(days=keep_days))
    finally:
        store.close()
    console.print(f"deleted {deleted} event(s) older than {keep_days} days")
