"""The adapter SDK: its public surface, plugin discovery through entry points, and the batching machinery."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

import crmgraph.adapters
from crmgraph.adapters import AccessPath, Adapter, FetchResult, adapter_class, installed_adapters, shared_in_request
from crmgraph.adapters.sdk.calls import CallLog, current_call_log
from crmgraph.adapters.sdk.testing import AdapterContract, ContractSamples
from crmgraph.adapters.sdk.testing.contract import run_with
from crmgraph.errors import AdapterContractError, ConfigError, UpstreamUnavailable
from crmgraph.records import PartyRecord

T = TypeVar("T")

PUBLIC_SURFACE = [
    "ENTRY_POINT_GROUP", "AccessPath", "Adapter", "CallLog", "FetchResult", "HttpSource", "InstalledAdapter",
    "RateLimit", "RelatedResult", "SourceError", "UpstreamBadResponse", "UpstreamCall", "UpstreamRateLimited",
    "UpstreamRejected", "UpstreamTimeout", "UpstreamUnavailable", "adapter_class", "expect", "expected_related",
    "installed_adapters", "shared_in_request", "upstream_call",
]  # fmt: skip


def test_the_public_surface_for_plugin_authors_changes_only_on_purpose() -> None:
    assert sorted(crmgraph.adapters.__all__) == sorted(PUBLIC_SURFACE)
    for name in PUBLIC_SURFACE:
        assert hasattr(crmgraph.adapters, name)


PLUGIN_SOURCE = '''
"""A plugin adapter that answers from a dictionary: ids 1..60 exist."""
from __future__ import annotations

from crmgraph.adapters import AccessPath, Adapter, upstream_call
from crmgraph.records import Page, PartyRecord

KNOWN = {str(n): f"Echo customer {n}" for n in range(1, 61)}


class EchoAdapter(Adapter):
    kind = "echo"
    paths = (AccessPath("party", max_batch=25),)
    scannable = frozenset({"party"})

    async def _fetch(self, entity, ids):
        with upstream_call(self.source, f"ECHO {len(ids)}"):
            return [PartyRecord(self.source, i, name=KNOWN[i]) if i in KNOWN else None for i in ids]

    async def _scan(self, entity, cursor, size):
        start = int(cursor or 0)
        ids = sorted(KNOWN, key=int)[start : start + size]
        records = [PartyRecord(self.source, i, name=KNOWN[i]) for i in ids]
        more = start + size < len(KNOWN)
        return Page(records, str(start + size) if more else None)
'''


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Build and pip-install a separate plugin package into a target directory, as a user would."""
    root = tmp_path_factory.mktemp("plugin")
    package = root / "src" / "crmgraph_echo"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(PLUGIN_SOURCE)
    broken = root / "src" / "crmgraph_broken"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('this plugin is broken on purpose')\n")
    (root / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=69"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "crmgraph-echo"
        version = "0.3.0"
        [project.entry-points."crmgraph.adapters"]
        echo = "crmgraph_echo:EchoAdapter"
        broken = "crmgraph_broken:Whatever"
        [tool.setuptools.packages.find]
        where = ["src"]
        """)
    )
    target = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
         "--target", str(target), str(root)],
        check=True,
    )  # fmt: skip
    sys.path.insert(0, str(target))
    try:
        yield target
    finally:
        sys.path.remove(str(target))


def test_an_adapter_installed_as_a_separate_package_is_discovered(installed_plugin: Path) -> None:
    found = installed_adapters()["echo"]
    assert (found.package, found.version, found.problem) == ("crmgraph-echo", "0.3.0", None)
    assert adapter_class("echo").kind == "echo"


def test_a_broken_plugin_is_reported_without_hiding_the_others(installed_plugin: Path) -> None:
    adapters = installed_adapters()
    assert adapters["broken"].adapter is None and "broken on purpose" in str(adapters["broken"].problem)
    assert adapters["echo"].adapter is not None
    with pytest.raises(ConfigError, match="cannot be loaded"):
        adapter_class("broken")


def test_an_unknown_adapter_kind_names_the_installed_ones(installed_plugin: Path) -> None:
    with pytest.raises(ConfigError, match=r"no adapter named 'nope'.*echo"):
        adapter_class("nope", path="sources.crm.adapter")


def test_the_adapters_command_lists_the_plugin(installed_plugin: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crmgraph", "adapters"],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(installed_plugin), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    assert "echo" in done.stdout and "crmgraph-echo 0.3.0" in done.stdout and "party by id" in done.stdout
    assert "cannot load" in done.stdout


class TestThePluginPassesTheContractSuite(AdapterContract):
    @pytest.fixture
    def make_adapter(self, installed_plugin: Path) -> type[Adapter]:
        cls = adapter_class("echo")
        return lambda: cls("echo", {})  # type: ignore[return-value]

    @pytest.fixture
    def make_unreachable_adapter(self) -> object:
        return lambda: _Unreachable("echo", {})

    @pytest.fixture
    def contract_samples(self) -> ContractSamples:
        return ContractSamples(known_ids={"party": ["3", "1", "42"]}, scan_totals={"party": 60})


class _Unreachable(Adapter):
    kind = "unreachable"
    paths = (AccessPath("party"),)

    async def _fetch(self, entity: str, ids: Sequence[str]) -> Sequence[FetchResult]:
        raise UpstreamUnavailable(self.source, "connection refused")


class _Misaligned(Adapter):
    kind = "misaligned"
    paths = (AccessPath("party", max_batch=2),)

    async def _fetch(self, entity: str, ids: Sequence[str]) -> Sequence[FetchResult]:
        if "boom" in ids:
            raise RuntimeError("a bug in the adapter")
        return [PartyRecord(self.source, i, name=i) for i in ids][:1]


def test_keys_are_deduplicated_and_cut_into_declared_batches() -> None:
    seen: list[list[str]] = []

    class Recording(Adapter):
        kind = "recording"
        paths = (AccessPath("party", max_batch=2),)

        async def _fetch(self, entity: str, ids: Sequence[str]) -> Sequence[FetchResult]:
            seen.append(list(ids))
            return [PartyRecord(self.source, i, name=i) for i in ids]

    results, _ = run_with(lambda: Recording("r", {}), lambda a: a.fetch("party", ["a", "b", "a", "c", "b"]))
    assert [r.source_id for r in results if r] == ["a", "b", "a", "c", "b"]
    assert sorted(map(sorted, seen)) == [["a", "b"], ["c"]]


def test_an_exception_in_one_batch_fails_only_that_batchs_keys() -> None:
    results, _ = run_with(lambda: _Misaligned("m", {}), lambda a: a.fetch("party", ["boom", "x"]))
    assert all(isinstance(r, Exception) and r.code == "UPSTREAM_BAD_RESPONSE" for r in results)  # type: ignore[union-attr]


def test_an_answer_that_does_not_align_with_the_keys_is_a_contract_error() -> None:
    with pytest.raises(AdapterContractError, match="must align"):
        run_with(lambda: _Misaligned("m", {}), lambda a: a.fetch("party", ["x", "y"]))


def test_an_undeclared_path_is_a_contract_error_naming_the_source() -> None:
    with pytest.raises(AdapterContractError, match=r"m \(misaligned\) cannot reach order by party"):
        run_with(lambda: _Misaligned("m", {}), lambda a: a.fetch_related("order", "party", ["1"]))


# --- shared_in_request -------------------------------------------------------------------------------


def _in_a_request(scenario: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        token = current_call_log.set(CallLog())
        try:
            return await scenario()
        finally:
            current_call_log.reset(token)

    return asyncio.run(main())


def test_callers_in_one_request_share_one_call_per_key() -> None:
    made: list[str] = []

    async def read(key: str) -> str:
        made.append(key)
        await asyncio.sleep(0.01)
        return key.upper()

    async def scenario() -> list[str]:
        first = await asyncio.gather(*(shared_in_request(("view", k), lambda k=k: read(k)) for k in "aab"))
        later = await shared_in_request(("view", "a"), lambda: read("a"))  # done already: still shared
        return [*first, later]

    assert _in_a_request(scenario) == ["A", "A", "B", "A"]
    assert made == ["a", "b"]


def test_a_failed_shared_call_reaches_every_waiter_and_a_retry_calls_again() -> None:
    attempts: list[int] = []

    async def flaky() -> str:
        attempts.append(1)
        await asyncio.sleep(0.01)
        if len(attempts) == 1:
            raise UpstreamUnavailable("crm", "down")
        return "ok"

    async def scenario() -> tuple[list[object], str]:
        first = await asyncio.gather(*(shared_in_request("k", flaky) for _ in range(3)), return_exceptions=True)
        return first, await shared_in_request("k", flaky)

    failures, retried = _in_a_request(scenario)
    assert all(isinstance(f, UpstreamUnavailable) for f in failures) and len(failures) == 3
    assert retried == "ok" and len(attempts) == 2


def test_when_the_caller_making_the_call_gives_up_the_next_one_makes_it() -> None:
    made: list[int] = []

    async def slow() -> str:
        made.append(1)
        await asyncio.sleep(0.05)
        return f"done {len(made)}"

    async def scenario() -> tuple[str, bool]:
        impatient = asyncio.ensure_future(shared_in_request("k", slow))
        patient = asyncio.ensure_future(shared_in_request("k", slow))
        await asyncio.sleep(0.01)
        impatient.cancel()
        answer = await patient
        return answer, impatient.cancelled()

    assert _in_a_request(scenario) == ("done 2", True)


def test_a_waiter_giving_up_leaves_the_call_to_the_others() -> None:
    made: list[int] = []

    async def slow() -> str:
        made.append(1)
        await asyncio.sleep(0.05)
        return "done"

    async def scenario() -> str:
        first = asyncio.ensure_future(shared_in_request("k", slow))
        waiter = asyncio.ensure_future(shared_in_request("k", slow))
        await asyncio.sleep(0.01)
        waiter.cancel()
        return await first

    assert _in_a_request(scenario) == "done"
    assert made == [1]


def test_outside_a_request_every_caller_makes_its_own_call() -> None:
    made: list[int] = []

    async def read() -> int:
        made.append(1)
        return len(made)

    async def scenario() -> list[int]:
        return list(await asyncio.gather(shared_in_request("k", read), shared_in_request("k", read)))

    assert sorted(asyncio.run(scenario())) == [1, 2]
