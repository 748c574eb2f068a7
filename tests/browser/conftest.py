"""The console in a real browser: Debian's Chromium driven by Playwright, against the test estate and a facade
configured as the demo is (its roles, JWTs signed by a development key, the console's demo sign-in).

One browser for these tests and a new context (cookies, sessionStorage) per test. Chromium comes from the
system's packages (`make install`); without it the tests skip, unless CRMGRAPH_REQUIRE_SERVICES=1. A failing
test leaves a screenshot of its page in var/test-artifacts/.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

from crmgraph.policy.tokens import DEMO_AUDIENCE, DEMO_ISSUER, ensure_development_key, issue_development_token
from crmgraph.workflows.assignment.store import AssignmentStore
from tests.browser.reports_store import ReportOwners, fill_reports
from tests.facade import Facade, facade_config, serve_facade, store_copy
from tests.marketing_source import marketing_sources

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.marketing_source import MarketingEstate

CHROMIUM = Path(os.environ.get("CRMGRAPH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
DEMO_CONFIG = Path(__file__).resolve().parents[2] / "crmgraph" / "demo" / "config.yaml"
TIMEOUT_MS = 15_000
NO_AMOUNTS = "analyst_without_amounts"


@dataclass
class ConsoleFacade:
    """The facade serving the console, and the demo roles' tokens (the ones its sign-in page issues)."""

    facade: Facade
    owners: ReportOwners  # whose figures the dashboard's dataset holds
    keys: Path  # the development key the facade accepts
    assigned_leads: list[str]  # the marketing lead ids in the lead queue, oldest first

    def token_of(self, subject: str, *roles: str) -> str:
        """A token of the test's own making, for a role the sign-in page does not offer."""
        return issue_development_token(self.keys, subject=subject, roles=list(roles), issuer=DEMO_ISSUER,
                                       audience=DEMO_AUDIENCE)  # fmt: skip

    @property
    def url(self) -> str:
        return self.facade.url

    def token(self, role: str) -> str:
        response = httpx.post(f"{self.url}/console/demo-token", json={"role": role}, timeout=30)
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    def query(self, role: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """What the graph answers ``role`` (the same token the console would send)."""
        return self.facade.query(query, variables, headers={"Authorization": f"Bearer {self.token(role)}"})


def _demo_governance(jwks: Path, store_url: str) -> str:
    """The demo configuration's roles and policy, with JWTs of ``jwks``'s key and the console's demo sign-in;
    as ``facade_config``'s ``governance`` (top-level sections, JSON being YAML)."""
    demo = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    auth = {"jwt": {"jwks_file": str(jwks), "issuer": DEMO_ISSUER, "audience": DEMO_AUDIENCE}, "api_keys": True}
    # Lead distribution and ticket routing as the demo has them, the ticket triage by keywords (no model file).
    assignment = demo["workflows"]["assignment"]
    assignment["tickets"]["classifier"] = "keywords"
    # One role more, signed in with a pasted token: some of the funnel's figures are denied it.
    demo["policy"]["roles"][NO_AMOUNTS] = {"deny": ["SalesFunnel.winRate", "FunnelStage.amount"]}
    sections = {"auth": auth, "policy": demo["policy"], "console": {"demo_sign_in": True},
                "reports": {"store_url": store_url},
                "workflows": {"assignment": assignment}}  # fmt: skip
    return "\n        ".join(f"{name}: {json.dumps(value)}" for name, value in sections.items())


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (make install puts Debian's chromium there)"
        if os.environ.get("CRMGRAPH_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message}; required with CRMGRAPH_REQUIRE_SERVICES=1")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="package")
def console(
    chromium: Path, marketing_estate: MarketingEstate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleFacade]:
    """The facade over the four test systems, configured as the demo is, serving the console."""
    folder = tmp_path_factory.mktemp("console")
    keys = folder / "keys"
    _, jwks = ensure_development_key(keys)
    identity = store_copy(marketing_estate.identity_url, folder)  # the console's tests decide review candidates
    store_url = f"duckdb:///{folder / 'analytics.duckdb'}"  # the dashboard's dataset, filled before the facade starts
    estate = marketing_estate.estate
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, identity,
                           more_sources=marketing_sources(estate.marketing_url),
                           governance=_demo_governance(jwks, store_url))  # fmt: skip
    owners = fill_reports(identity, store_url)
    assigned = _assigned_leads(identity, marketing_estate, owners.rep)
    with serve_facade(config) as facade:
        yield ConsoleFacade(facade, owners, keys, assigned)


def _assigned_leads(identity_url: str, marketing_estate: MarketingEstate, owner: str) -> list[str]:
    """Three leads in the lead queue, assigned to ``owner``, as the rules would record them (the facade's own
    store; no upstream write): the routing page's lead queue has rows. Their ids, oldest first."""
    leads = [lead.source_id for lead in marketing_estate.truth.leads[:3]]
    store = AssignmentStore(identity_url)

    async def record() -> None:
        for minute, lead in enumerate(leads):
            now = datetime(2026, 12, 1, 9, minute, tzinfo=UTC)
            assert await store.claim_lead("marketing", lead, now)
            explanation = {"rule": "round_robin", "why": "next in turn", "steps": []}
            assert await store.set_lead("marketing", lead, 1, state="assigned", owner_id=owner, team="emea",
                                        rule="round_robin", assigned_at=now, explanation=explanation)  # fmt: skip

    try:
        asyncio.run(record())
    finally:
        store.close()
    return leads


@pytest.fixture(scope="package")
def browser(chromium: Path, console: ConsoleFacade) -> Iterator[Browser]:
    """Chromium for this package's tests. Playwright's sync API keeps an event loop running on this thread
    while it lives: the fixtures that call asyncio.run (the estate's linking) go first (``console``), and the
    browser is closed when this package's tests end, before any other test's fixtures run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"report_{report.when}", report)  # read by the page fixture: did the test fail?
    return report


@pytest.fixture
def page(browser: Browser, console: ConsoleFacade, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context on the console (nobody signed in); a screenshot in var/test-artifacts/ if the
    test fails."""
    context = browser.new_context(base_url=console.url, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    try:
        yield opened
        report = getattr(request.node, "report_call", None)
        if report is not None and report.passed:
            assert not problems, problems  # a script error on a page that looked right is still a failure
    finally:
        report = getattr(request.node, "report_call", None)
        if report is None or report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        context.close()


def sign_in(page: Page, role: str) -> None:
    """Sign in on the console's page as a demo role, as a person would: the role's button."""
    page.goto("/")
    page.get_by_role("button", name=role, exact=True).click()
    page.locator("#who .subject").wait_for()
