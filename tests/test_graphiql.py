"""GraphiQL is served by the facade itself: the page names nothing outside it, so it works offline."""

from __future__ import annotations

import re

import graphql
import httpx

from crmgraph.graphiql import ASSET_PATH, SCRIPTS, STYLES
from crmgraph.graphiql.examples import EXAMPLES
from crmgraph.schema import build_schema
from tests.facade import Facade


def _page(facade: Facade) -> str:
    response = httpx.get(f"{facade.url}/graphql", headers={"Accept": "text/html"}, timeout=10)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    return response.text


def test_the_page_loads_its_scripts_and_styles_from_the_facade_and_from_nowhere_else(facade: Facade) -> None:
    page = _page(facade)
    named = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(named) == sorted(f"{ASSET_PATH}/{name}" for name in (*SCRIPTS, *STYLES))
    assert not re.search(r"https?://", page), "a page that reaches out does not work offline"
    for path in named:
        asset = httpx.get(f"{facade.url}{path}", timeout=10)
        assert asset.status_code == 200 and len(asset.content) > 1000, path
        expected = "text/css" if path.endswith(".css") else "javascript"
        assert expected in asset.headers["content-type"], (path, asset.headers["content-type"])


def test_the_page_opens_with_the_example_queries_and_they_are_valid_against_the_schema(facade: Facade) -> None:
    page = _page(facade)
    schema = build_schema()
    for example in EXAMPLES:
        assert graphql.validate(schema._schema, graphql.parse(example.query)) == [], example.title
    assert 'customers(first: 3, search: \\"Energy\\")' in page, "the README's first query is the first tab"


def test_an_asset_that_is_not_there_is_a_404_not_a_directory_listing(facade: Facade) -> None:
    assert httpx.get(f"{facade.url}{ASSET_PATH}/", timeout=10).status_code == 404
    assert httpx.get(f"{facade.url}{ASSET_PATH}/../__init__.py", timeout=10).status_code == 404
