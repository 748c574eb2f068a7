"""``${NAME}`` references in a parsed YAML tree, replaced by environment variables (configuration and the files
it names, such as a ``rest`` source's API description)."""

from __future__ import annotations

import re
from typing import Any

from crmgraph.errors import ConfigError

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, path: str, problems: list[ConfigError], environ: dict[str, str]) -> Any:
    """Replace ``${NAME}`` references throughout a parsed YAML tree."""
    if isinstance(value, dict):
        return {
            key: interpolate(item, f"{path}.{key}" if path else str(key), problems, environ)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [interpolate(item, f"{path}.{index}", problems, environ) for index, item in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if fallback is not None:
            return fallback
        problems.append(ConfigError(path, f"environment variable {name} is not set"))
        return ""

    return _ENV_REFERENCE.sub(substitute, value)
