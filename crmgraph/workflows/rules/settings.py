"""The ``workflows.rules:`` section: automation rules (when EVENT where CONDITION then ACTIONS)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
