"""Workflows: rules (docs/workflows.md)."""
