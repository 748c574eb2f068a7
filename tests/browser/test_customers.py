"""Customer search and the customer 360 page, as each role sees them: the same answers the graph gives the role."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from playwright.sync_api import expect

from tests.browser.conftest import ConsoleFacade, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

CUSTOMERS = "query($search: String) { customers(search: $search, first: 25) { totalCount nodes { id name domain } } }"
CUSTOMER = """query($id: ID!) { customer(id: $id) { name email sources { system }
  provenance { field source { system } } timeline(first: 1) { totalCount } } }"""


def _customers(console: ConsoleFacade, role: str, search: str | None = None) -> dict[str, Any]:
    answer = console.query(role, CUSTOMERS, {"search": search})
    assert "errors" not in answer, answer
    customers: dict[str, Any] = answer["data"]["customers"]
    return customers


def test_an_admin_finds_a_customer_and_its_360_shows_every_system_and_the_provenance(
    page: Page, console: ConsoleFacade
) -> None:
    first = next(found for found in _customers(console, "admin")["nodes"] if found["domain"])
    assert first["id"] in {found["id"] for found in _customers(console, "admin", first["domain"])["nodes"]}
    truth = console.query("admin", CUSTOMER, {"id": first["id"]})["data"]["customer"]
    sign_in(page, "admin")
    page.goto("/#/customers")
    page.get_by_role("searchbox").fill(first["domain"])
    page.get_by_role("button", name="Search").click()
    page.locator(f'.results tr[data-customer="{first["id"]}"] a').click()
    expect(page.locator("h1")).to_have_text(first["name"])
    systems = page.locator('[data-section="systems"] tbody tr')
    expect(systems).to_have_count(len(truth["sources"]))
    for item in truth["provenance"]:  # each golden field names the system that supplied it
        supplier = page.locator(f'tr[data-field="{item["field"]}"] td').nth(1)
        expect(supplier).to_contain_text(f"{item['source']['system']}:")
    expect(page.locator('[data-section="timeline"] h2')).to_contain_text(f"({truth['timeline']['totalCount']:,})")


def test_a_sales_rep_lists_only_the_customers_they_own(page: Page, console: ConsoleFacade) -> None:
    own = _customers(console, "sales_rep")["totalCount"]
    everyone = _customers(console, "admin")["totalCount"]
    assert 0 < own < everyone  # the demo's rep owns some customers, not all
    sign_in(page, "sales_rep")
    page.goto("/#/customers")
    expect(page.locator(".result-count")).to_have_text(f"{own:,} customers")


def test_marketing_sees_the_masked_e_mail_the_graph_gives_it(page: Page, console: ConsoleFacade) -> None:
    with_email = next(
        customer["id"]
        for customer in _customers(console, "admin")["nodes"]
        if console.query("admin", CUSTOMER, {"id": customer["id"]})["data"]["customer"]["email"]
    )
    clear = console.query("admin", CUSTOMER, {"id": with_email})["data"]["customer"]["email"]
    masked = console.query("marketing", CUSTOMER, {"id": with_email})["data"]["customer"]["email"]
    assert masked and masked != clear
    sign_in(page, "marketing")
    page.goto(f"/#/customer/{with_email}")
    expect(page.locator('tr[data-field="email"] td.value')).to_have_text(masked)
    expect(page.locator("main")).not_to_contain_text(clear)


def test_a_service_agent_is_told_the_revenue_is_hidden_for_their_role(page: Page, console: ConsoleFacade) -> None:
    first = _customers(console, "service_agent")["nodes"][0]
    sign_in(page, "service_agent")
    page.goto(f"/#/customer/{first['id']}")
    expect(page.locator("h1")).to_have_text(first["name"])
    hidden = page.locator('.notice li[data-code="FORBIDDEN"]')
    expect(hidden.first).to_contain_text("hidden for your role")
    expect(page.locator(".notice").first).to_contain_text("customer.lifetimeRevenue")
    expect(page.locator('[data-figure="lifetimeRevenue"] .value')).to_have_text("–")
