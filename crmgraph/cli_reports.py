"""``crmgraph reports rebuild | status``: the analytic store the reports read (docs/reports.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crmgraph.config import Config
from crmgraph.errors import SourceError

if TYPE_CHECKING:
    from crmgraph.analytics.loader import RebuildSummary
    from crmgraph.analytics.store import AnalyticStore

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
ConfigFile = Annotated[Path, typer.Option("--config", "-c", help="The YAML configuration file.")]
reports_app = typer.Typer(help="Reports: the analytic store they read (rebuild it, see how fresh it is).")


def open_store(url: str) -> AnalyticStore:
    """The store at ``url``; exits 1 with what to do when another process holds its DuckDB file."""
    from crmgraph.analytics.store import AnalyticStore

    try:
        return AnalyticStore(url)
    except Exception as exc:  # duckdb.IOException: duckdb is imported only when the store opens
        if "lock" not in str(exc).lower():
            raise
        console.print(f"[red]The reports' store {_safe_url(url)} is open in another process[/] (a running facade: "
                      "DuckDB lets one process open the file). Stop it, or keep the store in PostgreSQL "
                      "(reports.store_url) to rebuild and read it while the facade serves.")  # fmt: skip
        raise typer.Exit(1) from exc


def run_rebuild(loaded: Config, *, show_progress: bool = True) -> RebuildSummary:
    """Rebuild the store of ``loaded`` with progress bars; exits 1 (the old store kept) when a source fails."""
    from crmgraph.analytics.loader import rebuild, rebuild_config
    from crmgraph.analytics.store import default_store_url
    from crmgraph.cli_identity import _Bars
    from crmgraph.identity.store import IdentityStore
    from crmgraph.sources import OpenSources

    async def run() -> RebuildSummary:
        store = open_store(default_store_url(loaded.reports, loaded.identity.url))
        identity = IdentityStore(loaded.identity.url)
        try:
            async with OpenSources(rebuild_config(loaded)) as adapters:
                columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
                with Progress(*columns, console=console, transient=True, disable=not show_progress) as progress:
                    return await rebuild(loaded, store, adapters, identity, _Bars(progress))
        finally:
            identity.close()
            store.close()

    try:
        return asyncio.run(run())
    except SourceError as exc:
        console.print(f"[red]The reports' store was not rebuilt ({exc.source} failed); the old one is kept:[/] {exc}")
        raise typer.Exit(1) from exc


def print_summary(summary: RebuildSummary, store_url: str) -> None:
    table = Table(title=f"Reports' store rebuilt in {summary.seconds:.1f} s (version {summary.version})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.rows.items():
        table.add_row(name, f"{rows:,}")
    out.print(table)
    read = ", ".join(f"{what} {n:,}" for what, n in summary.read.items())
    out.print(f"Read: {read}.", markup=False, highlight=False)
    out.print(f"Customer value model: {summary.value_model}.", markup=False, highlight=False)
    phases = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in summary.phases.items())
    out.print(f"Time: {phases}.", markup=False, highlight=False)
    if summary.missing_rates:
        out.print(f"[yellow]No exchange rate for {', '.join(summary.missing_rates)}[/]: those amounts are kept in "
                  "their own currency and left out of converted figures (reports.exchange_rates).")  # fmt: skip
    out.print(f"Store: {store_url}", markup=False, highlight=False)


@reports_app.command("rebuild")
def rebuild_command(config: ConfigFile) -> None:
    """Re-create the analytic store from every system (the old one stays until the new one is complete)."""
    from crmgraph.analytics.store import default_store_url
    from crmgraph.cli_graph import _load

    loaded = _load(config)
    summary = run_rebuild(loaded)
    print_summary(summary, _safe_url(default_store_url(loaded.reports, loaded.identity.url)))


@reports_app.command("status")
def status_command(config: ConfigFile) -> None:
    """How fresh each part of the analytic store is: its last full load and its last change applied."""
    from sqlalchemy import select

    from crmgraph.analytics.store import default_store_url
    from crmgraph.analytics.tables import freshness
    from crmgraph.cli_graph import _load

    loaded = _load(config)
    url = default_store_url(loaded.reports, loaded.identity.url)
    store = open_store(url)
    try:
        with store.engine.connect() as conn:
            rows = list(conn.execute(select(freshness).order_by(freshness.c.name)))
        version = store.version()
    finally:
        store.close()
    if not rows:
        out.print(f"The reports' store ({_safe_url(url)}) is empty: run `crmgraph reports rebuild -c {config}`.")
        return
    table = Table(title=f"Reports' store {_safe_url(url)} (version {version})")
    for column in ("part", "rows", "loaded (rebuild)", "last change applied"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for row in rows:
        loaded_at = row.loaded_at.isoformat(timespec="seconds") if row.loaded_at else "-"
        changed_at = row.changed_at.isoformat(timespec="seconds") if row.changed_at else "-"
        table.add_row(row.name, f"{row.rows:,}", loaded_at, changed_at)
    out.print(table)


def _safe_url(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
