"""Role policies applied to answers: each demo role's view of one customer, a sales rep's row scope on every
path (lists and their counts, node and nodes, search, nested objects, look-ups, the review queue, steward
mutations), and the audit trail the requests leave (read back through ``auditEvents``).

The facade runs as a real server in front of the test estate, verifying HS256 tokens, with the demo's
roles; it keeps its audit trail in a copy of the session's linked identity store.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest

from crmgraph.errors import ConfigError
from crmgraph.identity.store import IdentityStore
from crmgraph.identity.tables import match_keys
from crmgraph.policy.masking import MASK
from crmgraph.policy.roles import PolicyConfig, RolePolicy
from crmgraph.schema import build_schema
from crmgraph.schema.ids import encode_id
from tests.conftest import Estate
from tests.facade import Facade, facade_config, serve_facade, store_copy

SECRET = "governance-test-secret-at-least-32-bytes-long"
ISSUER, AUDIENCE = "crmgraph-test", "crmgraph"
DENIED_AMOUNTS = ["Invoice.net", "Invoice.tax", "Invoice.gross", "Invoice.outstanding", "Invoice.payments",
                  "Customer.lifetimeRevenue", "Customer.outstandingBalance"]  # fmt: skip
MASKED = ["Customer.email", "Customer.phone", "Customer.taxId", "Contact.email", "Contact.phone"]
GOVERNANCE = f"""auth: {{jwt: {{hs256_secret: "{SECRET}", issuer: {ISSUER}, audience: {AUDIENCE}}}, api_keys: false}}
        policy:
          roles:
            admin: {{mutations: ["*"], explain: true, audit: true}}
            data_steward: {{mutations: [customerLink, customerUnlink, customerMerge, customerSplit]}}
            sales_rep: {{scope: [{{field: owner_id, attribute: owner_id}}]}}
            scoped_steward: {{scope: [{{field: owner_id, attribute: owner_id}}], mutations: [customerMerge,
                              customerUnlink, reviewCandidateReject]}}
            service_agent: {{deny: {DENIED_AMOUNTS}}}
            marketing: {{mask: {MASKED}}}
        audit: {{interval_s: 0.05}}"""


def token(role: str, subject: str | None = None, **claims: Any) -> dict[str, str]:
    now = int(time.time())
    payload = {"sub": subject or f"test-{role}", "roles": [role], "iss": ISSUER, "aud": AUDIENCE, "iat": now,
               "nbf": now, "exp": now + 600, **claims}  # fmt: skip
    return {"Authorization": f"Bearer {jwt.encode(payload, SECRET, algorithm='HS256')}"}


def _customer(customer_id: int) -> str:
    return encode_id("Customer", str(customer_id))


class Estate360:
    """What the store says a sales rep owns, to check the graph against."""

    def __init__(self, identity_url: str) -> None:
        store = IdentityStore(identity_url)
        with store.engine.connect() as conn:
            rows = conn.execute(match_keys.select().where(match_keys.c.kind == "owner_id")).all()
            self.all_customers = {int(row[0]) for row in conn.exec_driver_sql("SELECT id FROM crmgraph_customers")}
        store.close()
        owners: dict[str, set[int]] = {}
        for row in rows:
            owners.setdefault(row.value, set()).add(row.customer_id)
        # The busiest owner: a view neither empty nor everything.
        self.owner, self.owned = max(owners.items(), key=lambda item: (len(item[1]), item[0]))
        self.outside = sorted(self.all_customers - self.owned)
        assert self.owned and self.outside


@pytest.fixture(scope="module")
def store_url(linked_identity: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return store_copy(linked_identity, tmp_path_factory.mktemp("governed"))


@pytest.fixture(scope="module")
def owned(store_url: str) -> Estate360:
    return Estate360(store_url)


@pytest.fixture(scope="module")
def governed(running_estate: Estate, store_url: str) -> Iterator[Facade]:
    config = facade_config(running_estate.crm_url, running_estate.tickets_url, running_estate.layout.erp_url,
                           store_url, namespace="governed", governance=GOVERNANCE)  # fmt: skip
    with serve_facade(config) as running:
        yield running


def ask(facade: Facade, query: str, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
    return facade.query(query, variables, headers=headers)


def rep(owned: Estate360) -> dict[str, str]:
    return token("sales_rep", "rita.rep", owner_id=owned.owner)


VIEW = """query($id: ID!) { customer(id: $id) { id name email phone taxId
  invoices(first: 3) { nodes { number gross { amount } outstanding { amount } } }
  contacts(first: 20) { nodes { name email } } } }"""


def _with_invoices_and_email(facade: Facade, owned: Estate360) -> tuple[str, dict[str, Any]]:
    """An owned customer with an e-mail address and invoices, as the admin sees it."""
    for customer_id in sorted(owned.owned):
        seen = ask(facade, VIEW, token("admin"), id=_customer(customer_id))
        customer = seen["data"]["customer"]
        if customer and customer["email"] and customer["invoices"]["nodes"]:
            return _customer(customer_id), customer
    pytest.fail("no owned customer with an e-mail address and invoices")


def test_each_demo_role_sees_the_same_customer_its_own_way(governed: Facade, owned: Estate360) -> None:
    customer_id, clear = _with_invoices_and_email(governed, owned)
    assert MASK not in clear["email"]

    marketing = ask(governed, VIEW, token("marketing"), id=customer_id)
    seen = marketing["data"]["customer"]
    assert "errors" not in marketing
    local, domain = clear["email"].split("@")
    assert seen["email"] == f"{local[0]}{MASK * 3}@{domain}", "the domain stays: the company is recognisable"
    assert seen["taxId"] in (None, MASK * 4)
    assert seen["invoices"] == clear["invoices"], "marketing reads amounts"
    masked_paths = marketing["extensions"]["masked"]
    assert ["customer", "email"] in masked_paths
    for n, contact in enumerate(seen["contacts"]["nodes"]):
        if contact["email"] is not None:
            assert MASK in contact["email"] and ["customer", "contacts", "nodes", n, "email"] in masked_paths
        assert contact["name"] == clear["contacts"]["nodes"][n]["name"], "names are not on the mask list"

    agent = ask(governed, VIEW, token("service_agent"), id=customer_id)
    seen = agent["data"]["customer"]
    assert seen["email"] == clear["email"] and "masked" not in agent.get("extensions", {})
    assert [invoice["number"] for invoice in seen["invoices"]["nodes"]] == [
        invoice["number"] for invoice in clear["invoices"]["nodes"]
    ], "the invoices are there, without their amounts"
    assert all(invoice["gross"] is None and invoice["outstanding"] is None for invoice in seen["invoices"]["nodes"])
    refused = {tuple(error["path"]): error for error in agent["errors"]}
    assert ("customer", "invoices", "nodes", 0, "gross") in refused
    assert all(error["extensions"]["code"] == "FORBIDDEN" for error in refused.values())
    assert "Invoice.gross" in refused[("customer", "invoices", "nodes", 0, "gross")]["message"]

    for role, headers in (("sales_rep", rep(owned)), ("data_steward", token("data_steward"))):
        seen = ask(governed, VIEW, headers, id=customer_id)
        assert seen["data"]["customer"] == clear and "errors" not in seen, role

    stranger = ask(governed, VIEW, token("intern"), id=customer_id)
    assert stranger["data"]["customer"] is None, "a role the policy does not name sees nothing"


LIST = """query($after: String, $search: String) { customers(first: 200, after: $after, search: $search) {
  totalCount pageInfo { hasNextPage endCursor } nodes { id } } }"""


def _all_ids(facade: Facade, headers: dict[str, str], search: str | None = None) -> tuple[list[str], int]:
    ids: list[str] = []
    after = None
    while True:
        page = ask(facade, LIST, headers, after=after, search=search)["data"]["customers"]
        ids += [node["id"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids, page["totalCount"]
        after = page["pageInfo"]["endCursor"]


def test_a_sales_rep_lists_and_counts_only_their_own_customers(governed: Facade, owned: Estate360) -> None:
    ids, total = _all_ids(governed, rep(owned))
    assert sorted(ids) == sorted(_customer(c) for c in owned.owned)
    assert total == len(ids) == len(owned.owned), "totalCount agrees with the list"
    everyone, admin_total = _all_ids(governed, token("admin"))
    assert set(ids) < set(everyone)
    assert admin_total == len(owned.all_customers) > total
    nobody, none_total = _all_ids(governed, token("sales_rep", "no-owner"))
    assert nobody == [] and none_total == 0, "a rep without an owner_id claim owns nothing"


def _name_of(facade: Facade, customer_id: int) -> str:
    found = ask(facade, "query($id: ID!) { customer(id: $id) { name } }", token("admin"), id=_customer(customer_id))
    name: str = found["data"]["customer"]["name"]
    return name


def test_a_customer_outside_the_scope_is_answered_as_one_that_does_not_exist(
    governed: Facade, owned: Estate360
) -> None:
    inside, outside = _customer(min(owned.owned)), _customer(owned.outside[0])
    missing = _customer(max(owned.all_customers) + 10_000)
    headers = rep(owned)
    for query in ("query($id: ID!) { customer(id: $id) { id } }", "query($id: ID!) { node(id: $id) { id } }"):
        field = "customer" if "customer(" in query else "node"
        assert ask(governed, query, headers, id=inside)["data"][field] == {"id": inside}
        hidden, absent = ask(governed, query, headers, id=outside), ask(governed, query, headers, id=missing)
        assert hidden == absent == {"data": {field: None}}, "outside the scope looks exactly like missing"
    both = ask(governed, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", headers, ids=[inside, outside])
    assert both == {"data": {"nodes": [{"id": inside}, None]}}

    name = _name_of(governed, owned.outside[0]).split()[0][:6]  # a part of the name, as people type it
    admin_ids, _ = _all_ids(governed, token("admin"), search=name)
    rep_ids, rep_total = _all_ids(governed, headers, search=name)
    assert outside in admin_ids and outside not in rep_ids and rep_total == len(rep_ids)


RECORDS = """query($id: ID!) { customer(id: $id) {
  orders(first: 1) { nodes { id number customer { id } } }
  contacts(first: 20) { nodes { id email } }
  tickets(first: 1) { nodes { id number customer { id } } }
  timeline(first: 3) { totalCount } } }"""


def test_records_of_a_customer_outside_the_scope_are_hidden_on_every_path(governed: Facade, owned: Estate360) -> None:
    headers = rep(owned)
    # A customer outside the scope with an order, a contact with an e-mail and a ticket, as the admin sees it.
    for customer_id in owned.outside:
        seen = ask(governed, RECORDS, token("admin"), id=_customer(customer_id))["data"]["customer"]
        contacts = [c for c in seen["contacts"]["nodes"] if c["email"]]
        if seen["orders"]["nodes"] and contacts and seen["tickets"]["nodes"]:
            break
    else:
        pytest.fail("no customer outside the scope with an order, a contact and a ticket")
    order, contact, ticket = seen["orders"]["nodes"][0], contacts[0], seen["tickets"]["nodes"][0]
    lookups = {
        "node": ("query($v: ID!) { node(id: $v) { id } }", order["id"]),
        "contact node": ("query($v: ID!) { node(id: $v) { id } }", contact["id"]),
        "ticket node": ("query($v: ID!) { node(id: $v) { id } }", ticket["id"]),
        "orderByNumber": ("query($v: String!) { orderByNumber(number: $v) { id } }", order["number"]),
        "contactByEmail": ("query($v: String!) { contactByEmail(email: $v) { id } }", contact["email"]),
        "ticket": ("query($v: String!) { ticket(number: $v) { id } }", ticket["number"]),
    }
    for path, (query, value) in lookups.items():
        admin = ask(governed, query, token("admin"), v=value)["data"]
        hidden = ask(governed, query, headers, v=value)
        assert next(iter(admin.values())) is not None, path
        assert hidden == {"data": dict.fromkeys(admin, None)}, f"{path}: the rep must not see it"

    # Inside the scope, every nested path answers, and leads back to the same customer.
    for customer_id in sorted(owned.owned):
        inside = ask(governed, RECORDS, headers, id=_customer(customer_id))
        found = inside["data"]["customer"]
        if found["orders"]["nodes"]:
            assert "errors" not in inside
            assert found["orders"]["nodes"][0]["customer"] == {"id": _customer(customer_id)}
            assert found["timeline"]["totalCount"] > 0
            order_id = found["orders"]["nodes"][0]["id"]
            assert ask(governed, "query($v: ID!) { node(id: $v) { id } }", headers, v=order_id)["data"]["node"]
            break
    else:
        pytest.fail("no owned customer with an order")


def test_a_scoped_role_has_no_review_queue_and_its_mutations_cannot_reach_outside(
    governed: Facade, owned: Estate360
) -> None:
    headers = token("scoped_steward", "sam.scoped", owner_id=owned.owner)
    queue = ask(governed, "{ reviewCandidates(first: 5) { totalCount nodes { id } } }", headers)
    assert queue == {"data": {"reviewCandidates": {"totalCount": 0, "nodes": []}}}
    merge = """mutation($s: ID!, $a: [ID!]!) { customerMerge(input: {survivorId: $s, absorbedIds: $a, reason: "test"}) {
      customer { id } userErrors { field message code } } }"""
    inside = _customer(min(owned.owned))
    missing_id = max(owned.all_customers) + 10_000
    hidden = ask(governed, merge, headers, s=inside, a=[_customer(owned.outside[0])])["data"]["customerMerge"]
    absent = ask(governed, merge, headers, s=inside, a=[_customer(missing_id)])["data"]["customerMerge"]
    assert hidden["customer"] is None and absent["customer"] is None
    assert hidden["userErrors"] == [{"field": ["input", "absorbedIds", "0"], "code": "NOT_FOUND",
                                     "message": f"no customer has the id {owned.outside[0]}"}]  # fmt: skip
    assert absent["userErrors"] == [{"field": ["input", "absorbedIds", "0"], "code": "NOT_FOUND",
                                     "message": f"no customer has the id {missing_id}"}]  # fmt: skip
    reject = """mutation { reviewCandidateReject(input: {id: "UmV2aWV3Q2FuZGlkYXRlOjE", reason: "test"}) {
      userErrors { code } } }"""
    assert ask(governed, reject, headers)["data"]["reviewCandidateReject"]["userErrors"] == [{"code": "NOT_FOUND"}]


def _events(facade: Facade, since: datetime, customer: str | None = None) -> list[dict[str, Any]]:
    query = """query($since: DateTime, $c: ID, $after: String) { auditEvents(since: $since, customerId: $c, first: 100,
      after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { action subject roles customerIds fields
      masked outcome operationName operationHash clientAddress requestId } } }"""
    events: list[dict[str, Any]] = []
    after = None
    while True:
        page = ask(facade, query, token("admin", "auditor"), since=since.isoformat(), c=customer, after=after)
        connection = page["data"]["auditEvents"]
        events += connection["nodes"]
        if not connection["pageInfo"]["hasNextPage"]:
            assert connection["totalCount"] == len(events)
            return events
        after = connection["pageInfo"]["endCursor"]


def test_every_read_of_personal_data_leaves_an_event_naming_the_customers(governed: Facade, owned: Estate360) -> None:
    since = datetime.now(UTC)
    customers = sorted(owned.owned)[:4]
    for customer_id in customers:
        query = "query Look($id: ID!) { customer(id: $id) { name email } }"
        ask(governed, query, token("marketing", "mia.marketing"), id=_customer(customer_id))
    ask(governed, "{ customers(first: 2) { nodes { name } } }", token("marketing", "mia.marketing"))  # no personal data
    events = [e for e in _events(governed, since) if e["subject"] == "mia.marketing"]
    assert len(events) == len(customers), "one event per request that read personal data, none for names alone"
    for event, customer_id in zip(events, customers, strict=True):
        assert event["action"] == "READ" and event["masked"] is True and event["outcome"] == "ok"
        assert event["customerIds"] == [_customer(customer_id)] and event["fields"] == ["Customer.email"]
        assert event["operationName"] == "Look" and len(event["operationHash"]) == 64
        assert event["clientAddress"] == "127.0.0.1" and event["requestId"] and event["roles"] == ["marketing"]
    assert _events(governed, since, _customer(customers[1])) == [events[1]], "filtered by customer"


def test_a_list_of_contacts_read_in_the_clear_leaves_its_event_too(governed: Facade, owned: Estate360) -> None:
    """A page of contacts is read row by row (crmgraph.schema.walk): each e-mail's read is still noted."""
    since = datetime.now(UTC)
    customer_id = next(
        c for c in sorted(owned.owned)
        if any(p["email"] for p in ask(governed, CONTACTS, token("admin"), id=_customer(c))["data"]["customer"][
            "contacts"]["nodes"])
    )  # fmt: skip
    seen = ask(governed, CONTACTS, token("service_agent", "sid.agent"), id=_customer(customer_id))
    assert "errors" not in seen and "masked" not in seen.get("extensions", {})
    assert any(MASK not in (p["email"] or MASK) for p in seen["data"]["customer"]["contacts"]["nodes"])
    events = [e for e in _events(governed, since) if e["subject"] == "sid.agent"]
    assert [(e["action"], e["fields"], e["masked"]) for e in events] == [("READ", ["Contact.email"], False)]
    assert events[0]["customerIds"] == [_customer(customer_id)]


CONTACTS = "query($id: ID!) { customer(id: $id) { contacts(first: 20) { nodes { name email } } } }"


def test_denied_requests_and_fields_are_in_the_trail_and_only_the_auditor_reads_it(
    governed: Facade, owned: Estate360
) -> None:
    since = datetime.now(UTC)
    customer_id = sorted(owned.owned)[0]
    refused = httpx.post(f"{governed.url}/graphql", json={"query": "{ __typename }"}, timeout=30)
    assert refused.status_code == 401
    query = "query($id: ID!) { customer(id: $id) { invoices(first: 2) { nodes { gross { amount } } } } }"
    ask(governed, query, token("service_agent", "sid.agent"), id=_customer(customer_id))
    merge = 'mutation { customerMerge(input: {survivorId: "x", absorbedIds: [], reason: "r"}) { customer { id } } }'
    assert ask(governed, merge, token("marketing", "mia.marketing"))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    events = _events(governed, since)
    assert any(e["action"] == "DENIED" and e["subject"] == "" and e["outcome"] == "UNAUTHENTICATED" for e in events)
    agent = [e for e in events if e["subject"] == "sid.agent"]
    assert [(e["action"], e["outcome"]) for e in agent] == [("DENIED", "FORBIDDEN")]
    assert agent[0]["fields"] == ["Invoice.gross"] and agent[0]["customerIds"] == [_customer(customer_id)]
    mia = [e for e in events if e["subject"] == "mia.marketing"]
    assert [(e["action"], e["fields"], e["outcome"]) for e in mia] == [
        ("DENIED", ["Mutation.customerMerge"], "FORBIDDEN")
    ]
    for role in ("marketing", "sales_rep", "data_steward"):
        answer = ask(governed, "{ auditEvents(first: 1) { totalCount } }", token(role, owner_id=owned.owner))
        assert answer["data"] is None and answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", role


def test_a_policy_naming_a_field_the_schema_lacks_or_cannot_hide_fails_at_start() -> None:
    cases = {
        ("deny", "Invoice.nett"): "Invoice has no field 'nett'",
        ("deny", "Invoyce.net"): "no object type 'Invoyce'",
        ("deny", "Invoice.number"): "Invoice.number is non-null",
        ("mask", "Invoice.gross"): "only String fields can be masked",
    }
    for (kind, name), expected in cases.items():
        policy = PolicyConfig(roles={"r": RolePolicy(**{kind: (name,)})})
        with pytest.raises(ConfigError, match=expected) as raised:
            build_schema(policy=policy)
        assert raised.value.path == f"policy.roles.r.{kind}"
    with pytest.raises(ConfigError, match=r"audit\.personal_data"):
        build_schema(audited=["Contact.mail"])


def test_a_scope_becomes_the_store_filter_it_is_checked_by() -> None:
    from crmgraph.policy.principal import Principal
    from crmgraph.policy.roles import decide

    policy = PolicyConfig.model_validate(
        {"roles": {"rep": {"scope": [{"field": "owner_id", "attribute": "owner_id"}]},
                   "team": {"scope": [{"field": "country", "attribute": "countries"}]}, "all": {}}}
    )  # fmt: skip
    both = decide(Principal("p", frozenset({"rep", "team"}), "jwt", {"owner_id": 7, "countries": ["de", "fr"]}), policy)
    assert both.scope_clauses() == [{"owner_id": frozenset({"7"})}, {"country": frozenset({"DE", "FR"})}]
    assert both.admits({"owner_id": frozenset({"8"}), "country": frozenset({"FR"})})
    assert not both.admits({"owner_id": frozenset({"8"}), "country": frozenset({"CN"})})
    lacking = decide(Principal("p", frozenset({"rep"}), "jwt", {}), policy)
    assert lacking.scope_clauses() == [] and not lacking.admits({"owner_id": "7"})
    assert decide(Principal("p", frozenset({"rep", "all"}), "jwt", {}), policy).scope_clauses() is None


def test_the_scope_keys_agree_with_the_owner_the_graph_shows(governed: Facade, owned: Estate360) -> None:
    """The store's scope keys (written at link time) against the owner the CRM names, read live."""
    query = """query($after: String) { customers(first: 200, after: $after) {
      pageInfo { hasNextPage endCursor } nodes { id owner { id } } } }"""
    owner_id = encode_id("Owner", "crm", owned.owner)
    shown: set[str] = set()
    after = None
    while True:
        page = ask(governed, query, token("admin"), after=after)["data"]["customers"]
        shown |= {node["id"] for node in page["nodes"] if (node["owner"] or {}).get("id") == owner_id}
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert shown and shown <= {_customer(c) for c in owned.owned}
