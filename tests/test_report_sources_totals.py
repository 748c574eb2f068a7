"""Daily totals pushed down to the SQL ERP (``aggregate_daily``): on SQLite, PostgreSQL and MariaDB, against
the demo ERP's schema and seeded rows, equal to a Python sum over the rows read directly."""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, select, text, update

from crmgraph.adapters.sql import SqlAdapter
from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.seed import load_erp
from crmgraph.demo.stores.erp import VBAK, VBRK
from crmgraph.errors import ClientError
from crmgraph.records import PartyDayTotal
from tests.conftest import ESTATE_CUSTOMERS, ESTATE_SEED, database_named
from tests.test_adapter_sql import run

T = TypeVar("T")
Totals = dict[tuple[str, date, str], tuple[int, Decimal]]
OWN_DATABASE = "crmgraph_test_report_totals"
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.services),
             pytest.param("mariadb", marks=pytest.mark.services)]  # fmt: skip


def _cancel_some_invoices(url: str) -> None:
    """The seed cancels no bill: cancel every seventh (FKSTO X), so that leaving them out is tested."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            numbers = list(conn.execute(select(VBRK.c.VBELN).order_by(VBRK.c.VBELN)).scalars())
            conn.execute(update(VBRK).where(VBRK.c.VBELN.in_(numbers[::7])).values(FKSTO="X"))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def sqlite_erp(estate_layout: EstateLayout, tmp_path_factory: pytest.TempPathFactory) -> str:
    target = tmp_path_factory.mktemp("erp-totals") / "erp.sqlite"
    shutil.copy(estate_layout.erp_db, target)
    url = f"sqlite:///{target}"
    _cancel_some_invoices(url)
    return url


@pytest.fixture(scope="module", params=DATABASES)
def erp_url(request: pytest.FixtureRequest, sqlite_erp: str) -> str:
    if request.param == "sqlite":
        return sqlite_erp
    url = database_named(request.getfixturevalue(f"{request.param}_url"), OWN_DATABASE)
    load_erp(url, customers=ESTATE_CUSTOMERS, seed=ESTATE_SEED)
    _cancel_some_invoices(url)
    return url


def python_totals(url: str, entity: str) -> tuple[Totals, int]:
    """The totals summed here from every row, and how many rows were left out as cancelled."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if entity == "order":
                rows = conn.execute(select(VBAK.c.KUNNR, VBAK.c.ERDAT, VBAK.c.WAERK, VBAK.c.NETWR, VBAK.c.ABSTK))
            else:
                rows = conn.execute(select(VBRK.c.KUNRG, VBRK.c.FKDAT, VBRK.c.WAERK, VBRK.c.NETWR, VBRK.c.FKSTO))
            totals: defaultdict[tuple[str, date, str], tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal(0)))
            cancelled = 0
            for party, day, currency, amount, flag in rows:
                if (flag or "").strip():  # ABSTK C (rejected) or FKSTO X (cancelled bill)
                    cancelled += 1
                    continue
                key = (party.strip(), datetime.strptime(day, "%Y%m%d").date(), currency.strip())
                count, total = totals[key]
                totals[key] = (count + 1, total + Decimal(str(amount)))
    finally:
        engine.dispose()
    return dict(totals), cancelled


def as_totals(rows: list[PartyDayTotal]) -> Totals:
    assert len({(r.party_id, r.day, r.total.currency) for r in rows}) == len(rows)  # one row per key
    return {(r.party_id, r.day, r.total.currency): (r.count, r.total.amount) for r in rows}


@pytest.mark.parametrize("entity", ["order", "invoice"])
def test_daily_totals_equal_a_sum_over_the_rows_in_one_statement(erp_url: str, entity: str) -> None:
    expected, cancelled = python_totals(erp_url, entity)
    rows, log = run(erp_url, lambda erp: erp.aggregate_daily(entity))
    assert cancelled > 0 and len(expected) > 100
    assert as_totals(rows) == expected
    assert rows == sorted(rows, key=lambda r: (r.party_id, r.day, r.total.currency))
    assert {r.source for r in rows} == {"erp"}
    assert [call.request for call in log.calls] == [f"SELECT {'VBAK' if entity == 'order' else 'VBRK'}"]


def test_totals_of_some_parties_are_theirs_alone(erp_url: str) -> None:
    expected, _ = python_totals(erp_url, "order")
    parties = sorted({party for party, _, _ in expected})[:5]
    rows, _ = run(erp_url, lambda erp: erp.aggregate_daily("order", [*parties, "not-a-debtor", parties[0]]))
    assert as_totals(rows) == {key: value for key, value in expected.items() if key[0] in parties}


def test_many_parties_are_totalled_a_batch_at_a_time(sqlite_erp: str) -> None:
    expected, _ = python_totals(sqlite_erp, "invoice")
    parties = sorted({party for party, _, _ in expected}) + [f"X{n:09d}" for n in range(600)]
    rows, log = run(sqlite_erp, lambda erp: erp.aggregate_daily("invoice", parties))
    assert as_totals(rows) == expected
    assert len(log.calls) == 2  # 600+ parties: two statements of at most 500


def test_totals_follow_the_configured_mapping_not_the_sap_names(sqlite_erp: str, tmp_path: Any) -> None:
    target = tmp_path / "renamed.sqlite"
    shutil.copy(sqlite_erp.removeprefix("sqlite:///"), target)
    url = f"sqlite:///{target}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TABLE sales_orders AS SELECT VBELN AS order_no, KUNNR AS customer, ERDAT AS booked_on,"
            " ERZET AS booked_at, NETWR AS amount, WAERK AS cur, GBSTK AS state, ABSTK AS rejected FROM VBAK"
        ))  # fmt: skip
    engine.dispose()
    mapping = {
        "order": {
            "table": "sales_orders", "id": "order_no", "number": "order_no", "party": "customer",
            "fields": {"placed_at": ["booked_on", "booked_at"], "total": "amount", "currency": "cur"},
            "status": {"column": "state", "values": {"A": "OPEN", "B": "IN_PROGRESS", "C": "COMPLETED"},
                       "cancelled_when": {"rejected": "C"}},
        }
    }  # fmt: skip
    expected, _ = python_totals(sqlite_erp, "order")
    rows, log = run(url, lambda erp: erp.aggregate_daily("order"), mapping=mapping)
    assert as_totals(rows) == expected
    assert [call.request for call in log.calls] == ["SELECT sales_orders"]


def test_an_entity_the_source_cannot_total_is_refused(sqlite_erp: str) -> None:
    async def ask(erp: SqlAdapter) -> None:
        assert erp.aggregatable == frozenset({"order", "invoice"})
        assert await erp.aggregate_daily("order", []) == []
        with pytest.raises(ClientError, match="cannot total party"):
            await erp.aggregate_daily("party")

    run(sqlite_erp, ask)
