"""``crmgraph rules runs``: what the automation rules did, read from the facade's store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from crmgraph.workflows.rules.runs import RunStatus, RunStore

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
ConfigFile = Annotated[Path, typer.Option("--config", "-c", help="The YAML configuration file.")]
rules_app = typer.Typer(help="Automation rules (workflows.rules): their runs.")


@rules_app.command("runs")
def rules_runs(
    config_file: ConfigFile,
    rule: Annotated[str | None, typer.Option(help="Only this rule's runs.")] = None,
    status: Annotated[RunStatus | None, typer.Option(help="Only runs that ended so.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Runs shown at most.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")] = False,
) -> None:
    """List rule runs, newest first: the event, the outcome, each action's mutation and result."""
    from crmgraph.cli_graph import _load

    store = RunStore(_load(config_file).identity.url)  # the runs live in the facade's own store
    try:
        runs = store.runs(rule=rule, status=status, limit=limit)
    finally:
        store.close()
    if as_json:
        for run in runs:
            line = {"id": run.id, "rule": run.rule, "status": run.status.value, "event": run.event.to_wire(),
                    "actions": run.actions, "error": run.error, "attempts": run.attempts,
                    "startedAt": run.started_at.isoformat(),
                    "finishedAt": run.finished_at.isoformat() if run.finished_at else None}  # fmt: skip
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
        console.print(f"{len(runs)} run(s)")
        return
    table = Table("started", "rule", "status", "event", "actions", "error")
    for run in runs:
        event = run.event
        actions = ", ".join(f"{a.get('mutation')} {a.get('status')}" for a in run.actions)
        table.add_row(run.started_at.isoformat()[:23], run.rule, run.status.value,
                      f"{event.system} {event.entity.value} {event.record_id} {event.kind.value}", actions,
                      run.error or "")  # fmt: skip
    out.print(table)
    console.print(f"{len(runs)} run(s)")
