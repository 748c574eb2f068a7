"""``crmgraph adapters``: the adapters installed, and ``new`` to start one."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from crmgraph.scaffold.names import AdapterNames, BadAdapterName
from crmgraph.scaffold.python_package import python_package_files
from crmgraph.scaffold.render import write_files

if TYPE_CHECKING:
    from crmgraph.adapters.sdk.base import AccessPath

adapters_app = typer.Typer(help="The adapters installed, and a starting point for a new one.")
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


DIRECTORY_HELP = "Where to write it (default: ./NAME for yaml, ./crmgraph-NAME for python)."
OPENAPI_HELP = "yaml only: draft the entities from this OpenAPI 3 document (JSON or YAML), to be edited."


class Kind(StrEnum):
    yaml = "yaml"
    python = "python"


@adapters_app.callback(invoke_without_command=True)
def adapters_group(context: typer.Context) -> None:
    """Without a command: list the installed adapters (as ``crmgraph adapters list``)."""
    if context.invoked_subcommand is None:
        list_adapters()


@adapters_app.command("list")
def list_adapters() -> None:
    """List the adapters installed (entry-point group ``crmgraph.adapters``) and what each can reach."""
    from crmgraph.adapters.sdk.registry import installed_adapters

    table = Table(title="Installed adapters")
    for column in ("kind", "class", "package", "reaches"):
        table.add_column(column)
    for kind, found in sorted(installed_adapters().items()):
        package = f"{found.package} {found.version}" if found.package else "?"
        if found.adapter is None:
            table.add_row(kind, found.target, package, f"[red]cannot load: {found.problem}[/]")
            continue
        reaches = ", ".join(f"{p.entity} by {p.by}" + _how(p) for p in found.adapter.paths)
        table.add_row(kind, found.target, package, reaches)
    out.print(table)


@adapters_app.command("new")
def new_adapter(
    name: Annotated[str, typer.Argument(help="The new source's name, e.g. acme-billing.")],
    kind: Annotated[
        Kind, typer.Option(help="yaml: a source for the declarative REST adapter; python: an adapter package.")
    ] = Kind.yaml,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to write it (default: ./NAME for yaml, ./crmgraph-NAME for python)."),
    ] = None,
    from_openapi: Annotated[
        Path | None,
        typer.Option(
            "--from-openapi", help="yaml only: draft the entities from this OpenAPI 3 document (JSON or YAML)."
        ),
    ] = None,
) -> None:
    """Write a starting point for a new source that passes its own contract tests as generated."""
    try:
        names = AdapterNames.of(name)
    except BadAdapterName as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    if kind is Kind.python:
        if from_openapi is not None:
            console.print("[red]--from-openapi drafts a YAML source; use it with --kind yaml[/]")
            raise typer.Exit(2)
        root = directory or Path(names.project)
        contents = python_package_files(names)
    else:
        from crmgraph.scaffold.yaml_source import yaml_source_files

        root = directory or Path(names.name)
        try:
            contents = yaml_source_files(names, from_openapi)
        except ValueError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from exc
    clashes = [relative for relative in contents if (root / relative).exists()]
    if clashes:
        console.print(f"[red]{root} already holds {', '.join(sorted(clashes))}: nothing written[/]")
        raise typer.Exit(1)
    for path in write_files(root, contents):
        out.print(f"wrote {path}")
    out.print(_next_steps(kind, root))


def _next_steps(kind: Kind, root: Path) -> str:
    if kind is Kind.python:
        return f"Next: cd {root} && python -m pip install -e . && python -m pytest"
    return f"Next: cd {root} && python -m pytest   (then point a source at the spec: see {root}/README.md)"


def _how(path: AccessPath) -> str:
    if path.row_limit is not None:
        return f" (joined, one key a call, up to {path.row_limit} records)"
    return "" if path.batched else " (one by one)"
