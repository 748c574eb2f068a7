"""The ``workflows.triage:`` section: which classifier triages tickets.

::

    workflows:
      triage:
        classifier: model            # none | model | http
        model_path: var/triage/model.zip
        # or, a deployment's own classifier (a language model, a hosted service) behind HTTP:
        # classifier: http
        # endpoint:
        #   url: https://triage.internal/classify
        #   timeout_s: 5
        #   headers: {Authorization: "Bearer ${TRIAGE_TOKEN}"}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TriageEndpoint(BaseModel):
    """An HTTP classifier: POST ``{"tickets": [{"subject", "text"}]}``, answered by one
    ``{"severity", "category", "tags", "confidence"}`` per ticket, in order (docs/workflows.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="Where batches of tickets are POSTed.", pattern=r"^https?://")
    timeout_s: float = Field(5.0, gt=0, le=300, description="Seconds one batch may take, connecting included.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Sent with every request (credentials: use ${ENV} interpolation)."
    )
    max_batch: int = Field(100, ge=1, le=10_000, description="The most tickets in one request; more are split.")


class TriageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    classifier: Literal["none", "model", "http"] = Field(
        "none",
        description="none: tickets are not triaged; model: the model file trained by `crmgraph triage train`; "
        "http: a deployment's own classifier behind `endpoint`.",
    )
    model_path: Path | None = Field(None, description="The model file (classifier: model).")
    endpoint: TriageEndpoint | None = Field(None, description="The HTTP classifier (classifier: http).")

    @model_validator(mode="after")
    def _complete(self) -> TriageConfig:
        if self.classifier == "model" and self.model_path is None:
            raise ValueError("classifier 'model' needs model_path (a file from `crmgraph triage train`)")
        if self.classifier == "http" and self.endpoint is None:
            raise ValueError("classifier 'http' needs endpoint: {url: ...}")
        return self
