"""The ``crmgraph`` command line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from crmgraph import cli_graph
from crmgraph.cli_adapters import adapters_app
from crmgraph.cli_audit import audit_app
from crmgraph.cli_auth import apikey_app, token
from crmgraph.cli_documents import documents_app
from crmgraph.cli_events import events_app
from crmgraph.cli_identity import identity_app
from crmgraph.cli_reports import reports_app
from crmgraph.cli_rules import rules_app
from crmgraph.cli_triage import triage_app
from crmgraph.demo.layout import DEFAULT_DATA_DIR, EstateCredentials, EstateLayout
from crmgraph.demo.seed import Manifest, data_dir_is_current, generate_estate, load_erp

if TYPE_CHECKING:
    from crmgraph.demo.estate import RunningEstate

app = typer.Typer(help="crmgraph: one GraphQL customer graph over the systems a company already runs.")
demo_app = typer.Typer(help="The demo legacy estate: a CRM, tickets, an ERP and a marketing system to federate.")
app.add_typer(demo_app, name="demo")
app.add_typer(identity_app, name="identity")
app.add_typer(apikey_app, name="apikey")
app.add_typer(audit_app, name="audit")
app.add_typer(adapters_app, name="adapters")
app.add_typer(documents_app, name="documents")
app.add_typer(events_app, name="events")
app.add_typer(rules_app, name="rules")
app.add_typer(triage_app, name="triage")
app.add_typer(reports_app, name="reports")
app.command("token")(token)
app.command("serve")(cli_graph.serve)
app.command("check-config")(cli_graph.check_config)
app.command("schema")(cli_graph.schema)
app.command("link")(cli_graph.link)
demo_app.callback(invoke_without_command=True)(cli_graph.demo_group)
# soft_wrap: URLs and figures must never be broken across lines, whatever the terminal width.
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

Customers = Annotated[int, typer.Option(min=1, max=10_000_000, help="How many customers (parties) to seed.")]
Seed = Annotated[int, typer.Option(help="Seed of the generator: the same seed gives the same estate.")]
DataDir = Annotated[Path, typer.Option(help="Where the estate's files live.")]


def _with_progress(label: str) -> tuple[Progress, object]:
    progress = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    return progress, progress.add_task(label, total=None)


def _ensure_estate(data_dir: Path, customers: int, seed: int, regenerate: bool) -> Manifest:
    layout = EstateLayout(data_dir)
    if not regenerate and data_dir_is_current(data_dir, seed=seed, customers=customers):
        manifest = Manifest.read(layout.manifest)
        assert manifest is not None
        return manifest
    console.print(f"Seeding {customers:,} customers (seed {seed}) into {data_dir} ...")
    progress, task = _with_progress("customers")
    with progress:
        manifest = generate_estate(
            layout,
            customers=customers,
            seed=seed,
            progress=lambda done, total: progress.update(task, completed=done, total=total),  # type: ignore[arg-type]
        )
    console.print(f"Seeded in {manifest.seconds:.1f} s.")
    return manifest


def _print_stats(manifest: Manifest) -> None:
    counts = Table(title=f"Estate: {manifest.customers:,} customers, seed {manifest.seed}")
    for column in ("store", "table", "rows"):
        counts.add_column(column, justify="right" if column == "rows" else "left")
    for store, tables in manifest.rows.items():
        for table, rows in sorted(tables.items()):
            counts.add_row(store, table, f"{rows:,}")
    out.print(counts)
    shares = Table(title="Identity: explicit cross-references and noise, by source record kind")
    for column in ("records", "kind", "affected", "share"):
        shares.add_column(column, justify="left" if column == "kind" else "right")
    shares.add_column("system/object", justify="left")
    for key, total, kind, affected, share in manifest.shares():
        shares.add_row(f"{total:,}", kind, f"{affected:,}", f"{share:.1%}", key)
    out.print(shares)


@demo_app.command("estate")
def estate(
    customers: Customers = 300,
    seed: Seed = 42,
    port_base: Annotated[
        int, typer.Option(min=0, max=65000, help="CRM on P+1, tickets on P+2, marketing on P+3; 0 = any free.")
    ] = 8100,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback only by default).")] = "127.0.0.1",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    ready_file: Annotated[Path | None, typer.Option(help="Write the systems' URLs here once listening.")] = None,
    stats: Annotated[bool, typer.Option("--stats", help="Print what the estate holds and exit.")] = False,
    regenerate: Annotated[bool, typer.Option(help="Seed again even if the data dir is current.")] = False,
) -> None:
    """Seed the estate if needed, then run the CRM, the ticket system and the marketing system until Ctrl-C."""
    manifest = _ensure_estate(data_dir, customers, seed, regenerate)
    if stats:
        _print_stats(manifest)
        return
    from crmgraph.demo.estate import serve_estate  # the servers are only needed from here on

    layout = EstateLayout(data_dir)
    credentials = EstateCredentials()

    def announce(running: RunningEstate) -> None:
        out.print(f"[bold]CRM[/] (HubSpot CRM v3)        {running.crm_url}   token: {credentials.crm_token}")
        out.print(
            f"[bold]Tickets[/] (Zendesk Support v2) {running.tickets_url}   "
            f"{credentials.zendesk_email}/token : {credentials.zendesk_token}"
        )
        out.print(f"[bold]ERP[/] (SQL, SAP-style tables)  {running.erp_url}")
        out.print(
            f"[bold]Marketing[/] (Mautic REST API)   {running.marketing_url}   "
            f"{credentials.marketing_user} : {credentials.marketing_password} (basic auth)"
        )
        auth = f"Authorization: Bearer {credentials.crm_token}"
        out.print(f"Try: curl -H '{auth}' '{running.crm_url}/crm/v3/objects/companies?limit=2'")
        out.print("Control: GET /_control/stats, POST /_control/reset, POST /_control/faults on each system.")
        out.print("Ctrl-C stops.")

    try:
        asyncio.run(serve_estate(layout, host=host, port_base=port_base, ready_file=ready_file, on_ready=announce))
    except OSError as exc:
        console.print(f"[red]Cannot listen on {host} (port base {port_base}):[/] {exc.strerror or exc}")
        raise typer.Exit(2) from exc
    except KeyboardInterrupt:
        pass


@demo_app.command("seed")
def seed_command(customers: Customers = 300, seed: Seed = 42, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Seed the estate's files without starting the servers."""
    manifest = _ensure_estate(data_dir, customers, seed, regenerate=True)
    _print_stats(manifest)


@demo_app.command("load-erp")
def load_erp_command(
    url: Annotated[str, typer.Option(help="SQLAlchemy URL, e.g. postgresql+psycopg://user@127.0.0.1/db")],
    customers: Customers = 300,
    seed: Seed = 42,
) -> None:
    """Create the ERP tables in another database (PostgreSQL, MariaDB, SQLite) and load the same rows."""
    progress, task = _with_progress("customers")
    try:
        with progress:
            rows = load_erp(
                url,
                customers=customers,
                seed=seed,
                progress=lambda done, total: progress.update(task, completed=done, total=total),  # type: ignore[arg-type]
            )
    except ArgumentError as exc:
        console.print(f"[red]--url is not a database URL SQLAlchemy understands:[/] {url!r} ({exc})")
        raise typer.Exit(2) from exc
    except SQLAlchemyError as exc:
        console.print(
            f"[red]Loading the ERP into {url} failed:[/] {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        )
        raise typer.Exit(1) from exc
    except ModuleNotFoundError as exc:
        console.print(f"[red]The database driver for {url} is not installed:[/] {exc.name}")
        raise typer.Exit(2) from exc
    out.print(", ".join(f"{table} {count:,}" for table, count in sorted(rows.items())) + f" rows loaded into {url}")


def main() -> None:
    app()
