"""The ``workflows:`` section of the configuration: one sub-section per workflow (docs/workflows.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from crmgraph.workflows.assignment.settings import AssignmentConfig
from crmgraph.workflows.rules.settings import RulesConfig
from crmgraph.workflows.triage.settings import TriageConfig


class WorkflowsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    triage: TriageConfig = Field(default_factory=TriageConfig, description="Ticket triage: the classifier.")
    assignment: AssignmentConfig = Field(
        default_factory=AssignmentConfig, description="Lead distribution and ticket routing rules."
    )
    rules: RulesConfig = Field(default_factory=RulesConfig, description="Automation rules: when, where, then.")
