"""The ``crmgraph`` commands that run the graph: serve, check-config, schema, link, and the full demo."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

from crmgraph.config import Config, ConfigErrors, SourceConfig, load_config, parse_config
from crmgraph.demo.layout import EstateCredentials
from crmgraph.demo.process import estate_process
from crmgraph.errors import ConfigError
from crmgraph.graphiql.examples import FIRST_QUERY
from crmgraph.policy.tokens import ensure_development_key

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
ConfigFile = Annotated[Path, typer.Option("--config", "-c", help="The YAML configuration file.")]


def _fail_with(problems: list[ConfigError], origin: str) -> typer.Exit:
    console.print(f"[red]{origin}: {len(problems)} problem(s)[/]")
    for problem in problems:
        console.print(f"  [bold]{problem.path or '(file)'}[/]: {problem.message}")
    return typer.Exit(2)


def _load(path: Path) -> Config:
    """The validated configuration; every problem of the file (and of each source's settings) at once."""
    try:
        config = load_config(path)
    except ConfigErrors as exc:
        problems = exc.problems + (_adapter_problems(exc.sources) if exc.sources else [])
        raise _fail_with(problems, str(path)) from exc
    try:
        _check_adapters(config)
    except ConfigErrors as exc:
        raise _fail_with(exc.problems, str(path)) from exc
    if config.workflows.rules.rules:
        from crmgraph.schema import build_schema
        from crmgraph.workflows.rules.check import rule_problems

        schema = build_schema(config.limits, config.policy)
        wrong = rule_problems(config.workflows.rules, schema._schema, config.policy, config.sources)
        if wrong:
            raise _fail_with(wrong, str(path))
    manifest = config.trusted_documents.manifest
    if manifest is not None:
        from crmgraph.policy.trusted_documents import ManifestError, TrustedDocuments

        try:
            TrustedDocuments.load(manifest)
        except ManifestError as exc:
            raise _fail_with([ConfigError("trusted_documents.manifest", str(exc))], str(path)) from exc
    return config


def _adapter_problems(sources: dict[str, SourceConfig]) -> list[ConfigError]:
    """Each source's adapter exists and accepts its settings (constructing one validates them, no I/O)."""
    from crmgraph.adapters.sdk.registry import adapter_class

    problems: list[ConfigError] = []
    for name, source in sources.items():
        try:
            adapter_class(source.adapter, path=f"sources.{name}.adapter")(name, source.settings())
        except ConfigErrors as errors:
            problems.extend(errors.problems)
        except ConfigError as problem:
            problems.append(problem)
    return problems


def _check_adapters(config: Config) -> None:
    problems = _adapter_problems(config.sources)
    if problems:
        raise ConfigErrors(problems)


def check_config(
    config: ConfigFile,
    probe: Annotated[
        bool, typer.Option("--probe", help="Also call each REST source: map a few records of each entity.")
    ] = False,
) -> None:
    """Validate a configuration file; every mistake is reported with the path of the key at fault."""
    loaded = _load(config)
    out.print(f"{config}: OK ({', '.join(f'{n} ({s.adapter})' for n, s in loaded.sources.items())})")
    if probe and not _probe_rest_sources(loaded):
        raise typer.Exit(1)


def _probe_rest_sources(loaded: Config) -> bool:
    """Each ``rest`` source's entities tried live (crmgraph/adapters/rest/probe.py); whether all mapped."""
    import asyncio

    from rich.table import Table
    from rich.text import Text

    from crmgraph.adapters.rest import RestAdapter
    from crmgraph.adapters.rest.probe import probe

    healthy = True
    for name, source in loaded.sources.items():
        if source.adapter != "rest":
            continue
        table = Table(title=f"{name} (rest)", title_justify="left")
        for column in ("entity", "result", "detail"):
            table.add_column(column)
        for report in asyncio.run(probe(RestAdapter(name, source.settings()))):
            healthy = healthy and report.ok
            if report.skipped:
                table.add_row(report.entity, "[yellow]skipped[/]", Text(report.skipped))
            elif report.ok:
                table.add_row(report.entity, "[green]OK[/]", f"{report.mapped} record(s) mapped")
            for failure in report.failures:
                table.add_row(report.entity, "[red]FAILED[/]", Text(failure))
        out.print(table)
    return healthy


def schema() -> None:
    """Print the GraphQL schema (SDL)."""
    from crmgraph.schema import build_schema

    out.print(build_schema().as_str(), markup=False, highlight=False)


def serve(
    config: ConfigFile,
    host: Annotated[str | None, typer.Option(help="Overrides server.host.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides server.port.")] = None,
) -> None:
    """Serve the customer graph: GraphQL (and GraphiQL in a browser) at /graphql."""
    from crmgraph.app import build_app
    from crmgraph.runner import run_server

    loaded = _load(config)
    run_server(
        build_app(loaded),
        host=host if host is not None else loaded.server.host,
        port=port if port is not None else loaded.server.port,
    )


def _run_link(loaded: Config, *, changed: bool = False) -> None:
    from crmgraph.cli_identity import run_link

    run_link(loaded, changed=changed)


def link(
    config: ConfigFile,
    changed: Annotated[
        bool, typer.Option("--changed", help="Compare only the records changed since the last run.")
    ] = False,
) -> None:
    """Match every source's companies and people into golden customers and persons; write the links."""
    _run_link(_load(config), changed=changed)


def demo_config_text() -> str:
    return files("crmgraph.demo").joinpath("config.yaml").read_text(encoding="utf-8")


def demo_config_dir() -> Path:
    """Where the demo configuration's companion files (the marketing source's spec) are installed."""
    return Path(str(files("crmgraph.demo")))


DEMO_WEBHOOK_SECRET = "demo-webhook-secret-of-crmgraph"  # as in crmgraph/demo/config.yaml


def demo_group(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option(min=1, help="Customers to seed.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the estate.")] = 42,
    port: Annotated[int, typer.Option(help="Port of the facade (GraphQL).")] = 8000,
    port_base: Annotated[
        int, typer.Option(help="The estate's CRM listens on P+1, tickets on P+2, marketing on P+3.")
    ] = 8100,
    latency_ms: Annotated[float, typer.Option(help="Latency injected into every upstream call.")] = 0.0,
    data_dir: Annotated[Path, typer.Option(help="Where the estate and the identity store live.")] = Path("var/demo"),
) -> None:
    """Without a sub-command: the whole demo (legacy estate, identity links, the facade with GraphiQL)."""
    if ctx.invoked_subcommand is not None:
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as running:
        try:
            urls = running.enter_context(estate_process(data_dir, customers=customers, seed=seed, port_base=port_base))
        except RuntimeError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from exc
        if latency_ms:
            for system in ("crm", "tickets"):
                httpx.post(f"{urls[system]}/_control/faults", json={"latency_ms": latency_ms}).raise_for_status()
        # The estate tells the facade of every change made in it (its own API included), as the real products'
        # webhooks would; deliveries sent before the facade is up are retried by the estate.
        secret = os.environ.get("CRMGRAPH_DEMO_WEBHOOK_SECRET", DEMO_WEBHOOK_SECRET)
        for system in ("crm", "tickets", "marketing"):  # marketing: Mautic's new and changed contacts (leads)
            hook = {"url": f"http://127.0.0.1:{port}/webhooks/{system}", "secret": secret}
            httpx.post(f"{urls[system]}/_control/webhooks", json=hook, timeout=10).raise_for_status()
        _, jwks = ensure_development_key(data_dir)
        from crmgraph.workflows.triage.demo_model import ensure_demo_model  # scikit-learn: seconds to import

        triage_model, training = ensure_demo_model(data_dir)
        if training is not None:
            scores = ", ".join(
                f"{target} {score.macro_f1:.3f}" for target, score in training.evaluation.targets.items()
            )
            out.print(f"Ticket triage trained on {training.trained_on:,} seeded tickets (held-out macro-F1: {scores}).")
        credentials = EstateCredentials()  # what the estate's systems accept
        os.environ |= {
            "CRMGRAPH_DEMO_JWKS": str(jwks.resolve()),
            "CRMGRAPH_DEMO_CRM_URL": urls["crm"],
            "CRMGRAPH_DEMO_TICKETS_URL": urls["tickets"],
            "CRMGRAPH_DEMO_ERP_URL": urls["erp"],
            # The marketing system (Mautic): the demo config's marketing source reads these.
            "CRMGRAPH_DEMO_MARKETING_URL": urls["marketing"],
            "CRMGRAPH_DEMO_MARKETING_USER": credentials.marketing_user,
            "CRMGRAPH_DEMO_MARKETING_PASSWORD": credentials.marketing_password,
            "CRMGRAPH_IDENTITY_URL": f"sqlite:///{(data_dir / 'identity.sqlite').resolve()}",
            "CRMGRAPH_DEMO_TRIAGE_MODEL": str(triage_model.resolve()),
        }
        try:
            loaded = parse_config(demo_config_text(), origin="crmgraph/demo/config.yaml", base_dir=demo_config_dir())
            _check_adapters(loaded)
        except ConfigErrors as exc:
            raise _fail_with(exc.problems, "demo configuration") from exc
        _run_link(loaded)
        if loaded.reports.enabled:  # the console's figures at once: the reports' store filled from the estate
            from crmgraph.cli_reports import run_rebuild

            rebuilt = run_rebuild(loaded)
            out.print(f"Reports' store rebuilt in {rebuilt.seconds:.1f} s ({sum(rebuilt.rows.values()):,} rows).")
        from crmgraph.app import build_app
        from crmgraph.runner import run_server

        # uvicorn re-raises SIGTERM once it has shut down; turned into an exit, it lets the estate be stopped.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        from crmgraph.demo.role_tokens import WHAT_EACH_SEES, role_tokens  # the identity store: only the demo's

        tokens = role_tokens(data_dir, os.environ["CRMGRAPH_IDENTITY_URL"])
        admin = next(found.token for found in tokens if found.role == "admin")
        out.print(f"\nThe legacy systems: CRM {urls['crm']}, tickets {urls['tickets']}, ERP {urls['erp']}, "
                  f"marketing {urls['marketing']}",
                  markup=False, highlight=False)  # fmt: skip
        out.print(f"\nThe console: http://127.0.0.1:{port}/   (sign in as any of the roles below)")
        out.print(f"\nGraphiQL: http://127.0.0.1:{port}/graphql   (open it in a browser: its tabs carry the admin "
                  "token in Headers)\nA first query to paste:\n")  # fmt: skip
        out.print(FIRST_QUERY, markup=False, highlight=False)
        out.print("\nA token per role (8 hours; `crmgraph token --subject S --role R [--claim k=v]` makes others).")
        out.print('To see the graph as one of them, paste into GraphiQL\'s Headers pane (bottom left):\n'
                  '  {"Authorization": "Bearer <token>"}\n')  # fmt: skip
        for found in tokens:
            claims = "".join(f", {key} {value}" for key, value in found.claims.items())
            out.print(f"{found.role} ({WHAT_EACH_SEES[found.role]}{claims}):", markup=False, highlight=False)
            out.print(found.token + "\n", markup=False, highlight=False, soft_wrap=True)
        where = "" if data_dir == Path("var/demo") else f"CRMGRAPH_IDENTITY_URL={os.environ['CRMGRAPH_IDENTITY_URL']} "
        out.print(f"The audit trail of what they read: {where}crmgraph audit -c crmgraph/demo/config.yaml "
                  "(and `crmgraph audit verify -c ...`)\n", markup=False, highlight=False)  # fmt: skip
        out.print(f"or: curl -s http://127.0.0.1:{port}/graphql -H 'content-type: application/json' "
                  f"-H 'Authorization: Bearer {admin}' "
                  f"-d '{{\"query\": \"{{ customers(first: 2) {{ nodes {{ name }} }} }}\"}}'\n")  # fmt: skip
        app = build_app(loaded, graphiql_headers={"Authorization": f"Bearer {admin}"})
        run_server(app, "127.0.0.1", port, log_level="warning")
