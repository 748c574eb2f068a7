"""The names a new adapter goes by, derived from the one name its author gives."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
MAX_NAME = 40


class BadAdapterName(ValueError):
    """The name cannot become a Python package and an entry point."""


@dataclass(frozen=True)
class AdapterNames:
    name: str  # as given: acme-billing
    kind: str  # the entry-point name and config value: acme_billing
    project: str  # the distribution: crmgraph-acme-billing
    package: str  # the import package: crmgraph_acme_billing
    class_name: str  # AcmeBillingAdapter
    title: str  # Acme Billing

    @classmethod
    def of(cls, name: str) -> AdapterNames:
        if not _NAME.match(name) or len(name) > MAX_NAME:
            raise BadAdapterName(
                f"NAME must be lower-case letters and digits, words joined by - or _, starting with a letter "
                f"and at most {MAX_NAME} characters (e.g. acme-billing), got {name!r}"
            )
        words = re.split(r"[-_]", name)
        kind = "_".join(words)
        return cls(
            name=name,
            kind=kind,
            project="crmgraph-" + "-".join(words),
            package="crmgraph_" + kind,
            class_name="".join(word.capitalize() for word in words) + "Adapter",
            title=" ".join(word.capitalize() for word in words),
        )
