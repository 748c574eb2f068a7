"""The dashboard (大屏) in a browser: every report as figures and charts, as each role may see them, the
customers behind a figure, the filters, and the freshness; each compared with what the graph answers the role."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import NO_AMOUNTS, ConsoleFacade, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

REPORTS = (
    "salesFunnel",
    "serviceReport",
    "campaignRoi",
    "customerValueReport",
    "complaintsAgainstRevenue",
    "churnRisk",
)
FUNNEL = """query($filter: ReportFilter) { salesFunnel(filter: $filter) { deals drillDown
  stages { stage drillDown } owners { ownerId } freshness { asOf } } }"""
SERVICE = "{ serviceReport { tickets firstReply { breached } } }"
BEHIND = "query($token: ID!) { reportCustomers(drillDown: $token, first: 50) { totalCount nodes { id name } } }"


def _funnel(console: ConsoleFacade, role: str, **given: Any) -> dict[str, Any]:
    answer = console.query(role, FUNNEL, {"filter": given or None})
    assert "errors" not in answer, answer
    funnel: dict[str, Any] = answer["data"]["salesFunnel"]
    return funnel


def _figure(page: Page, report: str, figure: str) -> Any:
    return page.locator(f'[data-report="{report}"] [data-figure="{figure}"] .value')


def test_an_admin_sees_every_report_with_its_figures_charts_and_freshness(page: Page, console: ConsoleFacade) -> None:
    funnel = _funnel(console, "admin")
    service = console.query("admin", SERVICE)["data"]["serviceReport"]
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    sign_in(page, "admin")
    for report in REPORTS:
        card = page.locator(f'[data-report="{report}"]')
        expect(card.locator(".exports")).to_be_visible()  # rendered, not an error
        expect(card.locator(".notice")).to_have_count(0)
    expect(_figure(page, "salesFunnel", "deals")).to_have_text(f"{funnel['deals']:,}")
    expect(_figure(page, "serviceReport", "tickets")).to_have_text(f"{service['tickets']:,}")
    expect(_figure(page, "serviceReport", "firstReplyBreached")).to_have_text(f"{service['firstReply']['breached']:,}")
    assert funnel["freshness"]["asOf"] is not None
    expect(page.locator('[data-report="salesFunnel"] .freshness')).to_contain_text("data as of 20")
    charts = page.evaluate("() => [...document.querySelectorAll('canvas')].filter((c) => Chart.getChart(c)).length")
    assert charts == 5  # funnel, service, campaigns, value bands, complaints: drawn by the vendored Chart.js
    elsewhere = [
        url for url in asked if not url.startswith(f"{console.url}/") and not url.startswith(("data:", "blob:"))
    ]
    assert asked and not elsewhere  # offline: the page, its scripts and every answer come from the facade


def test_a_click_on_a_figure_lists_the_customers_behind_it_each_a_link_to_its_360(
    page: Page, console: ConsoleFacade
) -> None:
    funnel = _funnel(console, "admin")
    behind = console.query("admin", BEHIND, {"token": funnel["drillDown"]})["data"]["reportCustomers"]
    assert behind["totalCount"] > 0
    sign_in(page, "admin")
    page.locator('[data-report="salesFunnel"] [data-figure="deals"]').click()
    drill = page.locator("#drill")
    expect(drill.locator(".drill-count")).to_have_text(f"{behind['totalCount']:,} customers")
    expect(drill.locator("tbody tr")).to_have_count(len(behind["nodes"]))
    first = behind["nodes"][0]
    drill.locator(f'tr[data-customer="{first["id"]}"] a').click()
    expect(page).to_have_url(f"{console.url}/#/customer/{first['id']}")
    expect(page.locator("h1")).to_have_text(first["name"])


def test_a_click_on_a_bar_of_the_funnel_lists_the_customers_of_that_stage(page: Page, console: ConsoleFacade) -> None:
    funnel = _funnel(console, "admin")
    stage = funnel["stages"][0]
    behind = console.query("admin", BEHIND, {"token": stage["drillDown"]})["data"]["reportCustomers"]
    sign_in(page, "admin")
    canvas = page.locator('[data-report="salesFunnel"] canvas')
    expect(canvas).to_be_visible()
    # Where Chart.js drew the first stage's bar, in the canvas's own pixels.
    x, y = canvas.evaluate(
        "(c) => { const bar = Chart.getChart(c).getDatasetMeta(0).data[0]; return [bar.x - 4, bar.y]; }"
    )
    canvas.click(position={"x": x, "y": y})
    drill = page.locator("#drill")
    expect(drill.locator("h2")).to_have_text(f"Deals that reached {stage['stage']}")
    expect(drill.locator(".drill-count")).to_have_text(f"{behind['totalCount']:,} customers")


def test_a_sales_reps_dashboard_shows_only_their_own_figures(page: Page, console: ConsoleFacade) -> None:
    own = _funnel(console, "sales_rep")
    everyone = _funnel(console, "admin")
    assert 0 < own["deals"] < everyone["deals"]
    assert {owner["ownerId"] for owner in own["owners"]} == {console.owners.rep}
    sign_in(page, "sales_rep")
    expect(_figure(page, "salesFunnel", "deals")).to_have_text(f"{own['deals']:,}")
    owners = page.locator('[data-report="salesFunnel"] table').nth(1).locator("tbody tr")
    expect(owners).to_have_count(1)
    page.locator('[data-report="salesFunnel"] [data-figure="deals"]').click()
    behind = console.query("sales_rep", BEHIND, {"token": own["drillDown"]})["data"]["reportCustomers"]
    expect(page.locator("#drill .drill-count")).to_have_text(f"{behind['totalCount']:,} customers")


def test_the_filters_ask_the_reports_again_and_stay_in_the_address(page: Page, console: ConsoleFacade) -> None:
    germany = _funnel(console, "admin", country="DE")
    assert germany["deals"] != _funnel(console, "admin")["deals"]
    sign_in(page, "admin")
    page.locator(".filters input[name=country]").fill("de")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(f"{console.url}/#/dashboard?period=all&country=de")
    expect(_figure(page, "salesFunnel", "deals")).to_have_text(f"{germany['deals']:,}")
    expect(page.locator(".filter-summary")).to_contain_text("country DE")


def test_a_cards_exports_are_the_files_the_facade_gives_the_role_with_the_filters_shown(
    page: Page, console: ConsoleFacade
) -> None:
    def exported(role: str, extension: str, query: str = "") -> bytes:
        answer = httpx.get(f"{console.url}/reports/salesFunnel.{extension}{query}",
                           headers={"Authorization": f"Bearer {console.token(role)}"}, timeout=30)  # fmt: skip
        assert answer.status_code == 200, answer.text
        return answer.content

    own = exported("sales_rep", "csv", "?country=DE")
    assert own != exported("admin", "csv", "?country=DE")  # the rep's file is their own
    sign_in(page, "sales_rep")
    page.goto("/#/dashboard?country=DE")
    card = page.locator('[data-report="salesFunnel"]')
    with page.expect_download() as csv:
        card.locator('[data-export="csv"]').click()
    assert csv.value.suggested_filename == "salesFunnel.csv"
    assert Path(csv.value.path()).read_bytes() == own
    with page.expect_download() as png:
        card.locator('[data-export="png"]').click()
    assert Path(png.value.path()).read_bytes().startswith(b"\x89PNG")


def test_figures_a_role_may_not_read_are_said_to_be_hidden_and_the_rest_still_shows(
    page: Page, console: ConsoleFacade
) -> None:
    token = console.token_of("analyst", NO_AMOUNTS)
    answer = console.facade.query(FUNNEL.replace("deals drillDown", "deals winRate drillDown"),
                                  headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert answer["data"]["salesFunnel"]["winRate"] is None
    assert {error["extensions"]["code"] for error in answer["errors"]} == {"FORBIDDEN"}
    page.goto("/#/sign-in")
    page.locator("#credential").fill(token)
    page.get_by_role("button", name="Sign in").click()
    funnel = page.locator('[data-report="salesFunnel"]')
    hidden = funnel.locator('.notice li[data-code="FORBIDDEN"]')
    expect(hidden).to_have_count(2)  # the win rate, and the stages' amounts (one line for them all)
    expect(hidden.first).to_contain_text("salesFunnel.winRate hidden for your role")
    expect(_figure(page, "salesFunnel", "winRate")).to_have_text("–")
    expect(_figure(page, "salesFunnel", "deals")).to_have_text(f"{answer['data']['salesFunnel']['deals']:,}")
    expect(page.locator('[data-report="serviceReport"] .notice')).to_have_count(0)
