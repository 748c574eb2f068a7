"""Automation rules against the writable demo estate: an order booked straight in the ERP's tables makes
the CRM company a customer (read back through the CRM's own API), a solved ticket is noted in the CRM, a
redelivered event never acts twice, a condition that does not hold does nothing, a loop between two rules
is stopped and recorded, and a rule written wrong is refused at start with the key path at fault."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from crmgraph.app import build_app
from crmgraph.config import ConfigErrors, parse_config
from crmgraph.events import ChangeEvent, ChangeKind, Entity
from crmgraph.schema.ids import encode_id
from crmgraph.workflows.rules.runner import RuleRunner
from crmgraph.workflows.rules.runs import RunStatus
from tests.conftest import Estate
from tests.facade import facade_config, store_copy
from tests.realtime import WAIT_S, Instance, instance

ORDER_RULE = "order-makes-a-customer"
TICKET_RULE = "ticket-solved-noted"
RULES: list[dict[str, Any]] = [
    {
        "name": ORDER_RULE,
        "when": {"system": "erp", "entity": "order", "kind": "created"},
        "customer": "lifecycleStage",
        "record": "number",
        "where": "customer.lifecycleStage != 'customer'",
        "then": [
            {"customerUpdate": {"customerId": "{{customer.id}}", "lifecycleStage": "customer"}},
            {"interactionLog": {"customerId": "{{customer.id}}", "kind": "NOTE",
                                "body": "First order {{record.number}} booked in the ERP"}},
        ],
    },
    {
        "name": TICKET_RULE,
        "when": {"system": "tickets", "entity": "ticket", "changed": ["status"]},
        "record": "number status",
        "where": "record.status == 'SOLVED'",
        "then": [{"interactionLog": {"customerId": "{{customer.id}}", "kind": "NOTE",
                                     "body": "Ticket {{record.number}} was solved on {{event.occurredAt}}"}}],
    },
    # Two rules that feed each other: each change of the city changes the address, and back.
    {
        "name": "city-moves-address",
        "when": {"system": "crm", "entity": "party", "changed": ["city"]},
        "then": [{"customerUpdate": {"customerId": "{{customer.id}}", "address": "1 Loop Street"}}],
    },
    {
        "name": "address-moves-city",
        "when": {"system": "crm", "entity": "party", "changed": ["address"]},
        "then": [{"customerUpdate": {"customerId": "{{customer.id}}", "city": "Loopburg"}}],
    },
]  # fmt: skip
GOVERNANCE = """auth: {anonymous_role: admin}
        policy: {roles: {admin: {mutations: ["*"], automation: true}, automation: {mutations: [customerUpdate, interactionLog]}}}
        writes: {owners: {lifecycleStage: crm, city: crm, address: crm}}
        feeds: {follow: [{source: erp, entity: order, every_s: 0.5}], lease_s: 5}
        workflows: {rules: %s}"""  # noqa: E501
RUNS = """query($rule: String, $status: AutomationRunStatus) { automationRuns(rule: $rule, status: $status, first: 50) {
  totalCount nodes { id rule status error attempts customer { id } event { id recordId kind chain }
                     actions { mutation input status error userErrors { code } } } } }"""


def _rules_config(rules: list[dict[str, Any]] | None = None, **more: Any) -> str:
    return GOVERNANCE % json.dumps({"principal": {"subject": "automation", "roles": ["automation"]},
                                    "rules": RULES if rules is None else rules, "backoff_s": 0.05, **more})  # fmt: skip


@pytest.fixture(scope="module")
def store_url(linked_identity: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return store_copy(linked_identity, tmp_path_factory.mktemp("automation-rules"))


@pytest.fixture(scope="module")
def customers(store_url: str) -> list[tuple[int, str, str]]:
    """(customer, CRM company, ERP debtor) of customers known to both systems, one for each test."""
    with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
        rows = conn.execute(
            "SELECT c.customer_id, c.source_id, e.source_id FROM crmgraph_links c JOIN crmgraph_links e "
            "ON e.customer_id = c.customer_id AND e.source = 'erp' AND e.entity = 'party' "
            "WHERE c.source = 'crm' AND c.entity = 'party' ORDER BY c.customer_id DESC LIMIT 40"
        ).fetchall()
    # One company and one debtor each (duplicates make the customer's fields ambiguous to assert on).
    counts: dict[int, int] = {}
    for customer, _, _ in rows:
        counts[customer] = counts.get(customer, 0) + 1
    return [(int(c), str(crm), str(erp)) for c, crm, erp in rows if counts[c] == 1]


@pytest.fixture
def facade(writable_estate: Estate, store_url: str) -> Iterator[Instance]:
    estate = writable_estate
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, store_url,
                           namespace=f"r{uuid.uuid4().hex[:6]}", governance=_rules_config())  # fmt: skip
    with instance(config) as running:
        yield running


def _runner(facade: Instance) -> RuleRunner:
    runner: RuleRunner = facade.app.state.rules
    return runner


def _on_loop(facade: Instance, coroutine: Any) -> Any:
    assert facade.hub.loop is not None
    return asyncio.run_coroutine_threadsafe(coroutine, facade.hub.loop).result(WAIT_S)


def _stage(estate: Estate, company: str) -> str:
    with estate.crm() as crm:
        answer = crm.get(f"/crm/v3/objects/companies/{company}", params={"properties": "lifecyclestage"})
        answer.raise_for_status()
        return str(answer.json()["properties"]["lifecyclestage"])


def _set_stage(estate: Estate, company: str, stage: str) -> None:
    with estate.crm() as crm:
        crm.patch(
            f"/crm/v3/objects/companies/{company}", json={"properties": {"lifecyclestage": stage}}
        ).raise_for_status()


def _crm_writes(estate: Estate) -> int:
    return int(estate.stats("crm")["writes"]["committed"])


def _runs(facade: Instance, rule: str, status: str | None = None) -> list[dict[str, Any]]:
    answer = facade.query(RUNS, {"rule": rule, "status": status})
    assert "errors" not in answer, answer
    nodes: list[dict[str, Any]] = answer["data"]["automationRuns"]["nodes"]
    return nodes


def _wait_for(what: str, condition: Any) -> Any:
    deadline = time.monotonic() + WAIT_S
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _finished_run(facade: Instance, rule: str, customer: int) -> dict[str, Any]:
    wanted = encode_id("Customer", str(customer))

    def finished() -> dict[str, Any] | None:
        return next((run for run in _runs(facade, rule) if run["status"] != "PENDING"
                     and (run["customer"] or {}).get("id") == wanted), None)  # fmt: skip

    found: dict[str, Any] = _wait_for(f"a finished run of {rule} for customer {customer}", finished)
    return found


def _book_in_erp(estate: Estate, debtor: str) -> str:
    """An order inserted straight into the ERP's own table, as its own order entry would: the facade is not asked."""
    now = datetime.now(UTC)
    with sqlite3.connect(estate.layout.erp_db) as conn:
        number = str(int(conn.execute("SELECT MAX(VBELN) FROM VBAK").fetchone()[0]) + 1).zfill(10)
        conn.execute(
            "INSERT INTO VBAK (VBELN, ERDAT, ERZET, AUART, KUNNR, NETWR, WAERK, GBSTK) VALUES (?, ?, ?, 'TA', ?, 250, "
            "'EUR', 'A')",
            (number, f"{now:%Y%m%d}", f"{now:%H%M%S}", debtor),
        )
    return number


def _followed(store_url: str) -> bool:
    with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
        found = conn.execute("SELECT count(*) FROM crmgraph_feed_positions WHERE source = 'erp' AND entity = 'order'")
        return bool(found.fetchone()[0])


def test_an_order_booked_straight_in_the_erp_makes_the_crm_company_a_customer(
    facade: Instance, writable_estate: Estate, store_url: str, customers: list[tuple[int, str, str]]
) -> None:
    customer, company, debtor = customers[0]
    _set_stage(writable_estate, company, "opportunity")  # a company the CRM does not call a customer yet
    _wait_for("the facade follows the ERP's order feed", lambda: _followed(store_url))
    number = _book_in_erp(writable_estate, debtor)

    run = _finished_run(facade, ORDER_RULE, customer)
    assert run["status"] == "SUCCEEDED", run
    assert run["event"]["recordId"] == number and run["event"]["kind"] == "created"
    assert [(a["mutation"], a["status"]) for a in run["actions"]] == [
        ("customerUpdate", "OK"),
        ("interactionLog", "OK"),
    ]
    assert f"First order {int(number)} booked in the ERP" in run["actions"][1]["input"]
    assert _stage(writable_estate, company) == "customer", "the CRM's own API shows the new stage"


def test_a_redelivered_event_never_acts_twice(
    facade: Instance, writable_estate: Estate, customers: list[tuple[int, str, str]]
) -> None:
    customer, company, debtor = customers[1]
    _set_stage(writable_estate, company, "lead")
    event = ChangeEvent("erp", Entity.ORDER, _book_in_erp(writable_estate, debtor), ChangeKind.CREATED,
                        parents=(("party", debtor),))  # fmt: skip
    before = _crm_writes(writable_estate)
    facade.publish(event)
    assert _finished_run(facade, ORDER_RULE, customer)["status"] == "SUCCEEDED"
    acted = _crm_writes(writable_estate)
    assert acted == before + 2, "the stage set and the note logged"

    # The same event again (a webhook retried, a feed page read twice), and the feed's own announcement of
    # the same creation under another id: the rule has run on it.
    again = _on_loop(facade, _runner(facade).handle(event))
    echo = ChangeEvent("erp", Entity.ORDER, event.record_id, ChangeKind.CREATED, parents=event.parents)
    assert again == [None] and _on_loop(facade, _runner(facade).handle(echo)) == [None]
    assert _crm_writes(writable_estate) == acted
    assert len([r for r in _runs(facade, ORDER_RULE) if r["event"]["recordId"] == event.record_id]) == 1


def test_actions_run_again_after_a_lost_record_are_answered_by_their_idempotency_keys(
    facade: Instance, writable_estate: Estate, customers: list[tuple[int, str, str]]
) -> None:
    customer, company, debtor = customers[2]
    _set_stage(writable_estate, company, "lead")
    event = ChangeEvent("erp", Entity.ORDER, _book_in_erp(writable_estate, debtor), ChangeKind.CREATED,
                        parents=(("party", debtor),), customer_ids=(customer,))  # fmt: skip
    runner = _runner(facade)
    rule = next(rule for rule in runner.rules if rule.name == ORDER_RULE)
    first = _on_loop(facade, runner.run(rule, event))
    acted = _crm_writes(writable_estate)
    _set_stage(writable_estate, company, "lead")  # so that the condition holds again
    # As if the facade had crashed after acting and before recording: the run is made again from the top.
    run_id = _on_loop(facade, runner.store.claim("replayed-" + ORDER_RULE, event))
    again = _on_loop(facade, runner._run(rule.model_copy(update={"name": ORDER_RULE}), event, run_id))
    assert first is RunStatus.SUCCEEDED and again is RunStatus.SUCCEEDED
    assert _crm_writes(writable_estate) == acted + 1, "only the stage set afresh by the test is written again"


def test_a_condition_that_does_not_hold_does_nothing(
    facade: Instance, writable_estate: Estate, customers: list[tuple[int, str, str]]
) -> None:
    customer, company, debtor = customers[3]
    _set_stage(writable_estate, company, "customer")
    before = _crm_writes(writable_estate)
    facade.publish(ChangeEvent("erp", Entity.ORDER, _book_in_erp(writable_estate, debtor), ChangeKind.CREATED,
                               parents=(("party", debtor),)))  # fmt: skip
    run = _finished_run(facade, ORDER_RULE, customer)
    assert run["status"] == "SKIPPED" and run["actions"] == []
    assert _crm_writes(writable_estate) == before


def test_a_solved_ticket_is_noted_on_the_crm_company(facade: Instance, writable_estate: Estate, store_url: str) -> None:
    with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
        found = conn.execute(
            "SELECT t.customer_id, t.source_id FROM crmgraph_links t JOIN crmgraph_links c "
            "ON c.customer_id = t.customer_id AND c.source = 'crm' AND c.entity = 'party' "
            "WHERE t.source = 'tickets' AND t.entity = 'party' ORDER BY t.customer_id LIMIT 60"
        ).fetchall()
    ticket = customer = organization = ""
    with writable_estate.tickets() as tickets:
        for owner, party in found:
            listed = tickets.get(f"/api/v2/organizations/{party}/tickets.json").json()["tickets"]
            open_ones = [t for t in listed if t["status"] not in ("solved", "closed")]
            if open_ones:
                ticket, customer, organization = str(open_ones[0]["id"]), owner, party
                break
        assert ticket, "an open ticket of a customer known to the CRM"
        tickets.put(f"/api/v2/tickets/{ticket}.json", json={"ticket": {"status": "solved"}}).raise_for_status()
    before = _crm_writes(writable_estate)
    # What the ticket system's webhook says (the writable estate sends none to this facade).
    facade.publish(ChangeEvent("tickets", Entity.TICKET, ticket, ChangeKind.UPDATED, changed=("status",),
                               parents=(("party", str(organization)),)))  # fmt: skip
    run = _finished_run(facade, TICKET_RULE, int(customer))
    assert run["status"] == "SUCCEEDED", run
    assert f"Ticket {ticket} was solved" in run["actions"][0]["input"]
    assert _crm_writes(writable_estate) == before + 1


def test_a_loop_between_two_rules_is_stopped_and_recorded(
    facade: Instance, writable_estate: Estate, customers: list[tuple[int, str, str]]
) -> None:
    customer, company, _ = customers[5]
    before = _crm_writes(writable_estate)
    facade.publish(ChangeEvent("crm", Entity.PARTY, company, ChangeKind.UPDATED, changed=("city",)))

    def stopped() -> list[dict[str, Any]]:
        return [run for run in _runs(facade, "city-moves-address", "LOOP_STOPPED")
                if (run["customer"] or {}).get("id") == encode_id("Customer", str(customer))]  # fmt: skip

    run = _wait_for("the loop stopped", stopped)[0]
    link = f"city-moves-address|crm:party:{company}"
    assert run["event"]["chain"] == [link, f"address-moves-city|crm:party:{company}"]
    assert "already acted on crm party" in run["error"] and run["actions"] == []
    assert _crm_writes(writable_estate) == before + 2, "each rule acted once, then the loop was stopped"
    succeeded = [r for r in _runs(facade, "address-moves-city") if r["event"]["chain"] == [link]]
    assert [r["status"] for r in succeeded] == ["SUCCEEDED"]


def test_a_chain_past_max_depth_is_stopped(
    facade: Instance, writable_estate: Estate, customers: list[tuple[int, str, str]]
) -> None:
    _, company, _ = customers[6]
    chain = tuple(f"elsewhere-{n}|crm:party:x{n}" for n in range(4))  # max_depth 4
    event = ChangeEvent("crm", Entity.PARTY, company, ChangeKind.UPDATED, changed=("city",), chain=chain)
    statuses = _on_loop(facade, _runner(facade).handle(event))
    assert statuses == [RunStatus.LOOP_STOPPED]


@pytest.mark.parametrize(
    ("rule", "path", "message"),
    [
        ({"then": [{"customerUpdat": {"customerId": "{{customer.id}}"}}]}, "rules.0.then.0.customerUpdat",
         "did you mean customerUpdate"),
        ({"then": [{"customerUpdate": {"customerId": "{{customer.id}}", "stage": "x"}}]},
         "rules.0.then.0.customerUpdate.stage", "not a field of CustomerUpdateInput"),
        ({"then": [{"interactionLog": {"customerId": "{{customer.id}}", "kind": "NOTE", "body": "{{record.nmbr}}"}}]},
         "rules.0.then.0.interactionLog.body", "selection does not read 'nmbr'"),
        ({"then": [{"interactionLog": {"customerId": "{{costumer.id}}", "kind": "NOTE", "body": "x"}}]},
         "rules.0.then.0.interactionLog.customerId", "no fact 'costumer'"),
        ({"then": [{"ticketCreate": {"customerId": "{{customer.id}}", "subject": "s", "description": "d"}}]},
         "rules.0.then.0.ticketCreate", "may not run ticketCreate"),
        ({"where": "customer.stage =="}, "rules.0.where", "not a JMESPath expression"),
        ({"customer": "lifecycleStag"}, "rules.0.customer", "Did you mean 'lifecycleStage'"),
        ({"when": {"system": "sap", "entity": "order"}}, "rules.0.when.system", "no source is named 'sap'"),
    ],
    ids=["unknown mutation", "unknown input field", "unread record field", "unknown fact", "not permitted",
         "bad condition", "bad selection", "unknown system"],
)  # fmt: skip
def test_a_rule_written_wrong_is_refused_at_start_with_its_key_path(
    rule: dict[str, Any], path: str, message: str
) -> None:
    action = {"customerUpdate": {"customerId": "{{customer.id}}", "lifecycleStage": "customer"}}
    written = {"name": "r", "when": {"entity": "order"}, "record": "number", "then": [action]} | rule
    config = facade_config("http://127.0.0.1:9", "http://127.0.0.1:9", "sqlite://", "sqlite://",
                           governance=_rules_config([written]))  # fmt: skip
    with pytest.raises(ConfigErrors) as refused:
        build_app(config)
    problems = {problem.path: problem.message for problem in refused.value.problems}
    assert f"workflows.rules.{path}" in problems, problems
    assert message in problems[f"workflows.rules.{path}"]


def test_a_rule_of_the_wrong_shape_is_refused_with_its_key_path() -> None:
    text = "sources: {erp: {adapter: sql, url: 'sqlite://'}}\nworkflows: {rules: {rules: [%s]}}"
    cases = {
        "{name: a, when: {entity: planet}, then: [{interactionLog: {}}]}": "workflows.rules.rules.0.when.entity",
        "{name: a, when: {entity: order}, then: []}": "workflows.rules.rules.0.then",
        "{name: a, when: {entity: order}, then: [{a: {}, b: {}}]}": "workflows.rules.rules.0.then",
        "{name: A B, when: {entity: order}, then: [{a: {}}]}": "workflows.rules.rules.0.name",
        "{name: a, when: {entity: order}, then: [{a: {}}], iff: x}": "workflows.rules.rules.0.iff",
    }
    for rule, path in cases.items():
        with pytest.raises(ConfigErrors) as refused:
            parse_config(text % rule)
        assert path in {problem.path for problem in refused.value.problems}, (rule, refused.value.problems)
