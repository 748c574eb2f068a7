"""``crmgraph adapters new NAME --kind python``: a plugin package that passes the contract suite as written."""

from __future__ import annotations

from crmgraph.scaffold.names import AdapterNames
from crmgraph.scaffold.render import render

LAYOUT = {
    "python/pyproject.toml.tmpl": "pyproject.toml",
    "python/README.md.tmpl": "README.md",
    "python/adapter.py.tmpl": "src/{package}/__init__.py",
    "common/stand_in_api.py.tmpl": "tests/stand_in_api.py",
    "python/test_adapter.py.tmpl": "tests/test_{kind}.py",
}


def python_package_files(names: AdapterNames) -> dict[str, str]:
    """Relative path -> content of every file of the new package."""
    contents = render(LAYOUT, names)
    contents[f"src/{names.package}/py.typed"] = ""  # the package is typed for its users' mypy
    return contents
