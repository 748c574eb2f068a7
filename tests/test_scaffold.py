"""``crmgraph adapters new``: what it writes passes its own tests as generated, and bad input is refused."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from crmgraph.adapters.rest import RestAdapter
from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.testing import AdapterContract, ContractSamples
from crmgraph.cli import app
from crmgraph.runner import serving
from crmgraph.scaffold.names import AdapterNames
from crmgraph.scaffold.openapi import draft_spec, read_openapi

runner = CliRunner()


def _generate(tmp_path: Path, *args: str) -> Path:
    result = runner.invoke(app, ["adapters", "new", *args, "--dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    return tmp_path / "out"


def test_a_python_adapter_package_passes_its_contract_suite_as_generated(tmp_path: Path) -> None:
    root = _generate(tmp_path, "acme-billing", "--kind", "python")
    assert (root / "src" / "crmgraph_acme_billing" / "__init__.py").is_file()
    assert 'acme_billing = "crmgraph_acme_billing:AcmeBillingAdapter"' in (root / "pyproject.toml").read_text()
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
         "--target", str(site), str(root)],
        check=True, capture_output=True,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(site)}
    pytest_run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(pytest_run, cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10 passed" in done.stdout  # the nine contract checks and the adapter's own test
    _assert_lint_clean(root, "src", "tests")


def _assert_lint_clean(root: Path, *folders: str) -> None:
    rules = "E,F,W,I,B,UP,SIM,RUF"
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--line-length=120", f"--select={rules}", *folders],
        cwd=root, capture_output=True, text=True,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout


def test_a_name_that_cannot_be_a_package_is_refused_with_what_is_expected(tmp_path: Path) -> None:
    result = runner.invoke(app, ["adapters", "new", "Acme Billing!", "--dir", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "lower-case letters and digits" in result.output and "'Acme Billing!'" in result.output
    assert not (tmp_path / "out").exists()


def test_nothing_is_overwritten(tmp_path: Path) -> None:
    root = _generate(tmp_path, "acme", "--kind", "python")
    mine = root / "src" / "crmgraph_acme" / "__init__.py"
    mine.write_text("# my work\n")
    result = runner.invoke(app, ["adapters", "new", "acme", "--kind", "python", "--dir", str(root)])
    assert result.exit_code == 1 and "nothing written" in result.output
    assert mine.read_text() == "# my work\n"


@pytest.mark.parametrize("command", [["adapters"], ["adapters", "list"]])
def test_the_installed_adapters_are_listed(command: list[str]) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    kinds = {line.split("│")[1].strip() for line in result.output.splitlines() if line.startswith("│")}
    assert {"hubspot", "sql", "zendesk"} <= kinds


def _pytest_in(root: Path) -> subprocess.CompletedProcess[str]:
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    return subprocess.run(run, cwd=root, capture_output=True, text=True)


def test_a_yaml_source_passes_the_contract_suite_as_generated(tmp_path: Path) -> None:
    root = _generate(tmp_path, "acme-billing")
    assert sorted(p.name for p in root.iterdir()) == [
        "README.md", "acme-billing.yaml", "stand_in_api.py", "test_acme_billing.py",
    ]  # fmt: skip
    done = _pytest_in(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 passed" in done.stdout  # the nine contract checks, run by the rest adapter on the YAML
    _assert_lint_clean(root, ".")


def test_a_draft_from_openapi_stays_a_valid_spec_and_lists_what_is_left(tmp_path: Path) -> None:
    root = _generate(tmp_path, "stand-in", "--from-openapi", str(OPENAPI))
    draft = (root / "stand-in.yaml").read_text()
    assert "Left to decide" in draft and "/api/health" in draft  # not recognised, and said so
    done = _pytest_in(root)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "neither JSON nor YAML"),
        ("swagger: '2.0'\npaths: {/a: {}}\n", "not an OpenAPI 3 document"),
        ("openapi: 3.0.0\npaths: {/health: {get: {responses: {}}}}\n", "no path looked like a collection"),
    ],
)
def test_an_openapi_document_that_cannot_be_drafted_is_refused_with_the_reason(
    tmp_path: Path, content: str, expected: str
) -> None:
    document = tmp_path / "api.yaml"
    document.write_text(content)
    result = runner.invoke(app, ["adapters", "new", "x", "--from-openapi", str(document), "--dir", str(tmp_path / "o")])
    assert result.exit_code == 2 and expected in result.output
    assert not (tmp_path / "o").exists()


OPENAPI = Path(__file__).resolve().parent / "data" / "stand_in_openapi.yaml"


def _stand_in_module(tmp_path: Path) -> ModuleType:
    """The scaffold's stand-in API, as it writes it, imported from where it wrote it."""
    path = _generate(tmp_path, "probe") / "stand_in_api.py"
    spec = importlib.util.spec_from_file_location("scaffold_stand_in_api", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def drafted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    tmp_path = tmp_path_factory.mktemp("draft")
    stand_in = _stand_in_module(tmp_path)
    names = AdapterNames.of("stand-in")
    spec = tmp_path / "stand-in.yaml"
    spec.write_text(draft_spec(read_openapi(OPENAPI), names))
    with serving(stand_in.make_app(*stand_in.sample_data())) as url:
        yield spec, url


class TestADraftFromOpenAPIPassesTheContractAgainstTheAPIItDescribes(AdapterContract):
    """What --from-openapi drafts from the stand-in's OpenAPI document works against the stand-in, unedited."""

    @pytest.fixture
    def make_adapter(self, drafted: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> Callable[[], Adapter]:
        spec, url = drafted
        monkeypatch.setenv("STAND_IN_URL", url)
        monkeypatch.setenv("STAND_IN_API_KEY", "test-key")
        return lambda: RestAdapter("stand_in", {"spec": str(spec)})

    @pytest.fixture
    def make_unreachable_adapter(
        self, drafted: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
    ) -> Callable[[], Adapter]:
        monkeypatch.setenv("STAND_IN_URL", "http://127.0.0.1:9")
        monkeypatch.setenv("STAND_IN_API_KEY", "test-key")
        return lambda: RestAdapter("stand_in", {"spec": str(drafted[0])})

    @pytest.fixture
    def contract_samples(self) -> ContractSamples:
        return ContractSamples(
            known_ids={"party": ["3", "1", "42", "120"], "person": ["1001", "1050", "1100"]},
            related_keys={("person", "party"): ["2", "3", "40", "41"]},
            scan_totals={"party": 120, "person": 100},
        )
