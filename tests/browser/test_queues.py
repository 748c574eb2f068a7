"""The identity review queue (data stewards decide, others are told they may not) and the routing queues."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.sync_api import expect

from tests.browser.conftest import ConsoleFacade, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

QUEUE = "{ reviewCandidates(first: 20) { totalCount nodes { id } } }"
LEADS = "{ campaigns(first: 8) { nodes { leads(first: 10) { nodes { id name } } } } }"


def test_a_data_steward_rejects_a_review_candidate_and_the_queue_shrinks(page: Page, console: ConsoleFacade) -> None:
    before = console.query("data_steward", QUEUE)["data"]["reviewCandidates"]
    assert before["totalCount"] > 0
    sign_in(page, "data_steward")
    page.goto("/#/review")
    cards = page.locator("article.candidate")
    expect(cards).to_have_count(len(before["nodes"]))
    first = cards.first
    candidate = first.get_attribute("data-candidate")
    assert candidate == before["nodes"][0]["id"]  # strongest first, as the graph lists them
    first.locator("input[name=reason]").fill("different companies: checked by phone")
    first.get_by_role("button", name="Reject").click()
    expect(first.locator(".outcome")).to_contain_text("Rejected")
    after = console.query("data_steward", QUEUE)["data"]["reviewCandidates"]
    assert after["totalCount"] == before["totalCount"] - 1
    assert candidate not in {node["id"] for node in after["nodes"]}


def test_a_service_agent_who_tries_to_accept_is_told_their_role_may_not(page: Page) -> None:
    sign_in(page, "service_agent")  # reads the queue (no row scope), may decide nothing
    page.goto("/#/review")
    first = page.locator("article.candidate").first
    first.locator("input[name=reason]").fill("looks the same")
    first.get_by_role("button", name="Accept").click()
    expect(first.locator(".notice.forbidden")).to_contain_text("Your role may not use reviewCandidateAccept")


def test_the_routing_queues_list_the_campaigns_leads_and_the_newest_tickets(page: Page, console: ConsoleFacade) -> None:
    answer = console.query("sales_manager", LEADS)
    leads: dict[str, str] = {}
    for campaign in answer["data"]["campaigns"]["nodes"]:
        for lead in campaign["leads"]["nodes"]:
            leads.setdefault(lead["id"], lead["name"])
    shown = list(leads.items())[:20]
    assert shown
    sign_in(page, "sales_manager")
    page.goto("/#/routing")
    rows = page.locator('[data-queue="leads"] tbody tr')
    expect(rows).to_have_count(len(shown))
    expect(rows.locator("td:first-child")).to_have_text([name for _, name in shown])
    expect(rows.first.locator("td").nth(4)).to_have_text("not assigned")  # no event has reached this facade
    expect(page.locator('[data-queue="tickets"] tbody tr').first).to_be_visible()
    expect(page.locator('[data-queue="leads"] .notice')).to_have_count(0)  # every lookup answered
