"""GraphiQL served by crmgraph itself, so that it works on a machine with no internet.

The page and its assets (React, ReactDOM, GraphiQL; licences in ``static/THIRD_PARTY_LICENSES.txt``) are
installed with the package and served under :data:`ASSET_PATH`; the page names nothing outside the
facade. Example queries open as tabs, so a first visit has something to run.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
ASSET_PATH = "/graphiql/assets"
SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js")
STYLES = ("graphiql.min.css",)


@dataclass(frozen=True)
class Example:
    """A query opened as a GraphiQL tab."""

    title: str
    query: str


def assets_route() -> Mount:
    """The route serving the page's scripts and styles."""
    return Mount(ASSET_PATH, app=StaticFiles(directory=STATIC_DIR), name="graphiql-assets")


def page(
    endpoint: str, examples: Sequence[Example] = (), title: str = "crmgraph", headers: Mapping[str, str] | None = None
) -> str:
    """The GraphiQL page for ``endpoint``, with ``examples`` open as tabs (the first one shown), each with
    ``headers`` filled in (the demo's token)."""
    shown = orjson.dumps(dict(headers), option=orjson.OPT_INDENT_2).decode() if headers else ""
    tabs = [{"query": f"# {example.title}\n{example.query}\n", "headers": shown} for example in examples]
    # orjson escapes nothing HTML cares about; "</" inside a query would end the script element early.
    settings = orjson.dumps({"endpoint": endpoint, "tabs": tabs}).decode().replace("</", "<\\/")
    styles = "\n".join(f'  <link rel="stylesheet" href="{ASSET_PATH}/{name}" />' for name in STYLES)
    scripts = "\n".join(f'  <script src="{ASSET_PATH}/{name}"></script>' for name in SCRIPTS)
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>{html.escape(title)} - GraphiQL</title>
  <style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
{styles}
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
{scripts}
  <script>
    const settings = {settings};
    const fetcher = GraphiQL.createFetcher({{ url: settings.endpoint }});
    const props = {{ fetcher, defaultEditorToolsVisibility: true, shouldPersistHeaders: true }};
    if (settings.tabs.length) props.defaultTabs = settings.tabs;
    ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(GraphiQL, props));
  </script>
</body>
</html>
"""
