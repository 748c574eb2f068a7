"""The seed generator: a deterministic, realistic estate and the identity ground truth behind it."""

from __future__ import annotations

from crmgraph.demo.seed.generate import data_dir_is_current, generate_estate, load_erp
from crmgraph.demo.seed.manifest import Manifest

__all__ = ["Manifest", "data_dir_is_current", "generate_estate", "load_erp"]
