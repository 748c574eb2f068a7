"""A REST source's spec is checked whole at start: every mistake names its key path and what was expected, and
``crmgraph check-config`` shows it; ``--probe`` maps live records and names the record and field that fail."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from crmgraph.adapters.rest import RestAdapter
from crmgraph.demo.wire import serving_in_thread
from crmgraph.errors import ConfigError
from tests import rest_api_server as server
from tests.test_adapter_rest import MARKETING


def spec(edit: str = "", value: Any = None) -> dict[str, Any]:
    """The marketing spec with the key at dotted path ``edit`` set to ``value`` (None removes it)."""
    tree: dict[str, Any] = yaml.safe_load(MARKETING)
    if edit:
        *parents, last = edit.split(".")
        node = tree
        for part in parents:
            node = node[part]
        if value is None:
            node.pop(last)
        else:
            node[last] = value
    return tree


def refused(tree: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        RestAdapter("marketing", {"api": tree})
    return str(caught.value)


def test_a_good_spec_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REST_API_URL", "http://127.0.0.1:1")
    adapter = RestAdapter("marketing", {"api": spec()})
    assert {(p.entity, p.by, p.max_batch) for p in adapter.paths} == {
        # a membership: many parents a batch, their members fetched together
        ("lead", "id", 30), ("lead", "campaign", 50), ("touch", "person", 10),
    }  # fmt: skip
    assert adapter.scannable == {"lead"} and adapter.change_feeds == {"lead"}
    assert adapter.writable == {("lead", "create"), ("lead", "update")}


@pytest.mark.parametrize(
    ("edit", "value", "expected"),
    [
        ("entities.lead.fields.created_at.format", 42,
         "sources.marketing.api: entities.lead.fields.created_at.format: expected a strftime pattern or one of "
         "iso8601, epoch_s, epoch_ms, got 42"),
        ("entities.lead.colour", "red", "entities.lead.colour: unknown key"),
        ("entities.lead.fields.shoe_size", {"path": "shoe"}, "entities.lead.fields.shoe_size: not a field of lead "
         "records; known: name, first_name"),
        ("entities.lead.fields.name", None, "entities.lead.fields: lead records need name: map them"),
        ("entities.lead.fields.points.path", "points[", "entities.lead.fields.points.path: not a JMESPath expression"),
        ("entities.lead.fields.points.type", "date", "points.type: points of lead is int, not date"),
        ("entities.lead.get.path", "/api/contacts", "entities.lead.get: the path or a parameter must hold {id}"),
        ("entities.lead.record", "potato", "entities.lead.record: no canonical record 'potato'; known: party"),
        ("entities.touch.fields.kind.map", {"x": "WAVED"}, "entities.touch.fields.kind.map: WAVED not among"),
        ("entities.lead.list.paging.style", "scroll", "entities.lead.list.paging.style: Input should be"),
        ("auth.type", "kerberos", "auth: Input tag 'kerberos' found using 'type' does not match"),
        ("base_url", "${NOT_SET_ANYWHERE}", "base_url: environment variable NOT_SET_ANYWHERE is not set"),
        ("entities.touch.fields.person_id", None,
         "entities.touch.related.person.key_field: person_id must also be mapped under fields"),
        ("entities.lead.related.campaign.params", {"more": "{keys}"},
         "entities.lead.related.campaign.members: a membership is listed one parent a call: use {key}, not {keys}"),
    ],
)  # fmt: skip
def test_each_mistake_names_its_key_path(edit: str, value: Any, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if "NOT_SET" not in str(value):
        monkeypatch.setenv("REST_API_URL", "http://127.0.0.1:1")
    assert expected in refused(spec(edit, value))


def test_a_source_needs_a_spec_file_or_an_inline_api() -> None:
    with pytest.raises(ConfigError, match="needs `spec`"):
        RestAdapter("marketing", {})


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[server.State]:
    state = server.State()
    state.reset()
    with serving_in_thread(server.build_rest_api(state)) as url:
        monkeypatch.setenv("REST_API_URL", url)
        yield state


def _check(config: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "250", "REST_API_URL": os.environ.get("REST_API_URL", "http://x")}
    return subprocess.run([sys.executable, "-m", "crmgraph", "check-config", "--config", str(config), *flags],
                          capture_output=True, text=True, env=env)  # fmt: skip


def _configured(tmp_path: Path, tree: dict[str, Any]) -> Path:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "marketing.yaml").write_text(yaml.safe_dump(tree))
    config = tmp_path / "crmgraph.yaml"
    config.write_text("sources:\n  marketing: {adapter: rest, spec: specs/marketing.yaml}\n")  # relative to config
    return config


def test_check_config_shows_a_spec_mistake_with_its_path(tmp_path: Path) -> None:
    done = _check(_configured(tmp_path, spec("entities.lead.fields.created_at.format", 42)))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "sources.marketing.spec" in done.stderr and "entities.lead.fields.created_at.format" in done.stderr


def test_probe_maps_live_records_of_each_entity(tmp_path: Path, api: server.State) -> None:
    done = _check(_configured(tmp_path, spec()), "--probe")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lead" in done.stdout and "6 record(s) mapped" in done.stdout  # five listed, one got
    assert "no list call" in done.stdout  # touch: nothing to take records from


def test_probe_names_the_record_and_field_that_fail(tmp_path: Path, api: server.State) -> None:
    api.broken = {2}
    done = _check(_configured(tmp_path, spec()), "--probe")
    assert done.returncode == 1
    assert "record 2: field updated_at" in done.stdout and "last tuesday" in done.stdout


@pytest.mark.parametrize(
    "expression",
    ["fields.all.email", "fields.all.none", "fields.gone.email", "name.first", "tags", "null", "fields", "a_1.b"],
)
def test_a_dotted_path_read_by_dict_lookups_selects_what_jmespath_selects(expression: str) -> None:
    import jmespath

    from crmgraph.adapters.rest.select import search

    data: Any = {"fields": {"all": {"email": "a@b.c", "none": None}}, "name": "Ada", "tags": [1], "null": 0,
                 "a_1": {"b": [{}]}}  # fmt: skip
    assert search(expression, data) == jmespath.search(expression, data)
    assert search(expression, [data]) == jmespath.search(expression, [data])  # not an object: nothing
