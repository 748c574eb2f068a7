"""Orders placed through the ``sql`` adapter, on SQLite, PostgreSQL and MariaDB: header and lines in one
transaction, numbers that concurrent writers never share, refusals that write nothing, and a write whose
answer was lost found again by its idempotency key."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy import exc as sa

from crmgraph.adapters.sdk.writes import WriteOp, WriteRefused
from crmgraph.adapters.sql import SqlAdapter
from crmgraph.adapters.sql import writes as sql_writes
from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.seed import load_erp
from crmgraph.demo.stores.erp import KNA1, VBAK, VBAP
from crmgraph.errors import UpstreamOutcomeUnknown
from crmgraph.records import OrderLineRecord, OrderRecord, OrderStatus
from tests.conftest import ESTATE_CUSTOMERS, ESTATE_SEED, database_named

OWN_DATABASE = "crmgraph_test_sql_writes"  # its own: writes here must not disturb the read tests' rows
DATABASES = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.services),
    pytest.param("mariadb", marks=pytest.mark.services),
]


@pytest.fixture(scope="module", params=DATABASES)
def erp_url(
    request: pytest.FixtureRequest, estate_layout: EstateLayout, tmp_path_factory: pytest.TempPathFactory
) -> str:
    if request.param == "sqlite":
        target = tmp_path_factory.mktemp("erp-writes") / "erp.sqlite"
        shutil.copy(estate_layout.erp_db, target)
        return f"sqlite:///{target}"
    url = database_named(request.getfixturevalue(f"{request.param}_url"), OWN_DATABASE)
    load_erp(url, customers=ESTATE_CUSTOMERS, seed=ESTATE_SEED)
    return url


def _scalar(url: str, statement: Any) -> Any:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(statement).scalar()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def debtor(erp_url: str) -> str:
    return str(_scalar(erp_url, select(KNA1.c.KUNNR).where(KNA1.c.LOEVM == "").order_by(KNA1.c.KUNNR).limit(1)))


@pytest.fixture(scope="module")
def skus(erp_url: str) -> list[str]:
    engine = create_engine(erp_url)
    try:
        with engine.connect() as conn:
            materials = select(VBAP.c.MATNR).distinct().order_by(VBAP.c.MATNR).limit(2)
            return [str(sku) for sku in conn.execute(materials).scalars()]
    finally:
        engine.dispose()


def _order(debtor: str, skus: list[str], key: str | None = None, **values: Any) -> WriteOp:
    lines = [{"sku": skus[0], "quantity": Decimal(3), "unit_price": Decimal("19.99")},
             {"sku": skus[1], "quantity": Decimal("1.5"), "unit_price": Decimal(200)}]  # fmt: skip
    return WriteOp("order", "create", {"lines": lines} | values, links={"party": debtor}, idempotency_key=key)


def _with_adapter(url: str, scenario: Any, **settings: Any) -> Any:
    async def main() -> Any:
        adapter = SqlAdapter("erp", {"url": url, **settings})
        await adapter.open()
        try:
            return await scenario(adapter)
        finally:
            await adapter.close()

    return asyncio.run(main())


def _orders(url: str) -> int:
    return int(_scalar(url, select(func.count()).select_from(VBAK)))


def test_an_order_is_written_with_its_lines_and_reads_back_as_the_next_number(
    erp_url: str, debtor: str, skus: list[str]
) -> None:
    top = int(_scalar(erp_url, select(func.max(VBAK.c.VBELN))))

    async def scenario(adapter: SqlAdapter) -> tuple[Any, Any]:
        order = await adapter.write(_order(debtor, skus, "key-1", customer_reference="PO-42", currency="EUR"))
        lines = (await adapter.fetch_related("order_line", "order", [order.source_id]))[0]
        return order, lines

    order, lines = _with_adapter(erp_url, scenario)
    assert isinstance(order, OrderRecord)
    assert order.number == str(top + 1) and order.source_id == f"{top + 1:010d}" and order.party_id == debtor
    assert order.status is OrderStatus.OPEN and order.customer_reference == "PO-42"
    assert order.total.amount == Decimal("359.97") and order.total.currency == "EUR"
    assert [(line.position, line.sku, line.quantity, line.amount.amount) for line in lines] == [
        (10, skus[0], Decimal(3), Decimal("59.97")), (20, skus[1], Decimal("1.5"), Decimal("300.00"))]  # fmt: skip
    assert all(isinstance(line, OrderLineRecord) and line.description for line in lines)
    stamp = _scalar(erp_url, select(VBAK.c.ZZAEDAT).where(VBAK.c.VBELN.in_([order.source_id])))
    assert stamp.strip(), "the trigger stamped the new row: a poller sees it"


def test_an_order_without_a_currency_is_in_the_debtors(erp_url: str, debtor: str, skus: list[str]) -> None:
    currency = _scalar(erp_url, select(KNA1.c.WAERS).where(KNA1.c.KUNNR.in_([debtor])))
    order = _with_adapter(erp_url, lambda adapter: adapter.write(_order(debtor, skus)))
    assert order.total.currency == currency


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        (lambda op: op.values["lines"][1].update(quantity=Decimal(0)), "INVALID", "lines.1.quantity"),
        (lambda op: op.values["lines"][0].update(quantity=Decimal(-2)), "INVALID", "lines.0.quantity"),
        (lambda op: op.values["lines"][0].update(currency="euro"), "INVALID", "lines.0.currency"),
        (lambda op: op.values["lines"][0].update(sku="NO-SUCH-MATERIAL"), "NOT_FOUND", "lines.0.sku"),
        (lambda op: op.links.update(party="9999999999"), "NOT_FOUND", "party"),
    ],
    ids=["zero-quantity", "negative-quantity", "currency-format", "unknown-material", "unknown-debtor"],
)
def test_a_refused_order_names_the_field_and_writes_nothing(
    erp_url: str, debtor: str, skus: list[str], change: Any, code: str, field: str
) -> None:
    op = _order(debtor, skus)
    op = WriteOp(op.entity, op.action, {"lines": [dict(line) for line in op.values["lines"]]},
                 links=dict(op.links))  # fmt: skip
    change(op)
    before = _orders(erp_url)
    with pytest.raises(WriteRefused) as refused:
        _with_adapter(erp_url, lambda adapter: adapter.write(op))
    assert [(r.code, r.field) for r in refused.value.refusals] == [(code, field)]
    assert _orders(erp_url) == before


def test_concurrent_orders_from_two_instances_get_distinct_numbers(erp_url: str, debtor: str, skus: list[str]) -> None:
    before = _orders(erp_url)

    async def scenario(first: SqlAdapter) -> list[Any]:
        second = SqlAdapter("erp", {"url": erp_url})  # another facade instance: its own engine and pool
        await second.open()
        try:
            writes = [adapter.write(_order(debtor, skus)) for _ in range(8) for adapter in (first, second)]
            return await asyncio.gather(*writes)
        finally:
            await second.close()

    orders = _with_adapter(erp_url, scenario)
    numbers = [order.number for order in orders]
    assert len(set(numbers)) == 16 and _orders(erp_url) == before + 16
    lines = int(_scalar(erp_url, select(func.count()).select_from(VBAP).where(VBAP.c.VBELN.in_(
        [order.source_id for order in orders]))))  # fmt: skip
    assert lines == 32, "every order has its own two lines, none mixed up"


def test_an_order_written_again_under_its_key_is_the_first_one_not_a_second(
    erp_url: str, debtor: str, skus: list[str]
) -> None:
    """What keeps a retry that overtakes its first attempt (still running after a timeout) from placing twice:
    the key is looked for inside the transaction, after the first attempt's commit."""
    before = _orders(erp_url)

    async def scenario(adapter: SqlAdapter) -> tuple[Any, Any]:
        first = await adapter.write(_order(debtor, skus, "twice-key"))
        return first, await adapter.write(_order(debtor, skus, "twice-key"))

    first, second = _with_adapter(erp_url, scenario)
    assert second.source_id == first.source_id and _orders(erp_url) == before + 1


@pytest.fixture
def lost_commit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The next COMMIT is applied, and then the connection drops before its answer arrives."""
    real = sql_writes.commit

    def commit_then_drop(connection: Any) -> None:
        real(connection)
        monkeypatch.setattr(sql_writes, "commit", real)
        raise sa.OperationalError("COMMIT", None, ConnectionResetError("connection reset by peer"))

    monkeypatch.setattr(sql_writes, "commit", commit_then_drop)
    yield


def test_a_commit_whose_answer_was_lost_is_unknown_and_found_by_its_key(
    erp_url: str, debtor: str, skus: list[str], lost_commit: None
) -> None:
    before = _orders(erp_url)

    async def scenario(adapter: SqlAdapter) -> Any:
        with pytest.raises(UpstreamOutcomeUnknown):
            await adapter.write(_order(debtor, skus, "lost-key"))
        return await adapter.find_written("order", "lost-key"), await adapter.find_written("order", "other-key")

    found, missing = _with_adapter(erp_url, scenario)
    assert _orders(erp_url) == before + 1
    assert isinstance(found, OrderRecord) and found.party_id == debtor and missing is None


def test_an_adapter_without_write_settings_cannot_place_orders(tmp_path: Path, erp_url: str) -> None:
    from crmgraph.adapters.sql.mapping import DEFAULT_MAPPING_DATA

    mapping = {**DEFAULT_MAPPING_DATA, "order": {k: v for k, v in DEFAULT_MAPPING_DATA["order"].items()
                                                 if k != "writes"}}  # fmt: skip
    adapter = SqlAdapter("erp", {"url": erp_url, "mapping": mapping})
    assert adapter.writable == frozenset()
