"""The ``workflows.assignment:`` section: lead distribution and ticket routing."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AssignmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
