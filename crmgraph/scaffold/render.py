"""Filling the scaffold's templates (``string.Template``: ``${name}`` placeholders, ``${dollar}`` for a ``$``)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from string import Template

from crmgraph.scaffold.names import AdapterNames

MAX_BATCH = 50  # ids per call of the stand-in API


def values_for(names: AdapterNames) -> dict[str, str]:
    return {
        "name": names.name,
        "kind": names.kind,
        "project": names.project,
        "package": names.package,
        "class_name": names.class_name,
        "title": names.title,
        "env_prefix": names.kind.upper(),
        "max_batch": str(MAX_BATCH),
        "dollar": "$",
    }


def render(layout: dict[str, str], names: AdapterNames) -> dict[str, str]:
    """``layout`` maps a template (relative to ``templates/``) to its target path (``{kind}``, ``{name}``,
    ``{package}`` filled in); the result maps each target to its text."""
    templates = files("crmgraph.scaffold") / "templates"
    values = values_for(names)
    rendered: dict[str, str] = {}
    for template, target in layout.items():
        text = templates.joinpath(*template.split("/")).read_text(encoding="utf-8")
        where = target.format(kind=names.kind, name=names.name, package=names.package)
        rendered[where] = Template(text).substitute(values)
    return rendered


def write_files(root: Path, contents: dict[str, str]) -> list[Path]:
    """Write ``contents`` under ``root``; the paths written."""
    written = []
    for relative, text in contents.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
