"""The ``rest`` adapter: a REST API described in YAML becomes a source (docs/rest-sources.md)."""

from __future__ import annotations

from crmgraph.adapters.rest.adapter import RestAdapter

__all__ = ["RestAdapter"]
