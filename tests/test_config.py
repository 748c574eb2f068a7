"""The configuration: every mistake is reported with the path of the key at fault, and ${ENV} works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crmgraph.cli_graph import demo_config_text
from crmgraph.config import ConfigErrors, parse_config

GOOD = """
sources:
  crm: {adapter: hubspot, url: "http://127.0.0.1:8101", token: "${CRM_TOKEN}"}
  erp: {adapter: sql, url: "sqlite:///erp.sqlite"}
cache: {url: "memory://", ttl_s: {order: 30}}
"""


def test_environment_references_are_replaced_and_defaults_apply() -> None:
    config = parse_config(GOOD, environ={"CRM_TOKEN": "s3cret"})
    assert config.sources["crm"].settings()["token"] == "s3cret"
    assert config.cache.ttl_for("order") == 30 and config.cache.ttl_for("party") == 60
    assert list(config.sources) == ["crm", "erp"], "source order is precedence and must be kept"
    assert parse_config(demo_config_text(), environ={}).sources["crm"].settings()["url"] == "http://127.0.0.1:8101"


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        (GOOD, "sources.crm.token", "CRM_TOKEN is not set"),
        ("sources: {}", "sources", "at least 1"),
        ("sources: {crm: {url: x}}", "sources.crm.adapter", "required"),
        (GOOD.replace("memory://", "memcached://x"), "cache.url", "memory:// or a redis://"),
        (GOOD + "server: {port: 70000}", "server.port", "less than or equal"),
        (GOOD + "server: {prot: 8000}", "server.prot", "not permitted"),
        (GOOD.replace("ttl_s: {order: 30}", "ttl_s: {order: -1}"), "cache.ttl_s", "negative"),
        ("sources: {CRM: {adapter: hubspot}}", "sources", "lower-case"),
    ],
)
def test_each_mistake_names_the_key_at_fault(text: str, path: str, words: str) -> None:
    with pytest.raises(ConfigErrors) as caught:
        parse_config(text, environ={})
    assert any(p.path == path and words in p.message for p in caught.value.problems), caught.value.problems


def test_broken_yaml_says_where() -> None:
    with pytest.raises(ConfigErrors, match=r"config:\d+:\d+: not valid YAML"):
        parse_config("sources:\n  crm: [unclosed\n", environ={})


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crmgraph", "check-config", "--config", str(path)],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "CRM_TOKEN": "x", "COLUMNS": "200"},
    )  # fmt: skip


def test_check_config_accepts_a_good_file(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    done = _check(tmp_path / "good.yaml")
    assert done.returncode == 0 and "OK" in done.stdout and "crm (hubspot)" in done.stdout


def test_check_config_lists_every_problem_with_its_path_and_no_traceback(tmp_path: Path) -> None:
    bad = GOOD.replace("hubspot", "hubspott").replace('"sqlite:///erp.sqlite"', "42") + "server: {port: -1}\n"
    (tmp_path / "bad.yaml").write_text(bad + "identity: {companies: {blocking: [[nme]]}}\n")
    done = _check(tmp_path / "bad.yaml")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    # One run names the top-level mistake, each source's and the identity section's, not one per run.
    assert "server.port" in done.stderr
    assert "sources.crm.adapter" in done.stderr and "hubspott" in done.stderr
    assert "sources.erp.url" in done.stderr
    assert "identity.companies.blocking.0.0" in done.stderr and "nme" in done.stderr


def test_check_config_checks_each_adapters_own_settings(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(GOOD.replace(', token: "${CRM_TOKEN}"', "").replace("max_page_size", "x"))
    done = _check(tmp_path / "bad.yaml")
    assert done.returncode == 2 and "sources.crm.token" in done.stderr, done.stderr


def test_check_config_explains_a_missing_file(tmp_path: Path) -> None:
    done = _check(tmp_path / "nope.yaml")
    assert done.returncode == 2 and "cannot read" in done.stderr and "Traceback" not in done.stderr
