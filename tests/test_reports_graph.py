"""The reports through the graph: the figures as the report queries compute them, each role within its scope,
the field policies on the report types, drill-down to the graph's own customers, and clear errors for a bad
filter or token. The facade runs as a real server in front of the test estate (tests/reports_facade.py)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from crmgraph.analytics.reports import ReportFilter
from crmgraph.analytics.reports.drilldown import encode
from crmgraph.policy.masking import MASK
from crmgraph.schema.ids import encode_id
from crmgraph.schema.reports import teams
from crmgraph.workflows.assignment.settings import LeadRules
from tests.conftest import Estate
from tests.facade import Facade
from tests.reports_data import Slots
from tests.reports_facade import reports_facade
from tests.test_governance import token


@pytest.fixture(scope="module")
def served(
    running_estate: Estate, linked_identity: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Facade, Slots]]:
    with reports_facade(running_estate, linked_identity, tmp_path_factory.mktemp("reports-graph")) as running:
        yield running


def ask(served: tuple[Facade, Slots], query: str, role: str = "admin", **variables: Any) -> dict[str, Any]:
    facade, slots = served
    claims = {"owner_id": slots.a} if role == "sales_rep" else {}
    return facade.query(query, variables, headers=token(role, **claims))


def data(answer: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in answer, answer["errors"]
    result: dict[str, Any] = answer["data"]
    return result


FUNNEL = """query($filter: ReportFilter) { salesFunnel(filter: $filter) {
  currency deals won lost winRate drillDown
  stages { stage reached current amount conversionToNext medianDaysToNext drillDown }
  owners { ownerId open won lost wonAmount winRate drillDown owner { id name } }
  freshness { asOf parts { name loadedAt changedAt rows } } } }"""

CUSTOMERS = """query($token: ID!, $first: Int!, $after: String) {
  reportCustomers(drillDown: $token, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id name email } } }"""


def test_the_funnel_through_the_graph(served: tuple[Facade, Slots]) -> None:
    funnel = data(ask(served, FUNNEL))["salesFunnel"]
    assert (funnel["currency"], funnel["deals"], funnel["won"], funnel["lost"], funnel["winRate"]) == (
        "EUR",
        7,
        2,
        2,
        0.5,
    )
    stages = [(s["stage"], s["reached"], s["current"], s["amount"]) for s in funnel["stages"]]
    assert stages[:2] == [("appointment", 7, 2, "8600.00"), ("qualified", 4, 0, "7500.00")]
    assert funnel["stages"][0]["conversionToNext"] == pytest.approx(4 / 7)
    owner_a = funnel["owners"][0]
    assert (owner_a["ownerId"], owner_a["won"], owner_a["wonAmount"]) == (served[1].a, 2, "5000.00")
    assert owner_a["owner"] is not None and owner_a["owner"]["name"], "a real CRM owner, read from the CRM"
    assert funnel["freshness"]["asOf"] == "2024-03-31T10:00:00+00:00"
    assert {p["name"] for p in funnel["freshness"]["parts"]} == {"crm.party", "crm.deal"}


def test_a_sales_reps_reports_are_their_own(served: tuple[Facade, Slots]) -> None:
    funnel = data(ask(served, FUNNEL, "sales_rep"))["salesFunnel"]
    assert (funnel["deals"], funnel["won"], funnel["lost"]) == (3, 1, 2)
    assert [o["ownerId"] for o in funnel["owners"]] == [served[1].a]
    churn = data(ask(served, "{ churnRisk { atRisk customers { name customer { id } } } }", "sales_rep"))["churnRisk"]
    assert churn["atRisk"] == 1
    assert churn["customers"][0]["customer"]["id"] == encode_id("Customer", served[1]["c2"])


def test_every_report_answers_through_the_graph(served: tuple[Facade, Slots]) -> None:
    found = data(ask(served, """{
      serviceReport { tickets firstReply { measured medianHours p90Hours withinSla breached drillDown }
        byGroup { key tickets } byPriority { key } byCategory { key } backlog { key open pastSla oldestHours } }
      campaignRoi { attribution cost attributedRevenue roi
        campaigns { name leads customers roi attributedRevenue campaign { id } } }
      customerValueReport { horizonMonths customers bands { label customers }
        top(first: 2) { name orders customer { id } } }
      complaintsAgainstRevenue { bands { label customers revenue complaints customersComplaining } }
      churnRisk(filter: {from: "2024-01-01T00:00:00Z"}) { atRisk revenueAtRisk
        customers(first: 2) { name revenueAtRisk daysSinceLastOrder openComplaints } }
    }"""))  # fmt: skip
    service = found["serviceReport"]
    assert (service["tickets"], service["firstReply"]["measured"], service["firstReply"]["breached"]) == (7, 5, 3)
    assert [b["key"] for b in service["byGroup"]] == ["g1", "g2", "(none)"]
    assert [c["name"] for c in found["campaignRoi"]["campaigns"]] == ["Webinar", "Spring mail", "Trade show", "No cost"]
    assert found["campaignRoi"]["attributedRevenue"] == "10799.99"
    value = found["customerValueReport"]
    assert [b["customers"] for b in value["bands"]] == [1, 1, 1, 2, 1]
    assert [r["customer"]["id"] for r in value["top"]] == [encode_id("Customer", served[1][s]) for s in ("c1", "c3")]
    assert [b["complaints"] for b in found["complaintsAgainstRevenue"]["bands"]] == [1, 0, 1, 0, 0]
    assert [r["revenueAtRisk"] for r in found["churnRisk"]["customers"]] == ["4000.00", "300.00"], "invoiced since"


def test_drill_down_lists_the_graphs_own_customers_within_the_askers_scope(served: tuple[Facade, Slots]) -> None:
    slots = served[1]
    funnel = data(ask(served, FUNNEL))["salesFunnel"]
    proposal = next(s for s in funnel["stages"] if s["stage"] == "proposal")["drillDown"]
    page = data(ask(served, CUSTOMERS, token=proposal, first=10))["reportCustomers"]
    assert page["totalCount"] == 2
    assert sorted(n["id"] for n in page["nodes"]) == sorted(encode_id("Customer", slots[s]) for s in ("c1", "c3"))
    assert all(n["name"] for n in page["nodes"]), "names read from the systems, through the loaders"
    mine = data(ask(served, CUSTOMERS, "sales_rep", token=proposal, first=10))["reportCustomers"]
    assert [n["id"] for n in mine["nodes"]] == [encode_id("Customer", slots["c1"])], "the same token, the rep's scope"
    forged = encode("salesFunnel", f"owner:{slots.b}", ReportFilter(owner_id=slots.b))
    assert data(ask(served, CUSTOMERS, "sales_rep", token=forged, first=10))["reportCustomers"]["totalCount"] == 0


def test_drill_down_pages_follow_relay(served: tuple[Facade, Slots]) -> None:
    churn = data(ask(served, "{ churnRisk { drillDown } }"))["churnRisk"]["drillDown"]
    first = data(ask(served, CUSTOMERS, token=churn, first=2))["reportCustomers"]
    assert first["pageInfo"]["hasNextPage"] and first["totalCount"] == 3 and len(first["nodes"]) == 2
    rest = data(ask(served, CUSTOMERS, token=churn, first=2, after=first["pageInfo"]["endCursor"]))["reportCustomers"]
    assert not rest["pageInfo"]["hasNextPage"] and len(rest["nodes"]) == 1
    seen = {n["id"] for n in first["nodes"] + rest["nodes"]}
    assert seen == {encode_id("Customer", served[1][s]) for s in ("c2", "c3", "c4")}


def test_field_policies_apply_to_the_report_types(served: tuple[Facade, Slots]) -> None:
    denied = ask(served, "{ campaignRoi { cost roi campaigns { name roi } } }", "analyst")
    assert denied["data"]["campaignRoi"]["roi"] is None and denied["data"]["campaignRoi"]["cost"] == "3500.00"
    assert {e["extensions"]["code"] for e in denied["errors"]} == {"FORBIDDEN"}
    assert ["campaignRoi", "roi"] in [e["path"] for e in denied["errors"]]
    masked = data(ask(served, "{ customerValueReport { top(first: 1) { name customer { email } } } }", "marketing"))
    row = masked["customerValueReport"]["top"][0]
    assert MASK in row["name"], "CustomerValueRow.name is on the marketing role's mask list"


def test_masking_applies_to_the_customers_behind_a_figure(served: tuple[Facade, Slots]) -> None:
    churn = data(ask(served, "{ churnRisk { drillDown } }"))["churnRisk"]["drillDown"]
    clear = data(ask(served, CUSTOMERS, token=churn, first=10))["reportCustomers"]["nodes"]
    masked = data(ask(served, CUSTOMERS, "marketing", token=churn, first=10))["reportCustomers"]["nodes"]
    emails = [(c["email"], m["email"]) for c, m in zip(clear, masked, strict=True) if c["email"]]
    assert emails and all(MASK in m and m != c for c, m in emails)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ('{ salesFunnel(filter: {country: "Germany"}) { deals } }', "filter.country: expected an ISO 3166-1 alpha-2"),
        ('{ salesFunnel(filter: {team: "west"}) { deals } }', "filter.team: no team 'west'"),
        ('{ salesFunnel(filter: {segmentId: "nope"}) { deals } }', "filter.segmentId: 'nope' is not an id"),
        ('{ salesFunnel(filter: {from: "2024-03-01T00:00:00Z", to: "2024-01-01T00:00:00Z"}) { deals } }',
         "filter.to: must be after filter.from"),
        ('{ reportCustomers(drillDown: "bogus") { totalCount } }', "drillDown: 'bogus' is not a drill-down token"),
        ('{ customerValueReport { top(first: 1000) { name } } }', "first: must be between 0 and 100"),
    ],
)  # fmt: skip
def test_a_bad_argument_is_a_clear_error_naming_it(served: tuple[Facade, Slots], query: str, words: str) -> None:
    answer = ask(served, query)
    assert words in answer["errors"][0]["message"]


def test_a_filter_narrows_the_figures_through_the_graph(served: tuple[Facade, Slots]) -> None:
    segment = encode_id("Segment", "marketing", "7")
    january = {"from": "2024-01-01T00:00:00Z", "to": "2024-03-01T00:00:00Z"}
    assert data(ask(served, FUNNEL, filter=january))["salesFunnel"]["deals"] == 5
    assert data(ask(served, FUNNEL, filter={"segmentId": segment}))["salesFunnel"]["deals"] == 3
    assert data(ask(served, FUNNEL, filter={"country": "DE", "ownerId": served[1].a}))["salesFunnel"]["deals"] == 3


def test_the_team_filter_reads_the_teams_of_the_running_lead_distribution() -> None:
    rules = LeadRules.model_validate({"teams": [
        {"name": "apac", "members": [{"owner_id": "50000001"}, {"owner_id": "50000002"}]},
        {"name": "emea", "members": [{"owner_id": "50000003"}]},
    ]})  # fmt: skip
    assert teams(SimpleNamespace(leads=SimpleNamespace(rules=rules))) == {
        "apac": ("50000001", "50000002"), "emea": ("50000003",)
    }  # fmt: skip
    assert teams(None) == {} and teams(SimpleNamespace(leads=None)) == {}, "no lead distribution: no teams"
