"""Workflows: triage (docs/workflows.md)."""
