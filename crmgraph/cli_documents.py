"""``crmgraph documents build``: the trusted-document manifest from a frontend's ``.graphql`` files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from crmgraph.policy.trusted_documents import build_manifest

console = Console(stderr=True, soft_wrap=True)
documents_app = typer.Typer(help="Trusted documents: the manifest of persisted operations.", no_args_is_help=True)


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.rglob("*.graphql")) if path.is_dir() else [path])
    return found


@documents_app.command("build")
def build(
    paths: Annotated[list[Path], typer.Argument(help=".graphql files, or folders searched for them.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The manifest to write (JSON).")],
) -> None:
    """Validate each document against the schema and write sha256 -> document (trusted_documents.manifest).

    A file holds one document, sent by its client exactly as written (its hash covers every byte)."""
    import graphql

    from crmgraph.schema import build_schema

    schema = build_schema()._schema
    texts: list[str] = []
    failed = False
    for file in _files(paths):
        try:
            text = file.read_text(encoding="utf-8")
            problems = graphql.validate(schema, graphql.parse(text))
        except OSError as exc:
            console.print(f"[red]{file}: cannot read ({exc.strerror})[/red]")
            failed = True
            continue
        except graphql.GraphQLError as exc:
            problems = [exc]
        for problem in problems:
            console.print(f"[red]{file}: {problem.message}[/red]")
        failed = failed or bool(problems)
        texts.append(text)
    if failed:
        raise typer.Exit(1)
    if not texts:
        console.print("[red]no .graphql files found[/red]")
        raise typer.Exit(1)
    manifest = build_manifest(texts)
    output.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    console.print(f"{len(manifest)} trusted documents written to {output}")
