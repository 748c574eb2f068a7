"""``crmgraph triage train | evaluate | predict``: the ticket triage model (docs/workflows.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crmgraph.demo.layout import DEFAULT_DATA_DIR, EstateLayout
from crmgraph.workflows.triage.errors import TriageFileError

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
triage_app = typer.Typer(help="Ticket triage: train, evaluate and try the model (docs/workflows.md).")

DataDir = Annotated[
    Path, typer.Option(help="A demo estate: its tickets_labels.csv and tickets.sqlite are the defaults below.")
]
Labels = Annotated[Path | None, typer.Option(help="The labels CSV (ticket, severity, category, tags, language).")]
Tickets = Annotated[Path | None, typer.Option(help="The ticket system's SQLite store holding the tickets' texts.")]


@contextmanager
def _refusals() -> Iterator[None]:
    """A file that cannot be used ends the command with its message, not a traceback."""
    try:
        yield
    except TriageFileError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _inputs(data_dir: Path, labels: Path | None, tickets: Path | None) -> tuple[Path, Path]:
    layout = EstateLayout(data_dir)
    return labels or layout.ticket_labels, tickets or layout.tickets_db


@triage_app.command("train")
def train_command(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Where to write the model file.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    labels: Labels = None,
    tickets: Tickets = None,
) -> None:
    """Train on the labelled tickets, print the scores on the held-out fifth, save the model file."""
    from crmgraph.workflows.triage.model import TRAINING_STEPS
    from crmgraph.workflows.triage.store import save_model
    from crmgraph.workflows.triage.train import labelled_tickets, train

    labels_path, tickets_db = _inputs(data_dir, labels, tickets)
    with _refusals():
        found = labelled_tickets(labels_path, tickets_db)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("training", total=len(TRAINING_STEPS) + 1)

        def step(name: str) -> None:
            done = TRAINING_STEPS.index(name)
            progress.update(task, completed=done, description=f"training: {name}")

        try:
            training = train(found, step)
        except ValueError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        progress.update(task, completed=len(TRAINING_STEPS) + 1)
    save_model(training.model, out_file, training.summary())
    console.print(
        f"trained on {training.trained_on} tickets in {training.seconds:.1f} s; "
        f"held out {training.held_out}; model written to {out_file}"
    )
    _print_evaluation(training.evaluation)


@triage_app.command("evaluate")
def evaluate_command(
    model: Annotated[Path, typer.Option("--model", "-m", help="The model file.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    labels: Labels = None,
    tickets: Tickets = None,
    every: Annotated[
        bool, typer.Option("--all", help="Score on every labelled ticket, not only the held-out ones.")
    ] = False,
) -> None:
    """Score a model file against labelled tickets (by default the held-out ones it was not trained on)."""
    from crmgraph.workflows.triage.dataset import split
    from crmgraph.workflows.triage.evaluate import evaluate
    from crmgraph.workflows.triage.store import load_model
    from crmgraph.workflows.triage.train import labelled_tickets

    labels_path, tickets_db = _inputs(data_dir, labels, tickets)
    with _refusals():
        fitted = load_model(model)
        found = labelled_tickets(labels_path, tickets_db)
    scored = found if every else split(found)[1]
    if not scored:
        console.print("[red]error:[/red] no labelled ticket to score on")
        raise typer.Exit(2)
    console.print(f"scored on {len(scored)} {'labelled' if every else 'held-out'} tickets")
    _print_evaluation(evaluate(fitted, scored))


@triage_app.command("predict")
def predict_command(
    subject: Annotated[str, typer.Argument(help="The ticket's subject.")],
    text: Annotated[str, typer.Argument(help="The ticket's text.")] = "",
    model: Annotated[Path, typer.Option("--model", "-m", help="The model file.")] = Path("var/triage/model.zip"),
) -> None:
    """Triage one ticket: a quick look at what the model says."""
    from crmgraph.workflows.triage.store import load_model

    with _refusals():
        fitted = load_model(model)
    verdict = fitted.predict([(subject, text)])[0]
    out.print(
        f"severity={verdict.severity} category={verdict.category} tags={','.join(verdict.tags) or '-'} "
        f"confidence={verdict.confidence:.2f} language={verdict.language}"
    )


def _print_evaluation(evaluation: object) -> None:
    from crmgraph.workflows.triage.evaluate import Evaluation

    assert isinstance(evaluation, Evaluation)
    for target, score in evaluation.targets.items():
        table = Table(title=f"{target}: macro-F1 {score.macro_f1:.3f}, accuracy {score.accuracy:.3f}")
        for column in ("class", "precision", "recall", "F1", "support"):
            table.add_column(column, justify="left" if column == "class" else "right")
        for c in score.classes:
            table.add_row(c.label, f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", str(c.support))
        table.add_row(
            "macro",
            f"{score.macro_precision:.3f}",
            f"{score.macro_recall:.3f}",
            f"{score.macro_f1:.3f}",
            "",
            style="bold",
        )
        out.print(table)
