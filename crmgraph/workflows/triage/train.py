"""Training: labelled tickets in, a fitted model and its scores on the held-out tickets out.

The held-out tickets (a stable fifth, by a hash of the id: :func:`dataset.is_held_out`) are never trained
on, so the scores say how the model does on tickets it has not seen.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from crmgraph.workflows.triage.dataset import LabelledTicket, join, pairs, read_labels, read_ticket_texts, split
from crmgraph.workflows.triage.evaluate import Evaluation, evaluate
from crmgraph.workflows.triage.model import Step, TriageModel


@dataclass(frozen=True)
class Training:
    model: TriageModel
    evaluation: Evaluation
    trained_on: int
    held_out: int
    seconds: float  # fitting only

    def summary(self) -> dict[str, object]:
        """What the model file records of how it was made."""
        return {
            "tickets": self.trained_on,
            "held_out": self.held_out,
            "seconds": round(self.seconds, 2),
            "macro_f1": {target: round(score.macro_f1, 4) for target, score in self.evaluation.targets.items()},
        }


def train(tickets: Sequence[LabelledTicket], step: Step | None = None) -> Training:
    training, held_out = split(tickets)
    if not training or not held_out:
        raise ValueError(f"{len(tickets)} labelled tickets are too few to train and hold some out")
    started = time.perf_counter()
    model = TriageModel.fit(
        pairs(training),
        [t.label.severity for t in training],
        [t.label.category for t in training],
        [t.label.tags for t in training],
        step,
    )
    seconds = time.perf_counter() - started
    return Training(model, evaluate(model, held_out), len(training), len(held_out), seconds)


def labelled_tickets(labels_path: Path, tickets_db: Path) -> list[LabelledTicket]:
    """The labels file joined to a ticket store's subjects and texts."""
    return join(read_labels(labels_path), read_ticket_texts(tickets_db), labels_path)
