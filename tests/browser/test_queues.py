"""The identity review queue (data stewards decide, others are told they may not) and the routing queues."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.sync_api import expect

from crmgraph.schema.ids import encode_id
from tests.browser.conftest import ConsoleFacade, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

QUEUE = "{ reviewCandidates(first: 20) { totalCount nodes { id } } }"
LEAD = "query($id: ID!) { node(id: $id) { ... on Lead { name } } }"


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


def test_the_routing_queues_list_the_assigned_leads_newest_first_and_the_ticket_queue(
    page: Page, console: ConsoleFacade
) -> None:
    names = []
    for lead in reversed(console.assigned_leads):  # newest first
        answer = console.query("sales_manager", LEAD, {"id": encode_id("Lead", "marketing", lead)})
        names.append(answer["data"]["node"]["name"])
    sign_in(page, "sales_manager")
    page.goto("/#/routing")
    rows = page.locator('[data-queue="leads"] tbody tr')
    expect(rows).to_have_count(len(names))
    expect(rows.locator("td:first-child")).to_have_text(names)
    expect(rows.first.locator("td").nth(4)).to_have_text("assigned")
    expect(rows.first.locator("td").nth(7)).to_have_text("round_robin: next in turn")
    expect(page.locator('[data-queue="leads"] .notice')).to_have_count(0)  # every lookup answered
    # no ticket was routed by this facade: the ticket queue says so, and a ticket can still be looked up
    expect(page.locator('[data-queue="tickets"] .notice')).to_contain_text("No ticket has been routed yet")
