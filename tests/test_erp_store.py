"""The ERP schema and seed load into SQLite, PostgreSQL and MariaDB, and the same queries agree."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Select, and_, create_engine, func, select

from crmgraph.demo.seed import load_erp
from crmgraph.demo.stores.erp import BSAD, KNA1, KNVK, VBAK, VBAP, VBRK

CUSTOMERS = 80
SEED = 11


def _paid_per_invoice() -> Any:
    return select(BSAD.c.VBELN, func.sum(BSAD.c.WRBTR).label("PAID")).group_by(BSAD.c.VBELN).subquery()


def _first_customers() -> Any:
    """The first customers in number order (a derived table: MariaDB refuses LIMIT inside IN)."""
    return select(KNA1.c.KUNNR).order_by(KNA1.c.KUNNR).limit(8).subquery()


def _invoices_of_one_order() -> Select[Any]:
    first_order = select(func.min(VBRK.c.ZZAUBEL)).scalar_subquery()
    return select(VBRK.c.VBELN, VBRK.c.FKART, VBRK.c.ZTERM).where(first_order == VBRK.c.ZZAUBEL)


def _open_items() -> Select[Any]:
    paid = _paid_per_invoice()
    # Rounded: SQLite keeps NUMERIC as binary floating point, so an exact payment can leave 1e-12 "open".
    balance = func.round(VBRK.c.NETWR + VBRK.c.MWSBK - func.coalesce(paid.c.PAID, 0), 2)
    return (
        select(VBRK.c.VBELN, VBRK.c.KUNRG, VBRK.c.WAERK, balance.label("OPEN"))
        .outerjoin(paid, paid.c.VBELN == VBRK.c.VBELN)
        .where(balance > 0)
        .order_by(VBRK.c.VBELN)
    )


QUERIES: dict[str, Callable[[], Select[Any]]] = {
    "customer master": lambda: select(KNA1).order_by(KNA1.c.KUNNR),
    "orders with lines of the first customers": lambda: (
        select(VBAK.c.VBELN, VBAK.c.ERDAT, VBAK.c.GBSTK, VBAP.c.POSNR, VBAP.c.MATNR, VBAP.c.KWMENG, VBAP.c.NETWR)
        .join(VBAP, VBAP.c.VBELN == VBAK.c.VBELN)
        .join(first := _first_customers(), first.c.KUNNR == VBAK.c.KUNNR)
        .order_by(VBAK.c.VBELN, VBAP.c.POSNR)
    ),
    "contact persons of the first customers with their debtor": lambda: (
        select(KNVK.c.PARNR, KNVK.c.NAMEV, KNVK.c.NAME1, KNVK.c.SMTP_ADDR, KNVK.c.ABTNR, KNA1.c.NAME1)
        .join(KNA1, KNA1.c.KUNNR == KNVK.c.KUNNR)
        .order_by(KNA1.c.KUNNR, KNVK.c.PARNR)
        .limit(30)
    ),
    "contact persons by department": lambda: (
        select(KNVK.c.ABTNR, func.count()).group_by(KNVK.c.ABTNR).order_by(KNVK.c.ABTNR)
    ),
    "revenue per customer and currency": lambda: (
        select(VBAK.c.KUNNR, VBAK.c.WAERK, func.count(), func.sum(VBAK.c.NETWR))
        .where(VBAK.c.ABSTK == "")
        .group_by(VBAK.c.KUNNR, VBAK.c.WAERK)
        .order_by(VBAK.c.KUNNR, VBAK.c.WAERK)
    ),
    "open invoice balances": _open_items,
    "open orders in a date range": lambda: (
        select(VBAK.c.VBELN, VBAK.c.KUNNR, VBAK.c.NETWR)
        .where(and_(VBAK.c.ERDAT.between("20250101", "20260630"), VBAK.c.GBSTK.in_(["A", "B"])))
        .order_by(VBAK.c.VBELN)
    ),
    "customers with a CRM cross-reference": lambda: (
        select(KNA1.c.KUNNR, KNA1.c.ZZCRMID).where(KNA1.c.ZZCRMID.is_not(None)).order_by(KNA1.c.KUNNR)
    ),
    "Chinese legal names": lambda: (
        select(KNA1.c.KUNNR, KNA1.c.NAME1).where(KNA1.c.NAME1.like("%有限公司%")).order_by(KNA1.c.KUNNR)
    ),
    # A case-insensitive collation would find no difference between an address and its lower case.
    "e-mail addresses not in lower case": lambda: (
        select(KNA1.c.KUNNR, KNA1.c.SMTP_ADDR)
        .where(func.lower(KNA1.c.SMTP_ADDR) != KNA1.c.SMTP_ADDR)
        .order_by(KNA1.c.KUNNR)
    ),
    "invoices of one order number": _invoices_of_one_order,
}


def _normalize(value: object) -> object:
    if isinstance(value, Decimal | float):
        return f"{Decimal(str(value)).quantize(Decimal('0.001')):f}"
    return value


def _run_all(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: [tuple(_normalize(v) for v in row) for row in conn.execute(query())]
                for name, query in QUERIES.items()
            }
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def sqlite_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[object, ...]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('erp') / 'erp.sqlite'}"
    load_erp(url, customers=CUSTOMERS, seed=SEED)
    return _run_all(url)


def test_every_query_has_rows_to_compare(sqlite_results: dict[str, list[tuple[object, ...]]]) -> None:
    empty = [name for name, rows in sqlite_results.items() if not rows]
    assert not empty, f"queries that return nothing prove nothing: {empty}"


@pytest.mark.services
@pytest.mark.parametrize("database", ["postgres_url", "mariadb_url"])
def test_same_queries_return_the_same_rows_as_on_sqlite(
    database: str, request: pytest.FixtureRequest, sqlite_results: dict[str, list[tuple[object, ...]]]
) -> None:
    url = request.getfixturevalue(database)
    rows = load_erp(url, customers=CUSTOMERS, seed=SEED)
    assert rows["KNA1"] == len(sqlite_results["customer master"]) and rows["KNVK"] > 0
    results = _run_all(url)
    for name, expected in sqlite_results.items():
        assert results[name] == expected, f"{name} differs on {url}"


def test_load_erp_command_reports_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "crmgraph",
            "demo",
            "load-erp",
            "--url",
            url,
            "--customers",
            "20",
            "--seed",
            "3",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "KNA1" in done.stdout and url in done.stdout


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a database URL"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "failed"),
    ],
)
def test_load_erp_command_explains_a_bad_url_without_a_traceback(url: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crmgraph", "demo", "load-erp", "--url", url, "--customers", "2"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
