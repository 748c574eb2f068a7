"""``crmgraph token`` (development tokens for the demo's roles) and ``crmgraph apikey`` (create, list, revoke)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from crmgraph.demo.layout import DEFAULT_DATA_DIR
from crmgraph.policy.api_keys import ApiKeyStore
from crmgraph.policy.tokens import DEMO_AUDIENCE, DEMO_ISSUER, issue_development_token

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
apikey_app = typer.Typer(help="API keys for services: made here, kept hashed in the store.", no_args_is_help=True)


def _pairs(values: list[str], option: str) -> dict[str, object]:
    """``k=v`` options as a mapping; a key given twice becomes a list (``--claim countries=DE --claim ...``)."""
    found: dict[str, object] = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, got {value!r}", param_hint=option)
        key = key.strip()
        if key in found:
            previous = found[key]
            found[key] = [*(previous if isinstance(previous, list) else [previous]), item]
        else:
            found[key] = item
    return found


def token(
    subject: Annotated[str, typer.Option("--subject", "-s", help="Who the token speaks for.")],
    role: Annotated[list[str], typer.Option("--role", "-r", help="A role (repeat for several).")],
    claim: Annotated[list[str], typer.Option("--claim", help="An attribute claim key=value (repeatable).")] = [],  # noqa: B006
    data_dir: Annotated[Path, typer.Option(help="The demo data folder holding the development key.")] = Path(
        DEFAULT_DATA_DIR
    ),
    issuer: Annotated[str, typer.Option(help="The iss claim.")] = DEMO_ISSUER,
    audience: Annotated[str, typer.Option(help="The aud claim.")] = DEMO_AUDIENCE,
    hours: Annotated[float, typer.Option(min=0.01, max=24 * 30, help="How long the token is valid.")] = 8.0,
) -> None:
    """Print a JWT signed with the development key in the demo data folder (made there on first use)."""
    if not role:
        raise typer.BadParameter("name at least one role", param_hint="--role")
    printed = issue_development_token(
        data_dir, subject=subject, roles=role, issuer=issuer, audience=audience, claims=_pairs(claim, "--claim"),
        ttl_seconds=int(hours * 3600),
    )  # fmt: skip
    out.print(printed, markup=False, highlight=False)


ConfigFile = Annotated[Path, typer.Option("--config", "-c", help="The YAML configuration file.")]


def _store(config_file: Path) -> ApiKeyStore:
    """The key store: the facade's own store (the identity store's database)."""
    from crmgraph.cli_graph import _load

    return ApiKeyStore(_load(config_file).identity.url)


@apikey_app.command("create")
def apikey_create(
    config_file: ConfigFile,
    subject: Annotated[str, typer.Option("--subject", "-s", help="Who or what uses the key.")],
    role: Annotated[list[str], typer.Option("--role", "-r", help="A role (repeat for several).")],
    attribute: Annotated[list[str], typer.Option("--attribute", "-a", help="key=value (repeatable).")] = [],  # noqa: B006
    note: Annotated[str, typer.Option(help="What the key is for.")] = "",
) -> None:
    """Make a key; it is printed once and only its hash is kept."""
    store = _store(config_file)
    try:
        record, key = store.create(subject, role, _pairs(attribute, "--attribute"), note)
    except ValueError as problem:
        raise typer.BadParameter(str(problem)) from None
    finally:
        store.close()
    console.print(f"API key {record.key_id} for {subject} ({', '.join(role)}); shown this once:")
    out.print(key, markup=False, highlight=False)


@apikey_app.command("list")
def apikey_list(config_file: ConfigFile) -> None:
    """The keys made, with their subjects, roles and whether they were revoked."""
    store = _store(config_file)
    try:
        keys = store.list()
    finally:
        store.close()
    table = Table("key id", "subject", "roles", "created", "revoked", "note")
    for key in keys:
        revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else ""
        table.add_row(key.key_id, key.subject, ", ".join(key.roles), key.created_at.isoformat(timespec="seconds"),
                      revoked, key.note)  # fmt: skip
    out.print(table)


@apikey_app.command("revoke")
def apikey_revoke(
    config_file: ConfigFile, key_id: Annotated[str, typer.Argument(help="The key id to revoke.")]
) -> None:
    """Revoke a key: it stops working at once."""
    store = _store(config_file)
    try:
        done = store.revoke(key_id)
    finally:
        store.close()
    if not done:
        console.print(f"[red]no key {key_id} that is not revoked already[/red]")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")
