"""Signing in to the console: the demo roles (when the configuration offers them), a pasted token, sign-out."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import expect

from crmgraph.config import ConfigErrors, parse_config
from crmgraph.console.demo_sign_in import DemoSignIn, DemoSignInUnavailable
from crmgraph.console.routes import console_routes
from tests.browser.conftest import ConsoleFacade

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_the_sign_in_page_lists_the_demo_roles_and_a_role_signs_in_and_out(page: Page) -> None:
    page.goto("/")
    roles = page.locator(".demo-roles button.role")
    expect(roles).to_have_text(["admin", "data_steward", "sales_rep", "service_agent", "marketing", "sales_manager"])
    roles.filter(has_text="service_agent").click()
    expect(page.locator("#who")).to_contain_text("demo-service-agent (service_agent)")
    expect(page.locator("h1")).to_have_text("Dashboard")
    stored = page.evaluate("() => sessionStorage.getItem('crmgraph.console.token')")
    assert stored and stored.count(".") == 2  # the role's JWT, in this tab only
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("h1")).to_have_text("Sign in to the crmgraph console")
    assert page.evaluate("() => sessionStorage.getItem('crmgraph.console.token')") is None


def test_a_pasted_token_signs_in_and_a_refused_one_says_why(page: Page, console: ConsoleFacade) -> None:
    page.goto("/#/sign-in")
    page.locator("#credential").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".notice.error")).to_contain_text("The facade refused it")
    page.locator("#credential").fill(console.token("data_steward"))
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_contain_text("demo-data-steward (data_steward)")


def test_the_page_and_its_assets_are_served_by_the_facade_itself(console: ConsoleFacade) -> None:
    page = httpx.get(f"{console.url}/", timeout=10)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp  # nothing from another origin
    for path in ("/console/assets/js/main.js", "/console/assets/vendor/chart.umd.min.js"):
        asset = httpx.get(f"{console.url}{path}", timeout=10)
        assert asset.status_code == 200 and "javascript" in asset.headers["content-type"], path
    assert "http" not in "".join(line for line in page.text.splitlines() if "src=" in line or "href=" in line)


def test_a_role_the_page_does_not_offer_gets_no_token(console: ConsoleFacade) -> None:
    refused = httpx.post(f"{console.url}/console/demo-token", json={"role": "root"}, timeout=10)
    assert refused.status_code == 400 and "not a demo role" in refused.json()["error"]


def test_a_page_asked_for_opens_once_someone_signed_in_and_not_before(page: Page) -> None:
    page.goto("/#/customers")
    expect(page.locator("h1")).to_have_text("Sign in to the crmgraph console")  # a page asked for: sign in first
    expect(page.locator("#nav")).to_be_hidden()
    page.get_by_role("button", name="marketing", exact=True).click()
    expect(page.locator("#who")).to_contain_text("demo-marketing (marketing)")
    expect(page.locator("#nav")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Customers")  # then the page asked for


def test_production_mode_refuses_the_demo_sign_in_by_name() -> None:
    text = """
    sources: {crm: {adapter: hubspot, url: "http://127.0.0.1:1", token: t}}
    server: {production: true}
    console: {demo_sign_in: true}
    """
    with pytest.raises(ConfigErrors) as refused:
        parse_config(text)
    assert "console.demo_sign_in" in str(refused.value.problems)


def test_without_the_switch_the_console_offers_no_demo_roles() -> None:
    config = parse_config('sources: {crm: {adapter: hubspot, url: "http://127.0.0.1:1", token: t}}')
    assert not config.console.demo_sign_in  # off by default
    sign_in = DemoSignIn(config, lambda: pytest.fail("no identity store is read"))
    assert sign_in.roles() == [] and "console.demo_sign_in" in (sign_in.unavailable() or "")
    with pytest.raises(DemoSignInUnavailable):
        sign_in.issue("admin")


def test_a_configuration_may_serve_no_console() -> None:
    text = 'sources: {crm: {adapter: hubspot, url: "http://127.0.0.1:1", token: t}}'
    off = parse_config(text + "\nconsole: {enabled: false}")
    assert console_routes(off, lambda: pytest.fail("no identity store is read")) == []
    served = console_routes(parse_config(text), lambda: pytest.fail("no identity store is read"))
    assert "/" in {route.path for route in served}
