"""Workflows: assignment (docs/workflows.md)."""
