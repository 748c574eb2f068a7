"""``crmgraph adapters new NAME`` (``--kind yaml``, the default): a REST source spec with its tests.

As generated, the spec describes the stand-in API it ships with and passes the contract suite. With
``--from-openapi`` the spec is drafted from the API's own OpenAPI document instead, to be edited; its test
then checks that the draft stays a valid spec (the live API is probed with ``check-config --probe``).
"""

from __future__ import annotations

from pathlib import Path

from crmgraph.scaffold.names import AdapterNames
from crmgraph.scaffold.openapi import draft_spec, read_openapi
from crmgraph.scaffold.render import render

LAYOUT = {
    "yaml/spec.yaml.tmpl": "{name}.yaml",
    "yaml/README.md.tmpl": "README.md",
    "common/stand_in_api.py.tmpl": "stand_in_api.py",
    "yaml/test_spec.py.tmpl": "test_{kind}.py",
}
DRAFT_LAYOUT = {"yaml/README_draft.md.tmpl": "README.md", "yaml/test_draft.py.tmpl": "test_{kind}.py"}


def yaml_source_files(names: AdapterNames, openapi: Path | None = None) -> dict[str, str]:
    """Relative path -> content of every file to write."""
    if openapi is None:
        return render(LAYOUT, names)
    draft = draft_spec(read_openapi(openapi), names)
    return {f"{names.name}.yaml": draft, **render(DRAFT_LAYOUT, names)}
