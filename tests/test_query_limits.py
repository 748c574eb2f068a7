"""Query limits: a document past a limit is refused before it runs, with the limit's code and values.

The heavy documents are the ones issue 11 measured against the facade; each is sent to the real facade
over HTTP and must be refused with no upstream call at all (the estate's own counters, the ERP's statement
log and explain agree). Documents people write — the README's first query, the customer 360 page,
GraphiQL's schema query — pass under the defaults. Nothing here measures time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query, parse

from crmgraph.config import ConfigErrors, parse_config
from crmgraph.context import RequestContext
from crmgraph.policy import QueryLimits, measure_operation
from crmgraph.policy.cost import MAX_FRAGMENT_NESTING
from crmgraph.schema import build_schema
from tests.conftest import Estate
from tests.facade import Facade, facade_config, serve_facade
from tests.test_graph_costs import CUSTOMER_360_PAGE, erp_statements  # noqa: F401 (a fixture)

README_FIRST_QUERY = """
{
  customers(first: 3, search: "Energy") {
    totalCount
    nodes {
      name country sources { system recordId }
      orders(first: 2) { nodes { number placedAt total { amount currencyCode } } }
      tickets(first: 2) { nodes { subject status } }
    }
  }
}
"""


def _aliases(count: int, field: str) -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }"


def _nested(depth: int, first: int) -> str:
    """customers -> nodes -> contacts -> nodes -> customer -> contacts ... ``depth`` fields deep."""
    inner = "name"
    levels = 2
    while levels + 3 <= depth - 1:
        inner = f"contacts(first: {first}) {{ nodes {{ customer {{ {inner} }} }} }}"
        levels += 3
    return f"{{ customers(first: {first}) {{ nodes {{ {inner} }} }} }}"


def _doubling_fragments(levels: int) -> str:
    """Each fragment spreads the one before it twice: 2^levels customer pages once written out."""
    fragments = ["fragment F0 on Query { customers(first: 100) { nodes { name email } } }"]
    fragments += [
        f"fragment F{i} on Query {{ ...F{i - 1} ... on Query {{ ...F{i - 1} }} }}" for i in range(1, levels + 1)
    ]
    return f"{{ ...F{levels} }} " + " ".join(fragments)


# The cases issue 11 measured, as a new user sent them, and the limit each must meet first.
HEAVY = {
    "10,000 aliases of customers(first:1){totalCount}": (
        _aliases(10_000, "customers(first: 1) { totalCount }"),
        "TOO_MANY_TOKENS",
    ),
    "depth 31 with first: 2": (_nested(31, 2), "QUERY_TOO_DEEP"),
    "depth 25 with first: 3": (_nested(25, 3), "QUERY_TOO_DEEP"),
    "5,000 aliases of contactByEmail": (
        _aliases(5_000, 'contactByEmail(email: "a@example.com") { name }'),
        "TOO_MANY_TOKENS",
    ),
    "doubling fragments": (_doubling_fragments(20), "QUERY_TOO_COSTLY"),
    "1,000 aliases of a 100-customer page": (
        _aliases(1_000, "customers(first: 100) { nodes { name email } }"),
        "TOO_MANY_TOKENS",
    ),
    "25 aliases of a 100-customer page": (
        _aliases(25, "customers(first: 100) { nodes { name email } }"),
        "TOO_MANY_ROOT_FIELDS",
    ),
    "18 aliases of a 100-customer 360 page": (
        _aliases(18, "customers(first: 100) { nodes { name orders(first: 20) { nodes { number } } } }"),
        "QUERY_TOO_COSTLY",
    ),
}


def _post(facade: Facade, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"query": query, "variables": variables or {}, "extensions": {"explain": True}}
    response = httpx.post(f"{facade.url}/graphql", json=body, timeout=60)
    assert response.status_code < 500, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize("case", list(HEAVY))
def test_the_measured_heavy_queries_are_refused_before_any_upstream_call(
    case: str,
    facade: Facade,
    estate: Estate,
    erp_statements: list[str],  # noqa: F811 (the fixture)
) -> None:
    document, code = HEAVY[case]
    result = _post(facade, document)
    assert result.get("data") is None
    [error] = result["errors"]
    assert error["extensions"]["code"] == code, error
    assert error["extensions"]["actual"] > error["extensions"]["limit"]
    assert f"limit of {error['extensions']['limit']}" in error["message"]
    assert estate.stats("crm")["total"] == 0 and estate.stats("tickets")["total"] == 0
    assert erp_statements == []
    assert result.get("extensions", {}).get("upstream", {}).get("calls", []) == []


@pytest.mark.parametrize("document", [README_FIRST_QUERY, CUSTOMER_360_PAGE], ids=["readme", "customer-360"])
def test_the_queries_people_write_pass_and_explain_shows_their_estimate(facade: Facade, document: str) -> None:
    result = _post(facade, document)
    assert "errors" not in result, result.get("errors")
    assert result["data"]["customers"]["nodes"]
    cost = result["extensions"]["cost"]
    assert 0 < cost["estimated"] <= cost["limit"] == QueryLimits().max_cost


def test_graphiqls_schema_query_passes(facade: Facade) -> None:
    result = _post(facade, get_introspection_query(descriptions=True, input_value_deprecation=True))
    assert "errors" not in result, result.get("errors")
    assert result["data"]["__schema"]["queryType"]["name"] == "Query"


# Each limit alone, against a schema built with a small setting of it. The context has no loaders: a
# resolver that ran would fail on it, so a clean refusal proves that none did.


def _run(limits: QueryLimits, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    schema = build_schema(limits)
    context = RequestContext(loaders=None)  # type: ignore[arg-type]
    result = asyncio.run(schema.execute(document, variable_values=variables, context_value=context))
    assert result.data is None, result
    assert result.errors is not None and len(result.errors) == 1, result.errors
    extensions: dict[str, Any] = result.errors[0].extensions or {}
    return extensions


LIMITS = {
    "max_tokens": (QueryLimits(max_tokens=10), "{ customers { nodes { name email phone } } }", "TOO_MANY_TOKENS", 11),
    "max_depth": (QueryLimits(max_depth=2), "{ customers { nodes { owner { name } } } }", "QUERY_TOO_DEEP", 3),
    "max_aliases": (
        QueryLimits(max_aliases=1),
        "{ a: customers { totalCount } b: customers { totalCount } }",
        "TOO_MANY_ALIASES",
        2,
    ),
    "max_root_fields": (
        QueryLimits(max_root_fields=2),
        "{ __typename customers { totalCount } customer(id: 1) { id } }",
        "TOO_MANY_ROOT_FIELDS",
        3,
    ),
    "max_directives": (
        QueryLimits(max_directives=1),
        "{ customers @skip(if: false) { totalCount @include(if: true) } }",
        "TOO_MANY_DIRECTIVES",
        2,
    ),
    "max_cost": (
        QueryLimits(max_cost=100),
        "{ customers(first: 50) { nodes { owner { name } } } }",
        "QUERY_TOO_COSTLY",
        101,
    ),
}


@pytest.mark.parametrize("setting", list(LIMITS))
def test_each_limit_is_refused_with_its_code_its_value_and_the_count(setting: str) -> None:
    limits, document, code, actual = LIMITS[setting]
    extensions = _run(limits, document)
    assert extensions == {"code": code, "limit": getattr(limits, setting), "actual": actual}


def test_the_cost_multiplies_the_page_sizes_given_in_variables_and_defaults() -> None:
    document = "query($n: Int = 10) { customers(first: $n) { nodes { orders { nodes { lines { sku } } } } } }"
    # 1 connection + n customers x (1 + orders connection 1 + 20 default orders x (1 + 3 lines))
    assert _run(QueryLimits(max_cost=1), document, {"n": 5})["actual"] > 1
    limits = QueryLimits(max_cost=1 + 5 * (1 + 1 + 20 * (1 + 3)) - 1)
    assert _run(limits, document, {"n": 5})["actual"] == 1 + 5 * (1 + 1 + 20 * (1 + 3))
    # The walk stops at the first part past the limit: the whole query, here, at 1 + 10 x 82.
    assert _run(QueryLimits(max_cost=820), document)["actual"] == 1 + 10 * (1 + 1 + 20 * (1 + 3))


def test_a_page_past_the_servers_cap_costs_the_cap_and_is_left_to_the_resolver() -> None:
    extensions = _run(QueryLimits(max_cost=200), "{ customers(first: 100000) { nodes { owner { name } } } }")
    assert extensions["actual"] == 1 + 100 * 2  # capped at the default page cap of 100


def test_fields_left_out_by_skip_or_include_cost_nothing() -> None:
    schema = build_schema()._schema
    document = parse(
        "query($all: Boolean!) { customers(first: 100) { nodes { name owner @include(if: $all) { name } } } }"
    )
    assert measure_operation(schema, document, None, {"all": True}, QueryLimits(), 100) == 1 + 100 * (1 + 1)
    assert measure_operation(schema, document, None, {"all": False}, QueryLimits(), 100) == 1 + 100 * 1


def test_doubling_fragments_are_measured_once_each_and_refused_by_cost() -> None:
    # 2^40 pages once written out: the walk measures each fragment once and stops at the limit.
    extensions = _run(QueryLimits(), _doubling_fragments(40))
    assert extensions["code"] == "QUERY_TOO_COSTLY"
    assert extensions["limit"] < extensions["actual"] <= 2 * extensions["limit"] + 1


def test_fragments_spread_in_a_long_chain_are_refused_before_the_walk_runs_deep() -> None:
    assert _run(QueryLimits(max_tokens=None), _doubling_fragments(400))["code"] == "FRAGMENTS_TOO_DEEP"
    levels = MAX_FRAGMENT_NESTING + 10
    fragments = ["fragment F0 on Query { __typename }"]
    fragments += [f"fragment F{i} on Query {{ ...F{i - 1} }}" for i in range(1, levels + 1)]
    extensions = _run(QueryLimits(), f"{{ ...F{levels} }} " + " ".join(fragments))
    assert extensions == {
        "code": "FRAGMENTS_TOO_DEEP",
        "limit": MAX_FRAGMENT_NESTING,
        "actual": MAX_FRAGMENT_NESTING + 1,
    }


def test_a_fragment_cycle_is_left_to_validation() -> None:
    document = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A customers { totalCount } }"
    schema = build_schema()
    result = asyncio.run(schema.execute(document, context_value=RequestContext(loaders=None)))  # type: ignore[arg-type]
    assert result.errors and "Cannot spread fragment" in result.errors[0].message


def test_the_limits_section_of_the_config_is_validated_with_the_path_at_fault() -> None:
    base = "sources: {crm: {adapter: hubspot}}\n"
    config = parse_config(base + "limits: {max_depth: 8, max_cost: null}")
    assert config.limits.max_depth == 8 and config.limits.max_cost is None
    assert parse_config(base).limits == QueryLimits()
    with pytest.raises(ConfigErrors) as refused:
        parse_config(base + "limits: {max_depth: 0, max_cost: lots, max_dept: 3}")
    paths = sorted(problem.path for problem in refused.value.problems)
    assert paths == ["limits.max_cost", "limits.max_dept", "limits.max_depth"]


def test_a_get_request_meets_the_same_limits(facade: Facade, estate: Estate) -> None:
    response = httpx.get(f"{facade.url}/graphql", params={"query": _nested(31, 2)}, timeout=60)
    assert response.status_code < 500, response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_DEEP", "limit": 15, "actual": 16}
    assert estate.stats("crm")["total"] == 0 and estate.stats("tickets")["total"] == 0


def test_the_served_facade_applies_the_limits_of_its_config(estate: Estate, linked_identity: str) -> None:
    config = facade_config(estate.crm_url, estate.tickets_url, estate.layout.erp_url, linked_identity)
    with serve_facade(config.model_copy(update={"limits": QueryLimits(max_depth=2)})) as facade:
        [error] = _post(facade, "{ customers { nodes { owner { name } } } }")["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_DEEP", "limit": 2, "actual": 3}
