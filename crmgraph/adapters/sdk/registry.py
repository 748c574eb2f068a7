"""Finding adapters: every class registered under the entry-point group ``crmgraph.adapters``.

A plugin package declares, in its ``pyproject.toml``::

    [project.entry-points."crmgraph.adapters"]
    mysystem = "my_package.adapter:MySystemAdapter"

and ``adapter: mysystem`` in crmgraph's configuration then uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.errors import ConfigError

ENTRY_POINT_GROUP = "crmgraph.adapters"


@dataclass(frozen=True)
class InstalledAdapter:
    kind: str
    target: str  # "module:Class"
    package: str | None
    version: str | None
    adapter: type[Adapter] | None
    problem: str | None  # why it could not be loaded, if it could not


def _load(point: EntryPoint) -> InstalledAdapter:
    dist = point.dist
    package, version = (dist.name, dist.version) if dist is not None else (None, None)
    try:
        loaded = point.load()
    except Exception as exc:  # a broken plugin must not take the others down with it
        return InstalledAdapter(point.name, point.value, package, version, None, f"{type(exc).__name__}: {exc}")
    if not (isinstance(loaded, type) and issubclass(loaded, Adapter)):
        return InstalledAdapter(point.name, point.value, package, version, None, "not a crmgraph Adapter subclass")
    return InstalledAdapter(point.name, point.value, package, version, loaded, None)


def installed_adapters() -> dict[str, InstalledAdapter]:
    """Every registered adapter by kind, loaded (or with the reason it could not be)."""
    return {point.name: _load(point) for point in entry_points(group=ENTRY_POINT_GROUP)}


def adapter_class(kind: str, *, path: str = "") -> type[Adapter]:
    """The adapter registered as ``kind``; a :class:`ConfigError` naming the choices otherwise."""
    installed = installed_adapters()
    found = installed.get(kind)
    if found is None:
        known = ", ".join(sorted(installed)) or "none"
        raise ConfigError(path, f"no adapter named {kind!r} is installed (installed: {known})")
    if found.adapter is None:
        raise ConfigError(path, f"adapter {kind!r} ({found.target}) cannot be loaded: {found.problem}")
    return found.adapter
