"""What role policies cost on the read path: the customer-360 query, warm, with policies on and off.

    .venv/bin/python bench/policy_overhead.py [--customers 2000] [--sample 40] [--rounds 9]

One estate, one facade, two principals asking the same customers in turn (interleaved, so that a drift of
a noisy machine falls on both alike): `open` (a role without deny, mask or scope) and `governed` (a sales
rep's row scope, personal data masked, invoice amounts denied). Both go through JWT verification and the
audit trail (on by default), so the difference is the policies alone. The sample is the busiest owner's
customers with records in all three systems, so the governed principal sees all of them. Prints warm
p50/p95/p99 per principal and the ratio of the p50s (issue 11 asks for at most 1.1).
"""

from __future__ import annotations

import os
import statistics
import time
from argparse import ArgumentParser
from pathlib import Path

import jwt
import orjson
from common import LeanClient, global_id, linked_store, percentile
from customer360 import QUERY
from customer360 import config_for as shared_config

from crmgraph.app import build_app
from crmgraph.config import Config
from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.process import estate_process
from crmgraph.demo.role_tokens import busiest_owner
from crmgraph.demo.seed import data_dir_is_current, generate_estate
from crmgraph.identity.store import IdentityStore
from crmgraph.runner import serving

SECRET = "policy-overhead-bench-secret-of-32-bytes"
DENIED = "[Invoice.gross, Invoice.outstanding, Customer.lifetimeRevenue, Customer.outstandingBalance]"
MASKED = "[Customer.taxId, Contact.email, Contact.phone]"


POLICIES = {
    "scope": "scope: [{field: owner_id, attribute: owner_id}]",
    "mask": f"mask: {MASKED}",
    "deny": f"deny: {DENIED}",
}


def config_for(urls: dict[str, str], identity_url: str, ttl: float, policies: list[str]) -> Config:
    governed = ", ".join(POLICIES[name] for name in policies)
    governance = f"""auth: {{jwt: {{hs256_secret: "{SECRET}", issuer: bench, audience: crmgraph}}, api_keys: false}}
        policy: {{roles: {{open: {{}}, governed: {{{governed}}}}}}}"""
    return shared_config(urls, identity_url, ttl, governance)


def bearer(role: str, owner: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": f"bench-{role}", "roles": [role], "owner_id": owner, "iss": "bench", "aud": "crmgraph",
              "iat": now, "nbf": now, "exp": now + 4 * 3600}  # fmt: skip
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


def owned_and_active(store: IdentityStore, owner: str, limit: int) -> list[int]:
    """The owner's customers with records in all three systems, in the order of their CRM record's id."""
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT l.customer_id FROM crmgraph_links l JOIN crmgraph_match_keys k ON k.customer_id = l.customer_id "
            "AND k.kind = 'owner_id' AND k.value = ? GROUP BY l.customer_id HAVING COUNT(DISTINCT l.source) = 3 "
            "ORDER BY MIN(CASE WHEN l.source = 'crm' THEN l.source_id END), l.customer_id LIMIT ?",
            (owner, limit),
        ).fetchall()
    return [int(row[0]) for row in rows]


def ask(client: LeanClient, customer: str, denied_ok: bool) -> float:
    started = time.perf_counter()
    status, content = client.post("/graphql", {"query": QUERY, "variables": {"id": customer}})
    elapsed = (time.perf_counter() - started) * 1000
    result = orjson.loads(content)
    errors = result.get("errors") or []
    unexpected = [e for e in errors if not (denied_ok and e.get("extensions", {}).get("code") == "FORBIDDEN")]
    if status != 200 or unexpected or result["data"]["customer"] is None:
        raise SystemExit(f"query failed ({status}): {unexpected or result}")
    return elapsed


def main() -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-360"))
    parser.add_argument("--policies", default="scope,mask,deny", help="what the governed role has (comma-separated)")
    args = parser.parse_args()
    policies = [name for name in args.policies.split(",") if name]

    layout = EstateLayout(args.data_dir)
    if not data_dir_is_current(layout.root, seed=42, customers=args.customers):
        generate_estate(layout, customers=args.customers, seed=42)
    cpus = sorted(os.sched_getaffinity(0))
    estate_cpus = {cpus[-1]} if len(cpus) >= 2 else None
    if estate_cpus:
        os.sched_setaffinity(0, set(cpus[:-1]))  # the legacy systems on a processor of their own
    with estate_process(layout.root, customers=args.customers, seed=42, cpus=estate_cpus) as urls:
        identity_url = f"sqlite:///{layout.root.resolve() / 'bench-policy-identity.sqlite'}"
        store = linked_store(identity_url, config_for(urls, identity_url, 0, policies))
        owner = busiest_owner(store)
        if owner is None:
            raise SystemExit("no customer has an owner")
        ids = [global_id("Customer", c) for c in owned_and_active(store, owner, args.sample)]
        store.close()
        with serving(build_app(config_for(urls, identity_url, 600, policies)), as_server=True) as url:
            clients = {role: LeanClient(url, headers=bearer(role, owner)) for role in ("open", "governed")}
            for customer in ids:  # warm the cache (the same entries serve both)
                ask(clients["open"], customer, False)
                ask(clients["governed"], customer, True)
            times: dict[str, list[float]] = {"open": [], "governed": []}
            for round_number in range(args.rounds):
                order = ("open", "governed") if round_number % 2 == 0 else ("governed", "open")
                for customer in ids:
                    for role in order:
                        times[role].append(ask(clients[role], customer, role == "governed"))
            for client in clients.values():
                client.close()

    print(f"customer-360 query, warm, {len(ids)} customers of owner {owner} (active in all three systems), "
          f"{args.rounds} rounds, the two principals interleaved; governed: {', '.join(policies)}")  # fmt: skip
    for role, values in times.items():
        print(f"{role:9} n={len(values):4}  p50 {percentile(values, .5):6.2f} ms  p95 {percentile(values, .95):6.2f} ms"
              f"  p99 {percentile(values, .99):6.2f} ms  mean {statistics.fmean(values):6.2f} ms")  # fmt: skip
    ratio = percentile(times["governed"], 0.5) / percentile(times["open"], 0.5)
    print(f"p50 governed / open: {ratio:.3f} -> {'within' if ratio <= 1.1 else 'OVER'} 1.1")


if __name__ == "__main__":
    main()
