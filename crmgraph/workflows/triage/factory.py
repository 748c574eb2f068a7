"""The configured classifier, built from the ``workflows.triage`` section."""

from __future__ import annotations

from crmgraph.workflows.triage.settings import TriageConfig
from crmgraph.workflows.triage.verdict import TicketClassifier


def build_classifier(config: TriageConfig) -> TicketClassifier | None:
    """The classifier the config names, or None when triage is off; a model file that cannot be loaded is
    refused here, at start-up, with a :class:`TriageFileError` that names it."""
    # scikit-learn and skops take seconds to import: only a facade that triages with the model pays for them.
    if config.classifier == "model":
        from crmgraph.workflows.triage.model import ModelClassifier
        from crmgraph.workflows.triage.store import load_model

        assert config.model_path is not None  # the config's validator sees to it
        return ModelClassifier(load_model(config.model_path))
    if config.classifier == "http":
        from crmgraph.workflows.triage.http import HttpClassifier

        assert config.endpoint is not None
        return HttpClassifier(config.endpoint)
    return None
