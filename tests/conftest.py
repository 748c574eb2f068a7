"""Shared fixtures: a seeded demo estate running as real servers on loopback, and database URLs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from crmgraph.demo.layout import EstateCredentials, EstateLayout
from crmgraph.demo.seed import generate_estate

# Every httpx client builds the default TLS context afresh (certifi's bundle: 30 ms a time), and the tests
# make thousands of clients (a `httpx.post` is one) for plain HTTP on loopback. One default context, made
# once, serves them all: the same settings, a fraction of the suite's time.
_make_tls = httpx._transports.default.create_ssl_context
_DEFAULT_TLS = _make_tls()


def _shared_default_tls(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
    if verify is True and cert is None and trust_env:
        return _DEFAULT_TLS
    return _make_tls(verify=verify, cert=cert, trust_env=trust_env)


httpx._transports.default.create_ssl_context = _shared_default_tls  # type: ignore[assignment]

if TYPE_CHECKING:
    from tests.facade import Facade

ESTATE_CUSTOMERS = 150
# A seed whose small estate holds every case the tests look for (a whale, duplicates in each system, ...);
# CRMGRAPH_TEST_ESTATE_SEED tries another when the generator changes.
ESTATE_SEED = int(os.environ.get("CRMGRAPH_TEST_ESTATE_SEED", "10"))


@dataclass
class Estate:
    """A running estate and the clients to talk to it."""

    layout: EstateLayout
    crm_url: str
    tickets_url: str
    credentials: EstateCredentials
    marketing_url: str = ""

    def base(self, system: str) -> str:
        return {"crm": self.crm_url, "tickets": self.tickets_url, "marketing": self.marketing_url}[system]

    def crm(self, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.credentials.crm_token}"}
        return httpx.Client(base_url=self.crm_url, headers=headers, timeout=10, **kwargs)

    def tickets(self, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": self.credentials.zendesk_basic}
        return httpx.Client(base_url=self.tickets_url, headers=headers, timeout=10, **kwargs)

    def marketing(self, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": self.credentials.marketing_basic}
        return httpx.Client(base_url=self.marketing_url, headers=headers, timeout=10, **kwargs)

    def stats(self, system: str) -> dict[str, Any]:
        response = httpx.get(f"{self.base(system)}/_control/stats", timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def reset(self, system: str) -> None:
        httpx.post(f"{self.base(system)}/_control/reset", timeout=10).raise_for_status()

    def faults(self, system: str, **plan: Any) -> None:
        httpx.post(f"{self.base(system)}/_control/faults", json=plan, timeout=10).raise_for_status()


@pytest.fixture(scope="session")
def estate_layout(tmp_path_factory: pytest.TempPathFactory) -> EstateLayout:
    layout = EstateLayout(tmp_path_factory.mktemp("estate"))
    generate_estate(layout, customers=ESTATE_CUSTOMERS, seed=ESTATE_SEED)
    return layout


@pytest.fixture(scope="session")
def running_estate(estate_layout: EstateLayout) -> Iterator[Estate]:
    yield from _serve_estate(estate_layout)


@pytest.fixture(scope="session")
def writable_running_estate(estate_layout: EstateLayout, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    """A second estate over a copy of the seeded files, for tests that write: the shared one stays as seeded."""
    copy = EstateLayout(tmp_path_factory.mktemp("writable-estate"))
    for path in (
        estate_layout.crm_db,
        estate_layout.tickets_db,
        estate_layout.erp_db,
        estate_layout.marketing_db,
        estate_layout.ground_truth,
    ):
        shutil.copyfile(path, copy.root / path.name)
    shutil.copyfile(estate_layout.manifest, copy.manifest)  # last: the copy is complete, nothing is re-seeded
    yield from _serve_estate(copy)


@pytest.fixture
def writable_estate(writable_running_estate: Estate) -> Iterator[Estate]:
    """The writable estate with no faults, no webhook subscriptions and zeroed stats, restored after the test."""
    for system in ("crm", "tickets", "marketing"):
        writable_running_estate.faults(system)
        writable_running_estate.reset(system)
        httpx.delete(f"{writable_running_estate.base(system)}/_control/webhooks", timeout=10).raise_for_status()
    yield writable_running_estate
    for system in ("crm", "tickets", "marketing"):
        writable_running_estate.faults(system)
        httpx.delete(f"{writable_running_estate.base(system)}/_control/webhooks", timeout=10).raise_for_status()


def _serve_estate(estate_layout: EstateLayout) -> Iterator[Estate]:
    ready = estate_layout.root / "ready.json"
    command = [
        sys.executable, "-m", "crmgraph", "demo", "estate",
        "--data-dir", str(estate_layout.root),
        "--customers", str(ESTATE_CUSTOMERS), "--seed", str(ESTATE_SEED),
        "--port-base", "0", "--ready-file", str(ready),
    ]  # fmt: skip
    log = (estate_layout.root / "estate.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if process.poll() is not None:
                raise RuntimeError(f"estate exited early:\n{(estate_layout.root / 'estate.log').read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError("estate did not become ready within 60 s")
            time.sleep(0.05)
        urls = json.loads(ready.read_text())
        yield Estate(estate_layout, urls["crm"], urls["tickets"], EstateCredentials(), urls["marketing"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def estate(running_estate: Estate) -> Iterator[Estate]:
    """The running estate with no faults and zeroed stats, restored after the test."""
    for system in ("crm", "tickets", "marketing"):
        running_estate.faults(system)
        running_estate.reset(system)
    yield running_estate
    for system in ("crm", "tickets", "marketing"):
        running_estate.faults(system)


@pytest.fixture(scope="session")
def linked_identity(running_estate: Estate, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An identity store linked once from the running estate; its URL."""
    import asyncio

    from crmgraph.identity.linker import link as link_records
    from crmgraph.identity.store import IdentityStore
    from crmgraph.sources import OpenSources
    from tests.facade import facade_config

    url = f"sqlite:///{tmp_path_factory.mktemp('identity') / 'identity.sqlite'}"
    config = facade_config(running_estate.crm_url, running_estate.tickets_url, running_estate.layout.erp_url, url)

    async def link() -> None:
        store = IdentityStore(url)
        store.create()
        async with OpenSources(config) as adapters:
            await link_records(store, adapters, config.identity)
        store.close()

    asyncio.run(link())
    return url


@pytest.fixture
def facade(estate: Estate, linked_identity: str) -> Iterator[Facade]:
    """The facade serving the running estate, with a cold cache of its own, on a free loopback port."""
    from tests.facade import facade_config, serve_facade

    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity)
    with serve_facade(config) as running:
        yield running


# Under pytest-xdist (`make test` runs two workers), each worker gets its own databases and Redis database:
# tests create and drop tables by fixed names, and two workers doing so in one database would collide.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def database_named(url: str, name: str) -> str:
    """``url`` pointing at the database ``name`` on the same server, created when missing (PostgreSQL,
    MariaDB); ``url`` itself where the server will not create one (the tests then share the given one)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    server = make_url(url)
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if server.get_backend_name() == "postgresql":
                if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}) is None:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4"))
    except DBAPIError:
        return url
    finally:
        engine.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def _worker_database(url: str) -> str:
    """``url`` with this worker's own database (``test`` -> ``test_gw1``)."""
    if not WORKER:
        return url
    from sqlalchemy.engine import make_url

    return database_named(url, f"{make_url(url).database}_{WORKER}")


def _worker_redis(url: str) -> str:
    """``url`` with this worker's own Redis database number (gw0 -> the given one + 1, and so on)."""
    if not WORKER:
        return url
    base, _, number = url.rpartition("/")
    return f"{base}/{(int(number or 0) + 1 + int(WORKER.removeprefix('gw'))) % 16}"


def _service_url(env: str, default: str) -> str:
    """A database URL for tests; skipped when unreachable, unless CI requires every service."""
    url = os.environ.get(env, default)
    from sqlalchemy import create_engine, text

    try:
        url = _worker_database(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver error means the service is not usable here
        if os.environ.get("CRMGRAPH_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{env}: {url} is required (CRMGRAPH_REQUIRE_SERVICES=1) but unreachable: {exc}")
        pytest.skip(f"{env}: {url} unreachable: {exc}")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = _worker_redis(os.environ.get("CRMGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        if os.environ.get("CRMGRAPH_REQUIRE_SERVICES") == "1":
            pytest.fail(
                f"CRMGRAPH_TEST_REDIS_URL: {url} is required (CRMGRAPH_REQUIRE_SERVICES=1) but unreachable: {exc}"
            )
        pytest.skip(f"CRMGRAPH_TEST_REDIS_URL: {url} unreachable: {exc}")
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return _service_url("CRMGRAPH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def mariadb_url() -> str:
    return _service_url("CRMGRAPH_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4")


# The marketing source's fixtures (a stand-in until the demo marketing system lands): tests/marketing_source.py.
from tests.marketing_source import marketing_estate, marketing_facade  # noqa: E402, F401
