"""The package's layering holds: the adapter SDK knows no adapter, and the record types do not import the customer.

Read from the source (module-level and function-level imports alike; imports only for type checking are
allowed), so a circle cannot come back unnoticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "crmgraph"
ADAPTER_PACKAGES = ("hubspot", "zendesk", "sql", "rest")


def _runtime_imports(path: Path) -> set[str]:
    """Modules ``path`` imports when it runs (anything under ``if TYPE_CHECKING:`` left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_adapter_sdk_imports_no_adapter() -> None:
    sdk = PACKAGE / "adapters" / "sdk"
    offenders = {
        (str(path.relative_to(PACKAGE)), module)
        for path in sdk.rglob("*.py")
        for module in _runtime_imports(path)
        if any(module.startswith(f"crmgraph.adapters.{name}") for name in ADAPTER_PACKAGES)
    }
    assert offenders == set()


def test_each_adapter_has_a_package_of_its_own() -> None:
    loose = sorted(p.name for p in (PACKAGE / "adapters").glob("*.py") if p.name != "__init__.py")
    assert loose == [], f"modules outside the SDK and the adapter packages: {loose}"


def test_the_record_types_do_not_import_the_customer_type() -> None:
    assert "crmgraph.schema.customer" not in _runtime_imports(PACKAGE / "schema" / "nodes.py")
    assert "crmgraph.schema.nodes" in _runtime_imports(PACKAGE / "schema" / "customer.py")
