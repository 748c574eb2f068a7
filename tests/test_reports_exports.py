"""Reports as files: the CSV's rows are the graph's figures, PNG and PDF are real files of their format with the
report's title, and the export asks who you are, keeps to your scope and field policy, and names a bad
parameter. The facade runs as a real server in front of the test estate (tests/reports_facade.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from crmgraph.analytics.reports import REPORTS
from crmgraph.policy.masking import MASK
from tests.conftest import Estate
from tests.facade import Facade
from tests.reports_data import Slots
from tests.reports_facade import reports_facade
from tests.test_governance import token

SLA = ["measured", "medianHours", "p90Hours", "withinSla", "breached"]
SLA_FIELDS = "tickets " + " ".join(f"{which} {{ {' '.join(SLA)} }}" for which in ("firstReply", "resolution"))

# Per report: the GraphQL selection, and per section of the CSV (report path to its rows, key field, fields)
EXPORTED: dict[str, tuple[str, list[tuple[str, str | None, str | None, list[str]]]]] = {
    "salesFunnel": (
        "deals won lost winRate stages { stage reached current amount conversionToNext medianDaysToNext } "
        "owners { ownerId open won lost wonAmount winRate }",
        [("stage", "stages", "stage", ["reached", "current", "amount", "conversionToNext", "medianDaysToNext"]),
         ("owner", "owners", "ownerId", ["open", "won", "lost", "wonAmount", "winRate"]),
         ("total", None, None, ["deals", "won", "lost", "winRate"])],
    ),
    "serviceReport": (
        f"{SLA_FIELDS} byGroup {{ key {SLA_FIELDS} }} byPriority {{ key {SLA_FIELDS} }} "
        f"byCategory {{ key {SLA_FIELDS} }} backlog {{ key open pastSla oldestHours }}",
        [("total", None, None, ["tickets"] + [f"{w}.{f}" for w in ("firstReply", "resolution") for f in SLA]),
         *((section, path, "key", ["tickets"] + [f"{w}.{f}" for w in ("firstReply", "resolution") for f in SLA])
           for section, path in (("group", "byGroup"), ("priority", "byPriority"), ("category", "byCategory"))),
         ("backlog", "backlog", "key", ["open", "pastSla", "oldestHours"])],
    ),
    "campaignRoi": (
        "cost attributedRevenue roi campaigns { name channel cost leads customers wonDeals wonRevenue "
        "invoicedRevenue attributedRevenue roi }",
        [("campaign", "campaigns", "name", ["channel", "cost", "leads", "customers", "wonDeals", "wonRevenue",
                                            "invoicedRevenue", "attributedRevenue", "roi"]),
         ("total", None, None, ["cost", "attributedRevenue", "roi"])],
    ),
    "customerValueReport": (
        "customers lifetimeRevenue predictedValue bands { label customers lifetimeRevenue predictedValue } "
        "top(first: 20) { name lifetimeRevenue predictedValue probabilityAlive expectedPurchases orders }",
        [("band", "bands", "label", ["customers", "lifetimeRevenue", "predictedValue"]),
         ("top", "top", "name", ["lifetimeRevenue", "predictedValue", "probabilityAlive", "expectedPurchases",
                                 "orders"]),
         ("total", None, None, ["customers", "lifetimeRevenue", "predictedValue"])],
    ),
    "complaintsAgainstRevenue": (
        "bands { label customers revenue complaints customersComplaining }",
        [("band", "bands", "label", ["customers", "revenue", "complaints", "customersComplaining"])],
    ),
    "churnRisk": (
        "atRisk revenueAtRisk customers(first: 20) { name probabilityAlive lifetimeRevenue revenueAtRisk "
        "daysSinceLastOrder openComplaints }",
        [("customer", "customers", "name", ["probabilityAlive", "lifetimeRevenue", "revenueAtRisk",
                                            "daysSinceLastOrder", "openComplaints"]),
         ("total", None, None, ["atRisk", "revenueAtRisk"])],
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def served(
    running_estate: Estate, linked_identity: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Facade, Slots]]:
    with reports_facade(running_estate, linked_identity, tmp_path_factory.mktemp("reports-exports")) as running:
        yield running


def headers(served: tuple[Facade, Slots], role: str) -> dict[str, str]:
    return token(role, **({"owner_id": served[1].a} if role == "sales_rep" else {}))


def export(served: tuple[Facade, Slots], path: str, role: str = "admin", **params: str) -> httpx.Response:
    return httpx.get(f"{served[0].url}/reports/{path}", params=params, headers=headers(served, role), timeout=60)


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def cell(found: Any) -> str:
    return "" if found is None else str(found)


def _get(row: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        row = row[part]
    return row


def expected_rows(name: str, answer: dict[str, Any]) -> list[dict[str, str]]:
    """The CSV rows the report's GraphQL answer says there should be."""
    _, sections = EXPORTED[name]
    columns = ["section", "key"]
    for _, _, _, fields in sections:
        columns += [f for f in fields if f not in columns]
    rows = []
    for section, path, key, fields in sections:
        for item in answer[path] if path else [answer]:
            row = dict.fromkeys(columns, "")
            row.update({"section": section, "key": cell(item[key]) if key else ""})
            row.update({f: cell(_get(item, f)) for f in fields})
            rows.append(row)
    return rows


@pytest.mark.parametrize("name", list(EXPORTED))
@pytest.mark.parametrize("role", ["admin", "sales_rep"])
def test_the_csv_rows_are_the_graphs_figures(served: tuple[Facade, Slots], name: str, role: str) -> None:
    selection, _ = EXPORTED[name]
    answer = served[0].query(f"{{ {name} {{ {selection} }} }}", headers=headers(served, role))
    assert "errors" not in answer
    assert rows_of(export(served, f"{name}.csv", role)) == expected_rows(name, answer["data"][name])


def test_the_csv_takes_the_filter_as_parameters(served: tuple[Facade, Slots]) -> None:
    rows = rows_of(export(served, "salesFunnel.csv", **{"from": "2024-01-01", "to": "2024-03-01T00:00:00Z"}))
    assert next(r for r in rows if r["section"] == "total")["deals"] == "5"
    rows = rows_of(export(served, "salesFunnel.csv", country="de", ownerId=served[1].a))
    assert next(r for r in rows if r["section"] == "total")["deals"] == "3"


def test_the_field_policy_applies_to_the_export(served: tuple[Facade, Slots]) -> None:
    analyst = rows_of(export(served, "campaignRoi.csv", "analyst"))
    assert "roi" not in analyst[0] and "attributedRevenue" in analyst[0], "a denied field's column is left out"
    marketing = rows_of(export(served, "customerValueReport.csv", "marketing"))
    top = [row["key"] for row in marketing if row["section"] == "top"]
    assert top and all(MASK in name for name in top), "CustomerValueRow.name is masked for marketing"


@pytest.mark.parametrize(("image_format", "magic"), [("png", b"\x89PNG\r\n\x1a\n"), ("pdf", b"%PDF-")])
def test_png_and_pdf_are_real_files_with_the_reports_title(
    served: tuple[Facade, Slots], image_format: str, magic: bytes
) -> None:
    response = export(served, f"serviceReport.{image_format}")
    assert response.status_code == 200, response.text
    assert response.content.startswith(magic)
    title = REPORTS["serviceReport"].title
    if image_format == "png":
        image = Image.open(io.BytesIO(response.content))
        assert image.format == "PNG" and image.size[0] > 800 and image.info["Title"] == title
    else:
        assert f"/Title ({title})".encode() in response.content
        assert response.content.rstrip().endswith(b"%%EOF")


def test_an_export_asks_who_you_are(served: tuple[Facade, Slots]) -> None:
    response = httpx.get(f"{served[0].url}/reports/salesFunnel.csv", timeout=30)
    assert response.status_code == 401 and "www-authenticate" in response.headers


@pytest.mark.parametrize(
    ("path", "params", "status", "part"),
    [
        ("salesFunnel.csv", {"country": "Germany"}, 400, "query.country"),
        ("salesFunnel.csv", {"from": "yesterday"}, 400, "query.from"),
        ("salesFunnel.csv", {"colour": "red"}, 400, "query.colour"),
        ("salesFunnel.csv", {"team": "west"}, 400, "query.team"),
        ("salesFunnel.csv", {"segmentId": "nope"}, 400, "query.segmentId"),
        ("salesFunnel.xlsx", {}, 404, "path"),
        ("noSuchReport.csv", {}, 404, "path"),
    ],
)
def test_a_bad_parameter_is_refused_by_name(
    served: tuple[Facade, Slots], path: str, params: dict[str, str], status: int, part: str
) -> None:
    response = export(served, path, **params)
    assert response.status_code == status
    error = response.json()["errors"][0]
    assert error["extensions"]["part"] == part
    if status == 400:
        assert error["message"].startswith(part.removeprefix("query.") + ":")
