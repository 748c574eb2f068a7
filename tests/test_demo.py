"""`crmgraph demo` starts everything, and the first query it prints answers."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

import crmgraph
from crmgraph.cli_graph import FIRST_QUERY
from crmgraph.policy.masking import MASK
from crmgraph.policy.tokens import DEMO_AUDIENCE, DEMO_ISSUER, issue_development_token
from crmgraph.schema.ids import decode_id


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ask(url: str, token: str, query: str, **variables: object) -> dict[str, Any]:
    response = httpx.post(url, json={"query": query, "variables": variables},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _check_role_views(url: str, tokens: dict[str, str], tmp_path: Path) -> None:
    """The admin reads e-mail addresses in clear, marketing masked; the sales rep only their own customers;
    the reads are in the audit trail, and an edited row of it is detected."""
    listing = "{ customers(first: 100) { totalCount nodes { id email } } }"
    admin = _ask(url, tokens["admin"], listing)["data"]["customers"]
    marketing = _ask(url, tokens["marketing"], listing)["data"]["customers"]
    with_email = [(a, m) for a, m in zip(admin["nodes"], marketing["nodes"], strict=True) if a["email"]]
    assert with_email and all(MASK not in a["email"] and MASK in m["email"] for a, m in with_email)
    rep = _ask(url, tokens["sales_rep"], "{ customers(first: 100) { totalCount nodes { id } } }")["data"]["customers"]
    assert 0 < rep["totalCount"] == len(rep["nodes"]) < admin["totalCount"], "the rep's own customers, counted right"
    theirs = {node["id"] for node in rep["nodes"]}
    outside = next(node["id"] for node in admin["nodes"] if node["id"] not in theirs)
    assert _ask(url, tokens["sales_rep"], "query($id: ID!) { node(id: $id) { id } }", id=outside)["data"] == {
        "node": None
    }
    time.sleep(1.5)  # the audit writer writes every half second
    env = {**os.environ, "CRMGRAPH_IDENTITY_URL": f"sqlite:///{tmp_path / 'demo' / 'identity.sqlite'}"}
    config = str(Path(crmgraph.__file__).parent / "demo" / "config.yaml")
    customer = decode_id(with_email[0][0]["id"])[1][0]
    listed = subprocess.run([sys.executable, "-m", "crmgraph", "audit", "-c", config, "--customer", customer, "--json"],
                            capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    events = [json.loads(line) for line in listed.stdout.splitlines()]
    reads = {(event["subject"], event["masked"]) for event in events if event["action"] == "read"}
    assert {("demo-admin", False), ("demo-marketing", True)} <= reads, events
    assert all(int(customer) in event["customers"] and "Customer.email" in event["fields"] for event in events)
    intact = subprocess.run([sys.executable, "-m", "crmgraph", "audit", "verify", "-c", config],
                            capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert intact.returncode == 0, intact.stderr
    with sqlite3.connect(tmp_path / "demo" / "identity.sqlite") as conn:
        conn.execute("UPDATE crmgraph_audit_events SET subject = 'someone-else' WHERE subject = 'demo-marketing'")
    edited = subprocess.run([sys.executable, "-m", "crmgraph", "audit", "verify", "-c", config],
                            capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert edited.returncode == 1 and "edited" in edited.stderr, edited.stderr


OPEN = """mutation($input: TicketCreateInput!) { ticketCreate(input: $input) {
  ticket { id number subject } replayed userErrors { code message } } }"""


def _ticket_creates(stats: str) -> int:
    """Tickets the ticket system created (its write counter of the ticket-creating endpoint)."""
    writes = httpx.get(stats, timeout=10).json()["writes"]["by_endpoint"]
    return sum(int(counter["committed"]) for endpoint, counter in writes.items() if endpoint.startswith("POST"))


def _check_ticket_opened(url: str, agent: str, tickets_url: str) -> None:
    """A service agent opens a ticket for a customer: the ticket system's own API shows it, a retry with the same
    key answers the same ticket without a second write, and the customer's tickets show it at once."""
    listing = "{ customers(first: 100) { nodes { id sources { system } tickets(first: 100) { totalCount } } } }"
    nodes = _ask(url, agent, listing)["data"]["customers"]["nodes"]
    customer = next(n for n in nodes if "tickets" in {s["system"] for s in n["sources"]})
    stats = f"{tickets_url}/_control/stats"
    before = _ticket_creates(stats)
    given = {"customerId": customer["id"], "subject": "Invoice 4711 is wrong", "description": "Line 2 is billed twice.",
             "idempotencyKey": "demo-test-4711"}  # fmt: skip
    opened = _ask(url, agent, OPEN, input=given)["data"]["ticketCreate"]
    assert opened["userErrors"] == [] and opened["ticket"]["subject"] == "Invoice 4711 is wrong", opened
    auth = ("api@demo.crmgraph.test/token", "demo-zendesk-token")
    own = httpx.get(f"{tickets_url}/api/v2/tickets/{opened['ticket']['number']}.json", auth=auth, timeout=10)
    assert own.status_code == 200 and own.json()["ticket"]["subject"] == "Invoice 4711 is wrong"
    after = _ticket_creates(stats)
    again = _ask(url, agent, OPEN, input=given)["data"]["ticketCreate"]
    assert again["replayed"] is True and again["ticket"]["id"] == opened["ticket"]["id"]
    # (the demo's ticket routing then updates the new ticket: only creations are counted here)
    assert _ticket_creates(stats) == after == before + 1, "no second ticket"
    query = "query($id: ID!) { customer(id: $id) { tickets(first: 100) { totalCount nodes { id } } } }"
    tickets = _ask(url, agent, query, id=customer["id"])["data"]["customer"]["tickets"]
    assert tickets["totalCount"] == customer["tickets"]["totalCount"] + 1
    assert opened["ticket"]["id"] in {node["id"] for node in tickets["nodes"]}


def test_the_demo_starts_everything_and_its_first_query_answers(tmp_path: Path) -> None:
    port = _free_port()
    # The estate of `make demo` (300 customers, seed 42): the README's first query is run on it.
    command = [sys.executable, "-m", "crmgraph", "demo", "--customers", "300", "--seed", "42", "--port", str(port),
               "--port-base", "0", "--data-dir", str(tmp_path / "demo")]  # fmt: skip
    log = (tmp_path / "demo.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "demo.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo did not come up"
            time.sleep(0.2)
        printed = (tmp_path / "demo.log").read_text()
        assert f"http://127.0.0.1:{port}/graphql" in printed and FIRST_QUERY in printed
        assert FIRST_QUERY in (Path(__file__).parent.parent / "README.md").read_text(), "the README shows it too"
        assert "Linked" in printed
        url = f"http://127.0.0.1:{port}/graphql"
        # Nobody is let in without credentials; the demo prints an admin token and puts it into GraphiQL.
        refused = httpx.post(url, json={"query": FIRST_QUERY}, timeout=30)
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        tokens = dict(re.findall(r"^(\w+) \(.*\):\n(\S+)$", printed, flags=re.MULTILINE))
        assert set(tokens) == {"admin", "data_steward", "sales_rep", "service_agent", "marketing"}, printed
        assert "Headers" in printed and '{"Authorization": "Bearer <token>"}' in printed, "how to paste one"
        token = tokens["admin"]
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        bad = httpx.post(url, json={"query": FIRST_QUERY}, headers={"Authorization": f"Bearer {forged}"}, timeout=30)
        assert bad.status_code == 401 and "signature" in bad.json()["errors"][0]["message"]
        expired = issue_development_token(tmp_path / "demo", subject="late", roles=["admin"], issuer=DEMO_ISSUER,
                                          audience=DEMO_AUDIENCE, ttl_seconds=-3600)  # fmt: skip
        late = httpx.post(url, json={"query": FIRST_QUERY}, headers={"Authorization": f"Bearer {expired}"}, timeout=30)
        assert late.status_code == 401 and "expired" in late.json()["errors"][0]["message"]
        admin = {"Authorization": f"Bearer {token}"}
        result = httpx.post(url, json={"query": FIRST_QUERY}, headers=admin, timeout=30).json()
        assert "errors" not in result, result
        customers = result["data"]["customers"]
        assert customers["totalCount"] > 0 and len(customers["nodes"]) == 3
        assert all(node["name"] for node in customers["nodes"])
        # One customer across the systems: each shown with its orders (ERP) and its tickets (Zendesk).
        assert all(node["orders"]["nodes"] and node["tickets"]["nodes"] for node in customers["nodes"])
        assert all({"crm", "erp", "tickets"} <= {s["system"] for s in node["sources"]} for node in customers["nodes"])
        graphiql = httpx.get(url, headers={"Accept": "text/html"}, timeout=10)
        assert graphiql.status_code == 200 and "graphiql" in graphiql.text.lower()
        assert f"Bearer {token}" in graphiql.text, "GraphiQL's tabs carry the admin token"
        _check_role_views(url, tokens, tmp_path)
        tickets_url = re.search(r"tickets (http://\S+),", printed)
        assert tickets_url, "the demo says where the legacy systems are"
        _check_ticket_opened(url, tokens["service_agent"], tickets_url.group(1).rstrip(","))
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    estates = subprocess.run(["pgrep", "-f", str(tmp_path / "demo")], capture_output=True, text=True).stdout.split()
    assert estates == [], "stopping the demo must stop the estate it started"
