"""The ``workflows.triage:`` section: which classifier triages tickets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TriageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
