"""`crmgraph demo` starts everything, and the first query it prints answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from crmgraph.cli_graph import FIRST_QUERY


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
        token = printed.split("An admin token", 1)[1].splitlines()[1].strip()
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        bad = httpx.post(url, json={"query": FIRST_QUERY}, headers={"Authorization": f"Bearer {forged}"}, timeout=30)
        assert bad.status_code == 401 and "signature" in bad.json()["errors"][0]["message"]
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
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    estates = subprocess.run(["pgrep", "-f", str(tmp_path / "demo")], capture_output=True, text=True).stdout.split()
    assert estates == [], "stopping the demo must stop the estate it started"
