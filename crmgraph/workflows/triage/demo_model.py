"""The demo's triage model: trained from the seeded estate's labelled tickets the first time `crmgraph demo`
runs (a few seconds), then kept in the data directory beside the estate it was trained on."""

from __future__ import annotations

from pathlib import Path

from crmgraph.demo.layout import EstateLayout
from crmgraph.workflows.triage.store import save_model
from crmgraph.workflows.triage.train import Training, labelled_tickets, train

MODEL_FILE = "triage-model.zip"


def ensure_demo_model(data_dir: Path) -> tuple[Path, Training | None]:
    """The model file for the estate in ``data_dir``, trained now if it is missing or older than the estate;
    the training when one ran (for its figures)."""
    layout = EstateLayout(data_dir)
    path = data_dir / MODEL_FILE
    if path.exists() and path.stat().st_mtime >= layout.ticket_labels.stat().st_mtime:
        return path, None
    training = train(labelled_tickets(layout.ticket_labels, layout.tickets_db))
    save_model(training.model, path, training.summary())
    return path, training
