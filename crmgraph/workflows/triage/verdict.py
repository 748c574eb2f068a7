"""What triage says about a ticket, and the interface every classifier offers (the trained model, or a
deployment's own behind an HTTP endpoint): routing and rules depend on this, never on a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Triage:
    severity: str  # low | normal | high | urgent
    category: str  # complaint | billing | delivery | technical | account | inquiry ... (the model's labels)
    tags: tuple[str, ...] = ()
    confidence: float = 1.0  # the classifier's probability of its severity and category, together
    classifier: str = ""  # which classifier said so (for explanations)
    language: str = ""  # zh | en, when the classifier tells (the trained model does; routing may match skills)


class TicketClassifier(Protocol):
    """Triage for many tickets at once (a batch keeps a model's and an endpoint's cost per ticket low)."""

    async def classify(self, tickets: list[tuple[str, str]]) -> list[Triage]:
        """One verdict per (subject, text), in order."""
        ...
