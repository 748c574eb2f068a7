"""Lead distribution and ticket routing against the demo estate: leads made in the marketing system's own
API end with their owner in the CRM's own API, tickets made in the ticket system's API end routed there;
fair round robin across two facade instances sharing a store; the first-touch SLA on a clock the test
moves; a manager's reassignment winning over the rules. Every wait is bounded; no timing is asserted."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import create_engine

from crmgraph.config import Config
from crmgraph.errors import ConfigError
from crmgraph.events import ChangeEvent, ChangeKind, Entity
from crmgraph.schema.ids import decode_id, encode_id
from crmgraph.workflows.assignment.clock import ManualClock
from crmgraph.workflows.assignment.runtime import Assignment
from crmgraph.workflows.assignment.store import metadata as assignment_tables
from tests.conftest import Estate
from tests.facade import TEST_AUTH, facade_config
from tests.marketing_source import marketing_sources
from tests.realtime import WAIT_S, Instance, connected, instance

T = TypeVar("T")
SECRET = "assignment-test-webhook-secret"
REPS = ("50000001", "50000002", "50000003")
SLA_S = 600.0
ASSIGNMENT = """query($id: ID!) { leadAssignment(leadId: $id) { state ownerId manual touched crmContactId
  previousOwnerIds owner { name } explanation { rule team candidates chosen why trigger steps { rule kept } } } }"""


def _leads(team: str) -> dict[str, Any]:
    return {"source": "marketing", "crm": "crm", "first_touch_sla_s": SLA_S, "sla_check_every_s": 3600,
            "regions": {"EMEA": ["DE", "FR", "GB"]},
            "teams": [{"name": team, "members": [{"owner_id": rep} for rep in REPS]}]}  # fmt: skip


TICKETS: dict[str, Any] = {
    "source": "tickets", "crm": "crm", "erp": "erp", "classifier": "keywords",
    "vip": {"revenue_at_least": 1e12, "open_deals": True},
    "groups": [
        {"name": "first-line", "group_id": "20000001",
         "agents": [{"id": "370000000001"}, {"id": "370000000002", "languages": ["zh"]}]},
        {"name": "billing", "group_id": "20000002", "agents": [{"id": "370000000005"}]},
    ],
    "rules": [{"name": "vip-complaints", "when": {"categories": ["complaint"], "vip": True}, "group": "first-line",
               "priority": "urgent", "tags": ["escalated"]},
              {"name": "billing", "when": {"categories": ["billing"]}, "group": "billing"}],
    "default_group": "first-line",
}  # fmt: skip


def _config(estate: Estate, identity_url: str, workflows: dict[str, Any], hooks: tuple[str, ...] = ()) -> Config:
    webhooks = {"sources": {name: {"secret": SECRET, **({"format": "mautic"} if name == "marketing" else {})}
                            for name in hooks}}  # fmt: skip
    governance = f"{TEST_AUTH}\n        webhooks: {json.dumps(webhooks)}\n        workflows: {json.dumps(workflows)}"
    return facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, identity_url,
                         governance=governance, more_sources=marketing_sources(estate.marketing_url))  # fmt: skip


def _eventually(probe: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + WAIT_S
    while True:
        found = probe()
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"not within {WAIT_S} s: {what}"
        time.sleep(0.1)


def _new_lead(estate: Estate, country: str = "Germany", tag: str = "") -> tuple[str, str]:
    """A contact made in the marketing system's own API: (its id, its e-mail)."""
    email = f"lead-{uuid.uuid4().hex[:10]}{tag}@prospect.example.test"
    with estate.marketing() as mautic:
        answer = mautic.post("/api/contacts/new", json={"firstname": "Lea", "lastname": f"Prospect{tag}",
                                                        "email": email, "country": country})  # fmt: skip
    assert answer.status_code == 201, answer.text
    return str(answer.json()["contact"]["id"]), email


def _assignment(facade: Instance, lead_id: str) -> dict[str, Any] | None:
    answer = facade.query(ASSIGNMENT, {"id": encode_id("Lead", "marketing", lead_id)})
    assert "errors" not in answer, answer
    found: dict[str, Any] | None = answer["data"]["leadAssignment"]
    return found


def _assigned(facade: Instance, lead_id: str, owner: str | None = None) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found = _assignment(facade, lead_id)
        ok = found is not None and found["state"] == "assigned" and (owner is None or found["ownerId"] == owner)
        return found if ok else None

    return _eventually(probe, f"lead {lead_id} assigned" + (f" to {owner}" if owner else ""))


def _crm_owner(estate: Estate, contact_id: str) -> str | None:
    with estate.crm() as crm:
        answer = crm.get(f"/crm/v3/objects/contacts/{contact_id}", params={"properties": "hubspot_owner_id,email"})
    answer.raise_for_status()
    owner: str | None = answer.json()["properties"].get("hubspot_owner_id")
    return owner


def _crm_contacts_with(estate: Estate, email: str) -> list[dict[str, Any]]:
    body = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}],
            "properties": ["email", "hubspot_owner_id"], "limit": 10}  # fmt: skip
    with estate.crm() as crm:
        answer = crm.post("/crm/v3/objects/contacts/search", json=body)
    answer.raise_for_status()
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def _running(facade: Instance) -> Assignment:
    running: Assignment = facade.app.state.assignment
    return running


def _on_loop(facade: Instance, work: Any) -> Any:
    assert facade.hub.loop is not None
    return asyncio.run_coroutine_threadsafe(work, facade.hub.loop).result(WAIT_S)


def _subscribe_hooks(estate: Estate, facade: Instance, system: str) -> None:
    hook = {"url": f"{facade.url}/webhooks/{system}", "secret": SECRET, "retry_base_s": 0.2}
    httpx.post(f"{estate.base(system)}/_control/webhooks", json=hook, timeout=10).raise_for_status()


def _created(lead_id: str) -> ChangeEvent:
    return ChangeEvent("marketing", Entity.PERSON, lead_id, ChangeKind.CREATED)


# --- leads ---------------------------------------------------------------------------------------------------


def test_a_lead_made_in_the_marketing_system_ends_with_its_owner_in_the_crm(
    writable_estate: Estate, tmp_path: Path
) -> None:
    config = _config(writable_estate, f"sqlite:///{tmp_path / 'store.sqlite'}",
                     {"assignment": {"leads": _leads("e2e")}}, hooks=("marketing",))  # fmt: skip
    with instance(config) as facade:
        _subscribe_hooks(writable_estate, facade, "marketing")

        async def hear_and_create() -> tuple[dict[str, Any], str, str]:
            async with connected(facade) as client:
                await client.subscribe("1", "subscription { leadAssigned { assignment { leadId ownerId rule } } }")
                await asyncio.to_thread(facade.wait_for_subscribers, 2)  # the workflow's and this one
                lead_id, email = await asyncio.to_thread(_new_lead, writable_estate)
                heard = await client.next("1")
                return heard, lead_id, email

        heard, lead_id, email = asyncio.run(hear_and_create())
        assignment = _assigned(facade, lead_id)
        said = heard["data"]["leadAssigned"]["assignment"]
        assert said["leadId"] == encode_id("Lead", "marketing", lead_id)
        assert said["ownerId"] == assignment["ownerId"] in REPS
        # the CRM's own API shows the owner, on the one contact of that e-mail
        contacts = _crm_contacts_with(writable_estate, email)
        assert [c["id"] for c in contacts] == [assignment["crmContactId"]]
        assert _crm_owner(writable_estate, assignment["crmContactId"]) == assignment["ownerId"]
        explanation = assignment["explanation"]
        assert explanation["rule"] == "round_robin" and explanation["team"] == "e2e"
        assert explanation["trigger"] == "new lead" and explanation["chosen"] == assignment["ownerId"]
        assert set(explanation["candidates"]) == set(REPS)
        assert [step["rule"] for step in explanation["steps"]] == [
            "territory", "language", "working_hours", "capacity", "round_robin"]  # fmt: skip
        assert assignment["owner"]["name"]  # the owner as the CRM knows them
        # the lead queue lists it on top, as the console's routing page shows it
        queue = facade.query("{ leadAssignments(first: 5) { totalCount nodes { leadId state ownerId } } }")
        listed = queue["data"]["leadAssignments"]
        assert listed["totalCount"] == 1
        assert listed["nodes"] == [{"leadId": said["leadId"], "state": "assigned", "ownerId": assignment["ownerId"]}]
        wrong = facade.query('{ leadAssignments(state: "lost") { totalCount } }')
        assert "state: 'lost' is not a queue state" in wrong["errors"][0]["message"]


def test_a_lead_whose_email_the_crm_knows_gives_that_contact_its_owner(writable_estate: Estate, tmp_path: Path) -> None:
    config = _config(writable_estate, f"sqlite:///{tmp_path / 'store.sqlite'}", {"assignment": {"leads": _leads("k")}})
    lead_id, email = _new_lead(writable_estate)
    with writable_estate.crm() as crm:
        made = crm.post("/crm/v3/objects/contacts", json={"properties": {"email": email, "firstname": "Known"}})
    made.raise_for_status()
    with instance(config) as facade:
        facade.publish(_created(lead_id))
        assignment = _assigned(facade, lead_id)
    assert assignment["crmContactId"] == made.json()["id"]
    assert _crm_owner(writable_estate, made.json()["id"]) == assignment["ownerId"]
    assert len(_crm_contacts_with(writable_estate, email)) == 1


def test_round_robin_is_fair_across_two_instances_sharing_a_store(
    writable_estate: Estate, tmp_path: Path, postgres_url: str
) -> None:
    engine = create_engine(postgres_url)
    assignment_tables.drop_all(engine)  # the shared store, empty: every run starts its rotation at 0
    engine.dispose()
    workflows = {"assignment": {"leads": _leads("fair"), "store": postgres_url}}
    config = _config(writable_estate, f"sqlite:///{tmp_path / 'store.sqlite'}", workflows)
    leads = [_new_lead(writable_estate, tag=str(n))[0] for n in range(12)]
    with instance(config) as first, instance(config) as second, ThreadPoolExecutor(8) as pool:
        # every lead is heard by both instances at once: they race for each one
        list(pool.map(lambda pair: pair[0].publish(_created(pair[1])),
                      [(facade, lead) for lead in leads for facade in (first, second)]))  # fmt: skip
        owners = {lead: _assigned(first, lead) for lead in leads}
        for facade in (first, second):
            _on_loop(facade, _running(facade).settle())
    assert Counter(found["ownerId"] for found in owners.values()) == dict.fromkeys(REPS, 4)  # no one twice, in turn
    for lead, found in owners.items():
        assert found["ownerId"] in REPS and found["crmContactId"], lead  # nobody's lead is no one's
        assert _crm_owner(writable_estate, found["crmContactId"]) == found["ownerId"]


def test_an_untouched_lead_is_reassigned_after_the_sla_and_a_managers_choice_wins(
    writable_estate: Estate, tmp_path: Path
) -> None:
    config = _config(writable_estate, f"sqlite:///{tmp_path / 'store.sqlite'}", {"assignment": {"leads": _leads("s")}})
    with instance(config) as facade:
        running = _running(facade)
        clock = ManualClock(datetime(2026, 12, 9, 10, 0, tzinfo=UTC))
        assert running.leads is not None
        running.leads.clock = clock
        late, _ = _new_lead(writable_estate)
        kept, _ = _new_lead(writable_estate)
        facade.publish(_created(late), _created(kept))
        first = _assigned(facade, late)
        touched = _assigned(facade, kept)
        # the rep of `kept` touches its contact in the CRM (a property changed): the SLA is met
        facade.publish(ChangeEvent("crm", Entity.PERSON, touched["crmContactId"], ChangeKind.UPDATED,
                                   changed=("hs_lead_status",)))  # fmt: skip
        _eventually(lambda: True if _assignment(facade, kept)["touched"] else None, "the touch recorded")  # type: ignore[index]
        clock.advance(SLA_S - 1)
        assert _on_loop(facade, running.leads.sweep()) == []  # not yet due
        clock.advance(2)
        _on_loop(facade, running.leads.sweep())
        second = _assigned(facade, late)
        assert second["ownerId"] != first["ownerId"] and second["previousOwnerIds"] == [first["ownerId"]]
        assert second["explanation"]["rule"] == "sla" and second["explanation"]["trigger"] == "sla"
        assert second["crmContactId"] == first["crmContactId"]
        assert _crm_owner(writable_estate, second["crmContactId"]) == second["ownerId"]
        assert _assignment(facade, kept)["ownerId"] == touched["ownerId"]  # type: ignore[index]
        # a manager gives it back to the first rep: the rules and the SLA leave it there
        answer = facade.query(
            """mutation($id: ID!, $owner: String!) { leadReassign(input: {leadId: $id, ownerId: $owner,
               reason: "knows the account"}) { assignment { ownerId manual rule } userErrors { message } } }""",
            {"id": encode_id("Lead", "marketing", late), "owner": first["ownerId"]},
        )
        expected = {"ownerId": first["ownerId"], "manual": True, "rule": "manual"}
        assert answer["data"]["leadReassign"] == {"assignment": expected, "userErrors": []}
        clock.advance(10 * SLA_S)
        _on_loop(facade, running.leads.sweep())
        final = _assigned(facade, late)
        assert (final["ownerId"], final["manual"]) == (first["ownerId"], True)
        assert "knows the account" in final["explanation"]["why"]
        assert _crm_owner(writable_estate, final["crmContactId"]) == first["ownerId"]


def test_the_demo_sales_manager_may_reassign_leads_and_a_rep_may_not() -> None:
    from crmgraph.cli_graph import demo_config_dir, demo_config_text
    from crmgraph.config import parse_config
    from crmgraph.policy.principal import Principal
    from crmgraph.policy.roles import decide

    policy = parse_config(demo_config_text(), base_dir=demo_config_dir()).policy
    manager = decide(Principal("m", frozenset({"sales_manager"}), "jwt"), policy)  # type: ignore[arg-type]
    rep = decide(Principal("r", frozenset({"sales_rep"}), "jwt", {"owner_id": "1"}), policy)  # type: ignore[arg-type]
    assert manager.may_run("leadReassign") and not rep.may_run("leadReassign")


# --- tickets -------------------------------------------------------------------------------------------------


def _customer_with_open_deal(facade: Instance) -> tuple[str, set[str]]:
    """A ticket-system organization whose customer has an open deal: (its id, the deals' owners)."""
    answer = facade.query("""{ customers(first: 50) { nodes { sources { system recordId }
        deals(stage: OPEN, first: 10) { nodes { owner { id } } } } } }""")
    assert "errors" not in answer, answer["errors"]
    for customer in answer["data"]["customers"]["nodes"]:
        orgs = [s["recordId"] for s in customer["sources"] if s["system"] == "tickets"]
        deals = (customer.get("deals") or {}).get("nodes") or []
        owners = {decode_id(d["owner"]["id"])[1][-1] for d in deals if d.get("owner")}
        if orgs and owners:
            return orgs[0], owners
    raise AssertionError("the seeded estate has no customer with an open deal and a ticket-system organization")


def test_a_complaint_ticket_made_in_the_ticket_system_is_routed_there_and_alerts_the_deal_owner(
    writable_estate: Estate, linked_identity: str, tmp_path: Path
) -> None:
    identity = tmp_path / "identity.sqlite"
    shutil.copyfile(linked_identity.removeprefix("sqlite:///"), identity)  # the links, and records of our own
    config = _config(writable_estate, f"sqlite:///{identity}", {"assignment": {"tickets": TICKETS}}, hooks=("tickets",))
    with instance(config) as facade:
        organization, owners = _customer_with_open_deal(facade)
        _subscribe_hooks(writable_estate, facade, "tickets")
        ticket = {"subject": "Complaint: unacceptable delay", "organization_id": int(organization),
                  "comment": {"body": "This is unacceptable. I am angry and I want a refund."},
                  "requester": {"name": "Angry Buyer", "email": f"buyer-{uuid.uuid4().hex[:8]}@example.test"},
                  }  # fmt: skip

        async def hear_and_create() -> tuple[dict[str, Any], str]:
            async with connected(facade) as client:
                await client.subscribe(
                    "1",
                    """subscription { dealOwnerAlert { ownerId dealId
                    routing { ticketId priority group } } }""",
                )
                await asyncio.to_thread(facade.wait_for_subscribers, 2)
                with writable_estate.tickets() as zendesk:
                    made = await asyncio.to_thread(zendesk.post, "/api/v2/tickets.json", json={"ticket": ticket})
                assert made.status_code == 201, made.text
                return await client.next("1"), str(made.json()["ticket"]["id"])

        heard, ticket_id = asyncio.run(hear_and_create())

        def routed() -> dict[str, Any] | None:
            with writable_estate.tickets() as zendesk:
                found: dict[str, Any] = zendesk.get(f"/api/v2/tickets/{ticket_id}.json").json()["ticket"]
            return found if found.get("assignee_id") and found.get("group_id") else None

        shown = _eventually(routed, "the ticket routed in the ticket system")
        assert shown["group_id"] == 20000001 and shown["assignee_id"] in (370000000001, 370000000002)
        assert shown["priority"] == "urgent"
        assert {"complaint", "vip", "escalated", "severity_high"} <= set(shown["tags"])
        alert = heard["data"]["dealOwnerAlert"]
        assert alert["ownerId"] in owners and alert["routing"]["ticketId"] == encode_id("Ticket", "tickets", ticket_id)
        query = """query($id: ID!) { ticketRouting(ticketId: $id) { state group assigneeId
            explanation { rule chosen steps { rule } } } }"""
        answer = facade.query(query, {"id": encode_id("Ticket", "tickets", ticket_id)})
        routing = answer["data"]["ticketRouting"]
        assert routing["state"] == "routed" and routing["group"] == "first-line"
        assert routing["explanation"]["rule"] == "vip-complaints"
        assert routing["assigneeId"] == str(shown["assignee_id"]) == routing["explanation"]["chosen"]
        queue = facade.query('{ ticketRoutings(first: 5, state: "routed") { totalCount nodes { ticketId group } } }')
        listed = queue["data"]["ticketRoutings"]
        assert {"ticketId": encode_id("Ticket", "tickets", ticket_id), "group": "first-line"} in listed["nodes"]
        assert listed["totalCount"] == len(listed["nodes"]) >= 1
        # the groups the demo ticket system lists
        with writable_estate.tickets() as zendesk:
            groups = zendesk.get("/api/v2/groups.json").json()["groups"]
        assert 20000001 in {group["id"] for group in groups}


def test_routing_with_classifier_triage_uses_the_trained_model_of_workflows_triage(
    writable_estate: Estate, linked_identity: str, tmp_path: Path
) -> None:
    """`classifier: triage` routes with the model `crmgraph triage train` makes, as the demo configures it."""
    from crmgraph.workflows.triage.store import save_model
    from crmgraph.workflows.triage.train import train
    from tests.triage_data import drawn_tickets

    model = tmp_path / "triage-model.zip"
    save_model(train(drawn_tickets(800)).model, model)
    identity = tmp_path / "identity.sqlite"
    shutil.copyfile(linked_identity.removeprefix("sqlite:///"), identity)
    workflows = {"triage": {"classifier": "model", "model_path": str(model)},
                 "assignment": {"tickets": {**TICKETS, "classifier": "triage"}}}  # fmt: skip
    config = _config(writable_estate, f"sqlite:///{identity}", workflows, hooks=("tickets",))
    with instance(config) as facade:
        _subscribe_hooks(writable_estate, facade, "tickets")
        ticket = {"subject": "Invoice charged twice", "comment": {"body": "We were billed twice for order 4711."},
                  "requester": {"name": "Ann Lee", "email": f"ann-{uuid.uuid4().hex[:8]}@example.test"}}  # fmt: skip
        with writable_estate.tickets() as zendesk:
            made = zendesk.post("/api/v2/tickets.json", json={"ticket": ticket})
        assert made.status_code == 201, made.text
        ticket_id = str(made.json()["ticket"]["id"])
        query = """query($id: ID!) { ticketRouting(ticketId: $id) { state explanation { recorded } } }"""

        def routed() -> dict[str, Any] | None:
            found = facade.query(query, {"id": encode_id("Ticket", "tickets", ticket_id)})["data"]["ticketRouting"]
            return found if found and found["state"] == "routed" else None

        recorded = json.loads(_eventually(routed, "the ticket routed")["explanation"]["recorded"])
        assert recorded["triage"]["classifier"] == "model" and recorded["triage"]["category"] == "billing"


def test_classifier_triage_without_a_triage_classifier_is_refused_with_the_key_path() -> None:
    from crmgraph.workflows.assignment.settings import TicketRouting
    from crmgraph.workflows.assignment.tickets import classifier_for

    routing = TicketRouting.model_validate({**TICKETS, "classifier": "triage"})
    with pytest.raises(ConfigError, match=r"workflows\.assignment\.tickets\.classifier.*workflows\.triage"):
        classifier_for(routing, None)
