"""The identity commands: ``crmgraph link`` and ``crmgraph identity evaluate | match``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from crmgraph.config import Config
from crmgraph.errors import SourceError

if TYPE_CHECKING:
    from crmgraph.identity.evaluate import Evaluation
    from crmgraph.identity.linker import LinkReport

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
identity_app = typer.Typer(help="Identity resolution: score a linking, match a CSV file.")


class _Bars:
    """One progress bar per stage ("scan crm party", "match", "write"), created as stages appear."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        task = self.tasks.get(stage)
        if task is None:
            task = self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(task, completed=done, total=total)


def _print_link_report(report: LinkReport) -> None:
    scanned = ", ".join(f"{what} {n:,}" for what, n in sorted(report.scanned.items()))
    companies, persons = report.companies, report.persons
    out.print(
        f"Linked {companies.records + persons.records:,} records into {companies.golden:,} customers and "
        f"{persons.golden:,} persons (read {scanned} in {report.seconds.get('scan', 0):.1f} s)."
    )
    for label, kind in (("customers", companies), ("persons", persons)):
        rules = ", ".join(f"{rule} {n:,}" for rule, n in sorted((kind.by_rule or {}).items()))
        out.print(
            f"{kind.records:,} records -> {kind.golden:,} golden {label} ({kind.new:,} new ids, "
            f"{kind.absorbed:,} merged away, {kind.links_written:,} links written; records by rule: {rules}); "
            f"{kind.review:,} pairs wait for review."
        )
    out.print(
        f"Matched in {report.seconds.get('match', 0):.1f} s, written in {report.seconds.get('write', 0):.1f} s; "
        f"{report.dangling_xrefs:,} cross-references name records no source has."
    )


def run_link(loaded: Config, *, changed: bool = False) -> None:
    """The linking run with progress bars; exits 1 (nothing written) when a source fails. ``changed``: the
    incremental run, which compares only the records changed since the last run."""
    from crmgraph.identity.incremental import NeedsFullRun
    from crmgraph.identity.linker import link, link_changes
    from crmgraph.identity.store import IdentityStore
    from crmgraph.sources import OpenSources

    async def run() -> LinkReport:
        store = IdentityStore(loaded.identity.url)
        store.create()
        try:
            async with OpenSources(loaded) as adapters:
                columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
                with Progress(*columns, console=console, transient=True) as progress:
                    run_once = link_changes if changed else link
                    return await run_once(store, adapters, loaded.identity, _Bars(progress))
        finally:
            store.close()

    try:
        report = asyncio.run(run())
    except SourceError as exc:
        console.print(f"[red]Linking stopped, nothing was written:[/] {exc}")
        raise typer.Exit(1) from exc
    except NeedsFullRun as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    if report.changed is not None:
        out.print(f"Incremental run: {_reads(report)}.")
        out.print(f"{report.changed:,} records compared again: changed, or filed under a changed company.")
    _print_link_report(report)


def _reads(report: LinkReport) -> str:
    """What an incremental run read of each source: the changes its feed gave, or the whole of it."""
    parts = []
    for what in sorted(report.scanned.keys() | report.read_whole):
        n = report.scanned.get(what, 0)
        parts.append(f"{what} {n:,} records (read whole: no change feed or no watermark)"
                     if what in report.read_whole else f"{what} {n:,} changed records (change feed)")  # fmt: skip
    return "; ".join(parts) or "no source read"


def _print_evaluation(evaluation: Evaluation) -> None:
    table = Table(
        title=f"{evaluation.kind}: {evaluation.records:,} records, {evaluation.golden:,} golden for "
        f"{evaluation.entities:,} true ({evaluation.unscored:,} linked records not in the truth)"
    )
    for column in ("pairs of", "precision", "recall", "F1", "predicted", "true", "correct"):
        table.add_column(column, justify="left" if column == "pairs of" else "right")
    for score in evaluation.scores:
        table.add_row(
            score.scope, f"{score.precision:.4f}", f"{score.recall:.4f}", f"{score.f1:.4f}",
            f"{score.predicted:,}", f"{score.true:,}", f"{score.correct:,}",
        )  # fmt: skip
    out.print(table)


ConfigFile = Annotated[Path, typer.Option("--config", "-c", help="The YAML configuration file.")]


@identity_app.command("evaluate")
def evaluate_command(
    truth: Annotated[Path, typer.Option(help="Ground truth CSV: party, person, system, object, source_id.")],
    config: ConfigFile,
) -> None:
    """Score the identity store's links against a ground truth: precision, recall and F1 on record pairs."""
    from crmgraph.cli_graph import _load
    from crmgraph.identity.evaluate import evaluate, read_truth
    from crmgraph.identity.filing import read_person_parties, score_filing
    from crmgraph.identity.store import IdentityStore

    loaded = _load(config)
    try:
        truth_records = read_truth(truth)
    except (OSError, ValueError) as exc:
        console.print(f"[red]Cannot read the truth file:[/] {exc}")
        raise typer.Exit(2) from exc
    store = IdentityStore(loaded.identity.url)
    try:
        companies, persons = store.golden_of_records()
        filed = store.customers_of_person_records()
    finally:
        store.close()
    for kind, predicted in (("companies", companies), ("persons", persons)):
        _print_evaluation(evaluate(kind, predicted, truth_records[kind]))
    scores = score_filing(filed, companies, truth_records["companies"], read_person_parties(truth))
    table = Table(title="people -> customer: is each person filed under the company they work for?")
    for column in ("people", "precision", "recall", "F1", "filed", "at a known customer", "correct"):
        table.add_column(column, justify="left" if column == "people" else "right")
    for score in scores:
        table.add_row(
            "all" if score.scope == "all people" else score.scope.removeprefix("people in "),
            f"{score.precision:.4f}", f"{score.recall:.4f}", f"{score.f1:.4f}",
            f"{score.predicted:,}", f"{score.true:,}", f"{score.correct:,}",
        )  # fmt: skip
    out.print(table)


@identity_app.command("match")
def match_command(
    csv_file: Annotated[Path, typer.Option("--csv", help="The CSV export: one row a record.")],
    config: Annotated[Path, typer.Option("--config", "-c", help="The match file (YAML): fields, rules.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Where clusters.csv and review.csv go.")] = Path("match-out"),
) -> None:
    """Deduplicate and link the rows of a CSV file; writes the clusters and the review candidates."""
    from crmgraph.identity.csv_match import CsvMatchError, load_match_config, match_csv, read_records, write_results
    from crmgraph.identity.evaluate import evaluate

    try:
        settings = load_match_config(config)
        with console.status(f"reading {csv_file} ..."):
            records = read_records(csv_file, settings)
    except CsvMatchError as exc:
        console.print(f"[red]{config}: {len(exc.problems)} problem(s)[/]")
        for problem in exc.problems:
            console.print(f"  [bold]{problem.path or '(file)'}[/]: {problem.message}")
        raise typer.Exit(2) from exc
    with console.status(f"matching {len(records.profiles):,} records ..."):
        result = match_csv(records, settings)
    clusters_path, review_path = write_results(result, out_dir)
    report = result.report
    out.print(
        f"{report.records:,} records -> {report.clusters:,} clusters ({report.blocking.pairs:,} pairs compared, "
        f"{len(result.review):,} for review) in {sum(report.seconds.values()):.1f} s; "
        f"wrote {clusters_path} and {review_path}."
    )
    if records.entities:
        predicted = {profile.key: int(result.labels[row]) for row, profile in enumerate(result.profiles)}
        _print_evaluation(evaluate("records", predicted, records.entities))
