"""The ``sql`` adapter against the demo ERP on SQLite, PostgreSQL and MariaDB: the same records from each,
one statement per batch, per-key errors, and a mapping checked against the database."""

from __future__ import annotations

import asyncio
import copy
import math
import re
import shutil
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from sqlalchemy import Column, Date, MetaData, String, Table, create_engine, func, select, text, update

from crmgraph.adapters.sdk.calls import CallLog, UpstreamCall, current_call_log
from crmgraph.adapters.sdk.testing import AdapterContract, ContractSamples
from crmgraph.adapters.sql import JOINED_ROW_LIMIT, MAX_BATCH, SqlAdapter
from crmgraph.adapters.sql.mapping import DEFAULT_MAPPING, DEFAULT_MAPPING_DATA, SqlMapping
from crmgraph.adapters.sql.newest import day_column
from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.seed import load_erp
from crmgraph.demo.stores.erp import BSAD, KNA1, KNVK, VBAK, VBRK
from crmgraph.errors import (
    AdapterContractError,
    ConfigError,
    UpstreamBadResponse,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from crmgraph.records import (
    InvoiceRecord,
    OrderLineRecord,
    OrderRecord,
    OrderStatus,
    PartyRecord,
    PersonRecord,
    Record,
)
from tests.conftest import ESTATE_CUSTOMERS, ESTATE_SEED, database_named

T = TypeVar("T")
EXAMPLE = Path(__file__).parent.parent / "examples" / "erp-mapping.yaml"
OWN_DATABASE = "crmgraph_test_adapter_sql"
DOWN = {
    "sqlite": "sqlite:////nonexistent-crmgraph-dir/erp.sqlite",
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:1/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:1/test",
}
DATABASES = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.services),
    pytest.param("mariadb", marks=pytest.mark.services),
]


def with_persons(url: str) -> str:
    """``url``, its KNVK holding contact persons: the seed's, or (a seed from before it filled KNVK) persons
    made up here for the first 60 customers, one to three each, Chinese names at Chinese customers."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if conn.execute(select(func.count()).select_from(KNVK)).scalar():
                return url
            debtors = conn.execute(select(KNA1.c.KUNNR, KNA1.c.LAND1, KNA1.c.ERDAT).order_by(KNA1.c.KUNNR).limit(60))
            rows: list[dict[str, Any]] = []
            for n, (kunnr, country, erdat) in enumerate(debtors):
                for k in range(1 + n % 3):
                    first, last = MADE_UP_NAMES["CN" if country == "CN" else "other"][(n + k) % 3]
                    rows.append({"PARNR": f"{900_000 + len(rows):010d}", "KUNNR": kunnr, "NAMEV": first,
                                 "NAME1": last, "TELF1": f"+49 30 {n:04d}{k}", "ABTNR": f"{k + 1:04d}",
                                 "SMTP_ADDR": f"p{n}.{k}@example.test" if k != 2 else None,
                                 "PAFKT": ("Head of purchasing", "Buyer", "")[k], "ERDAT": erdat})  # fmt: skip
            conn.execute(KNVK.insert(), rows)
    finally:
        engine.dispose()
    return url


# (first name, surname): a surname alone (no first name) among them, as legacy tables hold some.
MADE_UP_NAMES = {
    "CN": [("海燕", "黄"), ("伟", "王"), (None, "李")],
    "other": [("Ada", "Lovelace"), ("Grace", "Hopper"), (None, "Turing")],
}


@pytest.fixture(scope="module")
def server_erp(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """The URL of the demo ERP loaded into ``postgres`` or ``mariadb`` (loaded once per module)."""
    loaded: dict[str, str] = {}

    def url_of(database: str) -> str:
        if database not in loaded:
            url = database_named(request.getfixturevalue(f"{database}_url"), OWN_DATABASE)
            load_erp(url, customers=ESTATE_CUSTOMERS, seed=ESTATE_SEED)
            loaded[database] = with_persons(url)
        return loaded[database]

    return url_of


@pytest.fixture(scope="module")
def sqlite_url(estate_layout: EstateLayout, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The estate's SQLite ERP, copied for this module (other modules share the estate's file) with persons."""
    target = tmp_path_factory.mktemp("erp") / "erp.sqlite"
    shutil.copy(estate_layout.erp_db, target)
    return with_persons(f"sqlite:///{target}")


@pytest.fixture(scope="module", params=DATABASES)
def erp_url(request: pytest.FixtureRequest, sqlite_url: str, server_erp: Callable[[str], str]) -> str:
    """The demo estate's ERP: the seeded SQLite file, or the same rows in PostgreSQL / MariaDB."""
    return sqlite_url if request.param == "sqlite" else server_erp(request.param)


@pytest.fixture
def erp_copy(sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    """A scratch copy of the SQLite ERP, for tests that damage rows."""
    target = tmp_path / "erp.sqlite"
    shutil.copy(sqlite_url.removeprefix("sqlite:///"), target)
    yield f"sqlite:///{target}"


def _change(url: str, statement: Any) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(statement)
    finally:
        engine.dispose()


def _scalars(url: str, statement: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement).scalars())
    finally:
        engine.dispose()


def run(url: str, scenario: Callable[[SqlAdapter], Awaitable[T]], **settings: Any) -> tuple[T, CallLog]:
    """Open an adapter on ``url``, run ``scenario`` with a call log (after open: no INSPECT in it), close."""

    async def main() -> tuple[T, CallLog]:
        adapter = SqlAdapter("erp", {"url": url, **settings})
        await adapter.open()
        log = CallLog()
        token = current_call_log.set(log)
        try:
            return await scenario(adapter), log
        finally:
            current_call_log.reset(token)
            await adapter.close()

    return asyncio.run(main())


async def calls_of(step: Awaitable[T]) -> tuple[T, list[UpstreamCall]]:
    """The result of ``step`` and the upstream calls it made."""
    log = current_call_log.get()
    assert log is not None
    before = len(log.calls)
    result = await step
    return result, log.calls[before:]


def lists(results: list[Any]) -> list[list[Any]]:
    assert all(isinstance(result, list) for result in results), results
    return results


async def scan_all(adapter: SqlAdapter, size: int = 37, entity: str = "party") -> list[Record]:
    records: list[Record] = []
    cursor: str | None = None
    while True:
        page = await adapter.scan(entity, cursor, size)
        records += page.records
        if page.next_cursor is None:
            return records
        cursor = page.next_cursor


async def whole_erp(adapter: SqlAdapter) -> dict[str, list[Any]]:
    """Every record reachable from the customers, through every related path."""
    parties = await scan_all(adapter)
    party_ids = [party.source_id for party in parties]
    orders = lists(await adapter.fetch_related("order", "party", party_ids))
    order_ids = [order.source_id for listed in orders for order in listed]
    invoices = lists(await adapter.fetch_related("invoice", "party", party_ids))
    invoice_ids = [invoice.source_id for listed in invoices for invoice in listed]
    return {
        "parties": parties,
        "persons": await scan_all(adapter, 41, "person"),
        "persons by party": await adapter.fetch_related("person", "party", party_ids),
        "orders": orders,
        "lines": await adapter.fetch_related("order_line", "order", order_ids),
        "invoices": invoices,
        "invoices by order": await adapter.fetch_related("invoice", "order", order_ids),
        "payments": await adapter.fetch_related("payment", "invoice", invoice_ids),
        "orders by id": await adapter.fetch("order", order_ids),
        "orders by number": await adapter.fetch_related("order", "number", [o.lstrip("0") for o in order_ids]),
        # Joined reads answer one customer a statement: the first few are enough to compare databases.
        "lines with their orders": await adapter.fetch_related("order_line", "order.party", party_ids[:40]),
        "payments with their invoices": await adapter.fetch_related("payment", "invoice.party", party_ids[:40]),
    }


@pytest.fixture(scope="module")
def sqlite_erp(sqlite_url: str) -> dict[str, list[Any]]:
    erp, _ = run(sqlite_url, whole_erp)
    return erp


def first(url: str, column: Any, count: int) -> list[str]:
    """The first ``count`` values of a key column in key order: seeded ids are scattered, so tests look them up."""
    return _scalars(url, select(column).distinct().order_by(column).limit(count))


def customers_with_orders(url: str, count: int) -> list[str]:
    return first(url, VBAK.c.KUNNR, count)


def small_customers(url: str, count: int = 50) -> list[str]:
    """``count`` customers without a big account's order book (the tests check their keys fit one batch)."""
    orders = func.count(VBAK.c.VBELN)
    query = select(KNA1.c.KUNNR).outerjoin(VBAK, VBAK.c.KUNNR == KNA1.c.KUNNR).group_by(KNA1.c.KUNNR)
    return _scalars(url, query.having(orders <= 30).order_by(KNA1.c.KUNNR).limit(count))


# --- the same records everywhere --------------------------------------------------------------------------


@pytest.mark.services
@pytest.mark.parametrize("database", ["postgres", "mariadb"])
def test_every_path_gives_the_same_records_on_postgres_and_mariadb_as_on_sqlite(
    database: str, server_erp: Callable[[str], str], sqlite_erp: dict[str, list[Any]]
) -> None:
    erp, _ = run(server_erp(database), whole_erp)
    assert sum(len(listed) for listed in sqlite_erp["lines"]) > 1000, "a comparison of nothing proves nothing"
    assert len(sqlite_erp["persons"]) > 50 and any(sqlite_erp["persons by party"])
    for name, expected in sqlite_erp.items():
        assert erp[name] == expected, f"{name} differ on {database}"
        assert repr(erp[name]) == repr(expected), f"{name} print differently on {database}"


def test_scanning_pages_through_every_customer_exactly_once_in_one_statement_a_page(erp_url: str) -> None:
    parties, log = run(erp_url, scan_all)
    ids = [party.source_id for party in parties]
    expected = _scalars(erp_url, select(KNA1.c.KUNNR).where(KNA1.c.LOEVM == "").order_by(KNA1.c.KUNNR))
    assert ids == expected and len(set(ids)) == len(ids) > 100
    assert [call.request for call in log.calls] == ["SELECT KNA1"] * math.ceil(len(ids) / 37)


# --- people at the customers (KNVK) -----------------------------------------------------------------------

CJK = re.compile("[\u3400-\u9fff]")


def stored_persons(url: str) -> dict[str, dict[str, Any]]:
    """Every KNVK row by PARNR, as the database holds it."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(KNVK).order_by(KNVK.c.PARNR)).mappings().all()
    finally:
        engine.dispose()
    return {row["PARNR"].rstrip(): dict(row) for row in rows}


def expected_person(row: dict[str, Any]) -> PersonRecord:
    def text(column: str) -> str | None:
        value = row[column]
        return value.rstrip() or None if isinstance(value, str) else None

    first, last = text("NAMEV"), text("NAME1")
    if first and last:  # a Chinese name is written surname first, unspaced, as the ticket system writes it
        name = f"{last}{first}" if CJK.search(first + last) else f"{first} {last}"
    else:
        name = first or last or ""
    erdat = datetime.strptime(row["ERDAT"], "%Y%m%d").replace(tzinfo=UTC)
    return PersonRecord(
        "erp", row["PARNR"].rstrip(), name=name, first_name=first, last_name=last, email=text("SMTP_ADDR"),
        phone=text("TELF1"), job_title=text("PAFKT"), party_id=row["KUNNR"].rstrip(), created_at=erdat,
        updated_at=datetime.strptime(row["ZZAEDAT"] + row["ZZAEZET"], "%Y%m%d%H%M%S").replace(tzinfo=UTC),
    )  # fmt: skip


def test_scanning_persons_pages_through_every_contact_person_once_in_one_statement_a_page(erp_url: str) -> None:
    stored = stored_persons(erp_url)
    persons, log = run(erp_url, lambda adapter: scan_all(adapter, 29, "person"))
    assert persons == [expected_person(row) for row in stored.values()]
    assert [call.request for call in log.calls] == ["SELECT KNVK"] * math.ceil(len(stored) / 29)
    names = [person.name for person in persons if isinstance(person, PersonRecord)]
    assert any(CJK.search(name) for name in names) and any(" " in name for name in names)


def test_the_persons_of_sixty_customers_cost_one_statement_and_come_by_id(erp_url: str) -> None:
    stored = stored_persons(erp_url)
    customers = list(dict.fromkeys(row["KUNNR"].rstrip() for row in stored.values()))[:60]
    some = list(stored)[:7]

    async def scenario(adapter: SqlAdapter) -> tuple[list[Any], list[UpstreamCall], list[Any], list[UpstreamCall]]:
        by_party, party_calls = await calls_of(adapter.fetch_related("person", "party", [*customers, "0000000000"]))
        by_id, id_calls = await calls_of(adapter.fetch("person", [*some, "nope", some[0]]))
        return by_party, party_calls, by_id, id_calls

    (by_party, party_calls, by_id, id_calls), _ = run(erp_url, scenario)
    assert by_party == [
        [expected_person(row) for row in stored.values() if row["KUNNR"].rstrip() == customer]
        for customer in customers
    ] + [[]]  # fmt: skip
    assert by_id == [expected_person(stored[parnr]) for parnr in some] + [None, expected_person(stored[some[0]])]
    assert [call.request for call in party_calls + id_calls] == ["SELECT KNVK", "SELECT KNVK"]


def test_parties_carry_their_street_address_and_postal_code(erp_url: str) -> None:
    engine = create_engine(erp_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(KNA1.c.KUNNR, KNA1.c.STRAS, KNA1.c.PSTLZ).where(KNA1.c.LOEVM == "")).all()
    finally:
        engine.dispose()
    parties, _ = run(erp_url, scan_all)
    assert {p.source_id: (p.address, p.postal_code) for p in parties if isinstance(p, PartyRecord)} == {
        kunnr.rstrip(): (street.rstrip() or None if street else None, code.rstrip() or None if code else None)
        for kunnr, street, code in rows
    }
    assert any(isinstance(p, PartyRecord) and p.address and p.postal_code for p in parties)


def test_a_person_without_any_name_fails_its_own_key_and_is_left_out_of_a_scan(
    erp_copy: str, caplog: pytest.LogCaptureFixture
) -> None:
    nameless, other = list(stored_persons(erp_copy))[:2]
    _change(erp_copy, update(KNVK).where(KNVK.c.PARNR.in_([nameless])).values(NAMEV=None, NAME1="  "))

    async def scenario(adapter: SqlAdapter) -> tuple[list[Any], list[Record]]:
        return await adapter.fetch("person", [nameless, other]), await scan_all(adapter, 1000, "person")

    (by_id, scanned), _ = run(erp_copy, scenario)
    assert isinstance(by_id[0], UpstreamBadResponse) and f"KNVK {nameless}: NAME1 is empty" in str(by_id[0])
    assert isinstance(by_id[1], PersonRecord)
    assert nameless not in {person.source_id for person in scanned}
    assert f"scan person skips {nameless}" in caplog.text


# --- statements per operation -----------------------------------------------------------------------------


def test_fifty_customers_cost_one_statement_per_level_orders_lines_invoices_payments(erp_url: str) -> None:
    customers = small_customers(erp_url)
    assert len(customers) == 50

    async def scenario(adapter: SqlAdapter) -> dict[str, tuple[int, list[str]]]:
        levels: dict[str, tuple[int, list[str]]] = {}  # level -> (keys asked, statements made)

        async def level(name: str, entity: str, by: str, keys: list[str]) -> list[str]:
            found, calls = await calls_of(adapter.fetch_related(entity, by, keys))
            ids = [record.source_id for listed in lists(found) for record in listed]
            levels[name] = (len(keys), [call.request for call in calls])
            return ids

        orders = await level("orders", "order", "party", customers)
        await level("lines", "order_line", "order", orders)
        invoices = await level("invoices", "invoice", "party", customers)
        await level("payments", "payment", "invoice", invoices)
        return levels

    levels, _ = run(erp_url, scenario)
    assert 150 <= levels["lines"][0] <= MAX_BATCH and 100 <= levels["payments"][0] <= MAX_BATCH, levels
    assert {name: requests for name, (_, requests) in levels.items()} == {
        "orders": ["SELECT VBAK"], "lines": ["SELECT VBAP"], "invoices": ["SELECT VBRK"], "payments": ["SELECT BSAD"],
    }  # fmt: skip


def test_the_lines_of_a_customer_with_a_thousand_orders_cost_a_statement_per_batch_not_per_order(erp_url: str) -> None:
    whale = _scalars(erp_url, select(VBAK.c.KUNNR).group_by(VBAK.c.KUNNR).order_by(func.count().desc()).limit(1))[0]

    async def scenario(adapter: SqlAdapter) -> tuple[int, list[Any], list[UpstreamCall]]:
        (orders,) = lists(await adapter.fetch_related("order", "party", [whale]))
        lines, calls = await calls_of(adapter.fetch_related("order_line", "order", [o.source_id for o in orders]))
        return len(orders), lines, calls

    (orders, lines, calls), _ = run(erp_url, scenario)
    assert orders > MAX_BATCH
    assert len(calls) == math.ceil(orders / MAX_BATCH)
    assert all(isinstance(listed, list) and listed for listed in lines)  # every order has its lines


def test_a_joined_read_gives_each_customer_the_children_of_all_its_parents_in_one_statement(
    sqlite_erp: dict[str, list[Any]],
) -> None:
    """``order_line`` by ``order.party``: the lines of every order of the customer, as the per-order reads
    give them; likewise the payments of every invoice."""
    for parents, children, joined in (("orders", "lines", "lines with their orders"),
                                      ("invoices", "payments", "payments with their invoices")):  # fmt: skip
        per_parent = dict(zip(
            [parent.source_id for listed in sqlite_erp[parents] for parent in listed], sqlite_erp[children], strict=True
        ))  # fmt: skip
        compared = 0
        for listed, together in zip(sqlite_erp[parents], sqlite_erp[joined], strict=False):
            if len(together) > JOINED_ROW_LIMIT:
                continue  # cut short: the caller reads these per parent (the next test)
            expected = [child for parent in listed for child in per_parent[parent.source_id]]
            assert sorted(together, key=lambda c: c.source_id) == sorted(expected, key=lambda c: c.source_id)
            compared += len(together)
        assert compared > 20, f"{joined}: a comparison of nothing proves nothing"


def test_a_joined_read_of_a_big_account_stops_past_its_row_limit(erp_url: str) -> None:
    whale = _scalars(erp_url, select(VBAK.c.KUNNR).group_by(VBAK.c.KUNNR).order_by(func.count().desc()).limit(1))[0]

    async def scenario(adapter: SqlAdapter) -> tuple[int | None, list[Any], list[UpstreamCall]]:
        found, calls = await calls_of(adapter.fetch_related("order_line", "order.party", [whale, whale]))
        return adapter.path("order_line", "order.party").row_limit, found, calls

    (limit, (lines, again), calls), _ = run(erp_url, scenario)
    assert limit is not None and isinstance(lines, list) and len(lines) == limit + 1 and again == lines
    assert [call.request for call in calls] == ["SELECT VBAP"]


# --- alignment, lookups, reading ---------------------------------------------------------------------------


def test_fetch_answers_each_id_in_the_order_asked_with_none_for_unknown_and_repeats_for_duplicates(
    erp_url: str,
) -> None:
    party1, party2 = first(erp_url, KNA1.c.KUNNR, 2)
    order1, order2 = first(erp_url, VBAK.c.VBELN, 2)
    invoice1, invoice2 = first(erp_url, VBRK.c.VBELN, 2)
    (payment,) = first(erp_url, BSAD.c.BELNR, 1)
    unpadded = order1.lstrip("0")

    async def scenario(adapter: SqlAdapter) -> dict[str, tuple[list[str], list[Any]]]:
        asked: dict[str, list[str]] = {
            "party": [party2, "nope", party1, party2],
            "order": [order2, order1, unpadded, order2],
            "order_line": [f"{order1}/000010", order1, f"{order1}/999999", f"{order1}/000010"],
            "invoice": [invoice2, invoice1, "", invoice2],
            "payment": [payment, "x/y", payment],
        }
        return {entity: (ids, await adapter.fetch(entity, ids)) for entity, ids in asked.items()}

    answers, log = run(erp_url, scenario)
    for entity, (ids, results) in answers.items():
        assert len(results) == len(ids)
        for asked, result in zip(ids, results, strict=True):
            if result is None:
                assert asked in ("nope", unpadded, order1, f"{order1}/999999", "", "x/y"), (entity, asked)
            else:
                assert isinstance(result, Record) and result.source_id == asked, (entity, asked, result)
        assert results[0] is not None and results[-1] == results[0]
    assert len(log.calls) == len(answers)  # one statement per entity, duplicates asked once


def test_an_order_is_found_by_the_number_people_quote_or_by_the_padded_one(erp_url: str) -> None:
    padded_number = first(erp_url, VBAK.c.VBELN, 3)[-1]
    number = padded_number.lstrip("0")

    async def scenario(adapter: SqlAdapter) -> list[Any]:
        return await adapter.fetch_related("order", "number", [number, padded_number, f" {number}", "99999999999"])

    (short, padded, spaced, unknown), log = run(erp_url, scenario)
    assert isinstance(short, list) and len(short) == 1 and short == padded
    order = short[0]
    assert isinstance(order, OrderRecord) and (order.source_id, order.number) == (padded_number, number)
    assert spaced == [] and unknown == []
    assert len(log.calls) == 1


def test_records_read_sap_values_as_domain_values(erp_url: str) -> None:
    cancelled = _scalars(erp_url, select(VBAK.c.VBELN).where(VBAK.c.ABSTK == "C").order_by(VBAK.c.VBELN).limit(1))
    invoiced = first(erp_url, VBRK.c.VBELN, 1)
    some_order = first(erp_url, VBAK.c.VBELN, 3)[-1]

    async def scenario(adapter: SqlAdapter) -> list[Any]:
        orders = await adapter.fetch("order", [some_order, *cancelled])
        lines = await adapter.fetch_related("order_line", "order", [some_order])
        invoices = await adapter.fetch("invoice", invoiced)
        return [*orders, lines[0], *invoices]

    (order, rejected, lines, invoice), _ = run(erp_url, scenario)
    assert isinstance(order, OrderRecord) and isinstance(rejected, OrderRecord) and isinstance(invoice, InvoiceRecord)
    raw = _scalars(erp_url, select(VBAK.c.ERDAT + VBAK.c.ERZET).where(some_order == VBAK.c.VBELN))[0]
    assert order.placed_at.strftime("%Y%m%d%H%M%S") == raw and order.placed_at.utcoffset() is not None
    assert rejected.status == OrderStatus.CANCELLED
    assert isinstance(lines, list) and [line.position for line in lines] == sorted(line.position for line in lines)
    line = lines[0]
    assert isinstance(line, OrderLineRecord) and line.source_id == f"{some_order}/{line.position:06d}"
    assert line.amount.amount == (line.unit_price.amount * line.quantity).quantize(Decimal("0.01"))
    assert invoice.gross.amount == invoice.net.amount + invoice.tax.amount
    for money in (order.total, line.amount, invoice.net, invoice.tax, invoice.gross):
        assert money.amount.as_tuple().exponent == -2, money  # cents, also from SQLite's floats
    assert invoice.number == invoice.source_id.lstrip("0")


def test_related_lists_come_in_reading_order(erp_url: str) -> None:
    customers = small_customers(erp_url, 20)

    async def scenario(adapter: SqlAdapter) -> tuple[list[Any], list[Any], list[Any]]:
        orders = lists(await adapter.fetch_related("order", "party", customers))
        invoices = lists(await adapter.fetch_related("invoice", "party", customers))
        ids = [invoice.source_id for listed in invoices for invoice in listed]
        return orders, invoices, lists(await adapter.fetch_related("payment", "invoice", ids))

    (orders, invoices, payments), _ = run(erp_url, scenario)
    for listed in orders:
        newest_first = sorted(((o.placed_at, o.source_id) for o in listed), reverse=True)
        assert [(o.placed_at, o.source_id) for o in listed] == newest_first
    for listed in invoices:
        assert [i.issued_at for i in listed] == sorted((i.issued_at for i in listed), reverse=True)
    for listed in payments:
        assert [p.paid_at for p in listed] == sorted(p.paid_at for p in listed)
    assert any(len(listed) > 2 for listed in orders)


@pytest.mark.parametrize("entity", ["order", "invoice"])
def test_each_keys_newest_records_come_with_those_of_the_last_ones_day_in_one_statement(
    erp_url: str, entity: str
) -> None:
    """``newest``: each key's latest records and the rest of the day of the last one kept; never one fewer."""
    customers = small_customers(erp_url)
    moment = {"order": "placed_at", "invoice": "issued_at"}[entity]

    async def scenario(adapter: SqlAdapter) -> tuple[list[Any], list[Any], list[UpstreamCall]]:
        whole = lists(await adapter.fetch_related(entity, "party", customers))
        cut, calls = await calls_of(adapter.fetch_related(entity, "party", customers, newest=3))
        return whole, lists(cut), calls

    (whole, cut, calls), _ = run(erp_url, scenario)
    assert [call.operation for call in calls] == [f"fetch_related {entity} by party, newest 3"] and len(calls) == 1
    assert sum(map(len, cut)) < sum(map(len, whole)), "fewer rows than every customer's whole list"
    for every, kept in zip(whole, cut, strict=True):
        assert kept == every[: len(kept)], "the newest, in reading order"
        assert kept[:3] == every[:3]
        if len(kept) < len(every):  # cut: past the third, only the rest of its day
            last_day = getattr(every[2], moment).date()
            assert all(getattr(record, moment).date() == last_day for record in kept[3:])
            assert getattr(every[len(kept)], moment).date() < last_day
    assert any(len(every) > len(kept) for every, kept in zip(whole, cut, strict=True))


def test_a_row_the_mapping_filters_out_takes_no_rank_among_the_newest(erp_copy: str) -> None:
    """A cancelled invoice (the mapping's ``where: {FKSTO: ""}``) is not one of a customer's newest three,
    and does not push one out: the three newest that exist are read."""
    days = func.count(func.distinct(VBRK.c.FKDAT))
    customer = _scalars(erp_copy, select(VBRK.c.KUNRG).group_by(VBRK.c.KUNRG).having(days >= 5).limit(1))[0]
    newest = select(VBRK.c.VBELN).where(customer == VBRK.c.KUNRG).order_by(VBRK.c.FKDAT.desc(), VBRK.c.VBELN.desc())
    cancelled = _scalars(erp_copy, newest.limit(1))[0]
    _change(erp_copy, update(VBRK).where(cancelled == VBRK.c.VBELN).values(FKSTO="X"))

    async def scenario(adapter: SqlAdapter) -> tuple[list[Any], list[Any]]:
        whole = lists(await adapter.fetch_related("invoice", "party", [customer]))[0]
        return whole, lists(await adapter.fetch_related("invoice", "party", [customer], newest=3))[0]

    (whole, cut), _ = run(erp_copy, scenario)
    assert cancelled not in {invoice.source_id for invoice in whole + cut}
    assert len(whole) >= 4 and cut[:3] == whole[:3]


def test_without_a_day_that_sorts_as_time_every_record_is_read(erp_copy: str) -> None:
    """A date written day first (``%d.%m.%Y``) does not sort in SQL as time does: every record is read."""
    mapping = copy.deepcopy(DEFAULT_MAPPING_DATA)
    mapping["date_format"] = "%d%m%Y"
    adapter = SqlAdapter("erp", {"url": erp_copy, "mapping": mapping})
    table = Table("VBAK", MetaData(), Column("ERDAT", String))
    assert day_column(adapter.specs["order"], "order", {"ERDAT": table.c.ERDAT.type}, adapter.mapping) is None
    default = SqlAdapter("erp", {"url": erp_copy})
    assert day_column(default.specs["order"], "order", {"ERDAT": String()}, default.mapping) == "ERDAT"
    assert day_column(default.specs["order"], "order", {"ERDAT": Date()}, default.mapping) == "ERDAT"


# --- failures ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite", "postgres", "mariadb"])
def test_a_database_that_is_down_gives_each_key_an_upstream_unavailable_naming_the_source(database: str) -> None:
    async def scenario(adapter: SqlAdapter) -> list[Any]:
        results = [
            *(await adapter.fetch("party", ["0000100001", "0000100002"])),
            *(await adapter.fetch_related("order", "party", ["0000100001"])),
        ]
        with pytest.raises(UpstreamUnavailable):  # a scan has no per-key slot: the caller gets the error
            await adapter.scan("party")
        return results

    results, log = run(DOWN[database], scenario)
    assert len(results) == 3
    assert all(isinstance(error, UpstreamUnavailable) and error.source == "erp" for error in results), results
    # Each logged statement failed: typed as the source being unavailable, or (the catalogue inspection
    # at open) as a plain error.
    assert log.calls and all(call.outcome in {"UPSTREAM_UNAVAILABLE", "error"} for call in log.calls)


def test_a_mapping_with_a_wrong_column_is_refused_at_open_naming_the_entity_and_the_column(erp_url: str) -> None:
    mapping = copy.deepcopy(DEFAULT_MAPPING_DATA)
    mapping["order"]["fields"]["total"] = "NETWRX"
    mapping["order_line"]["id"] = ["VBELN", "POSNRX"]

    with pytest.raises(ConfigError) as refused:
        run(erp_url, lambda adapter: asyncio.sleep(0), mapping=mapping)
    message = str(refused.value)
    assert message.startswith("sources.erp.mapping.order.fields.total: column NETWRX not in table VBAK")
    assert "did you mean NETWR?" in message
    assert "sources.erp.mapping.order_line.id[1]: column POSNRX not in table VBAP" in message


def test_a_mapping_naming_a_missing_table_is_refused_with_a_suggestion(erp_url: str) -> None:
    mapping = copy.deepcopy(DEFAULT_MAPPING_DATA)
    mapping["payment"]["table"] = "bsad"
    suggestion = r"mapping\.payment\.table: table bsad not in the database \(did you mean BSAD\?\)"
    with pytest.raises(ConfigError, match=suggestion):
        run(erp_url, lambda adapter: asyncio.sleep(0), mapping=mapping)


def test_a_mapping_found_wrong_only_after_an_outage_fails_each_key_as_rejected(tmp_path: Path, erp_copy: str) -> None:
    later = tmp_path / "not-yet" / "erp.sqlite"
    mapping = copy.deepcopy(DEFAULT_MAPPING_DATA)
    mapping["party"]["fields"]["name"] = "NAME9"

    async def scenario(adapter: SqlAdapter) -> tuple[list[Any], list[Any]]:
        during = await adapter.fetch("party", ["0000100001"])
        later.parent.mkdir()
        shutil.copy(erp_copy.removeprefix("sqlite:///"), later)
        return during, await adapter.fetch("party", ["0000100001", "0000100002"])

    (during, after), _ = run(f"sqlite:///{later}", scenario, mapping=mapping)
    assert isinstance(during[0], UpstreamUnavailable)
    assert all(isinstance(error, UpstreamRejected) and "NAME9" in str(error) for error in after), after


def test_a_row_that_cannot_be_read_fails_its_own_key_only(erp_copy: str) -> None:
    _, unreadable_lines, unreadable, sound = first(erp_copy, VBAK.c.VBELN, 4)
    owner = _scalars(erp_copy, select(VBAK.c.KUNNR).where(unreadable == VBAK.c.VBELN))[0]
    other = next(customer for customer in customers_with_orders(erp_copy, 2) if customer != owner)
    _change(erp_copy, update(VBAK).where(unreadable == VBAK.c.VBELN).values(GBSTK="Z"))
    # SQLite keeps whatever it is given, even text in a NUMERIC column: legacy data at its worst.
    _change(erp_copy, text(f"UPDATE VBAP SET KWMENG = 'many' WHERE VBELN = '{unreadable_lines}'"))

    async def scenario(adapter: SqlAdapter) -> tuple[list[Any], list[Any], list[Any]]:
        return (
            await adapter.fetch("order", [unreadable, sound]),
            await adapter.fetch_related("order", "party", [owner, other]),
            await adapter.fetch_related("order_line", "order", [unreadable_lines, sound]),
        )

    (by_id, by_party, lines), _ = run(erp_copy, scenario)
    assert isinstance(by_id[0], UpstreamBadResponse) and f"VBAK {unreadable}: GBSTK is 'Z'" in str(by_id[0])
    assert isinstance(by_id[1], OrderRecord)
    assert isinstance(by_party[0], UpstreamBadResponse) and isinstance(by_party[1], list) and by_party[1]
    assert isinstance(lines[0], UpstreamBadResponse) and "KWMENG" in str(lines[0]) and isinstance(lines[1], list)


def test_rows_the_mapping_filters_out_do_not_exist_not_even_by_id(erp_copy: str) -> None:
    kept, deleted = first(erp_copy, KNA1.c.KUNNR, 2)
    cancelled, issued = first(erp_copy, VBRK.c.VBELN, 2)
    _change(erp_copy, update(KNA1).where(deleted == KNA1.c.KUNNR).values(LOEVM="X"))
    _change(erp_copy, update(VBRK).where(cancelled == VBRK.c.VBELN).values(FKSTO="X"))

    async def scenario(adapter: SqlAdapter) -> tuple[list[Any], list[Record], list[Any]]:
        return (
            await adapter.fetch("party", [kept, deleted]),
            await scan_all(adapter),
            await adapter.fetch("invoice", [cancelled, issued]),
        )

    (parties, scanned, invoices), _ = run(erp_copy, scenario)
    assert isinstance(parties[0], PartyRecord) and parties[1] is None
    everyone = _scalars(erp_copy, select(func.count()).select_from(KNA1))[0]
    assert deleted not in {party.source_id for party in scanned} and len(scanned) == everyone - 1
    assert invoices[0] is None and isinstance(invoices[1], InvoiceRecord)


@pytest.mark.services
@pytest.mark.parametrize("database", ["postgres", "mariadb"])
def test_a_statement_running_past_the_timeout_is_an_upstream_timeout(
    database: str, server_erp: Callable[[str], str]
) -> None:
    url = server_erp(database)
    # A view whose every read takes far longer than the timeout: a long sleep, or billions of row triples.
    slow = (
        'CREATE VIEW "SLOW_KNA1" AS SELECT k.*, pg_sleep(30)::text AS "Z" FROM "KNA1" k'
        if database == "postgres"
        else "CREATE VIEW SLOW_KNA1 AS SELECT k.* FROM KNA1 k WHERE "
        "(SELECT COUNT(*) FROM VBAP a, VBAP b, VBAP c WHERE a.NETWR + b.NETWR > c.NETWR) >= 0"
    )
    mapping = {"party": {**DEFAULT_MAPPING_DATA["party"], "table": "SLOW_KNA1"}}
    _change(url, text('DROP VIEW IF EXISTS "SLOW_KNA1"' if database == "postgres" else "DROP VIEW IF EXISTS SLOW_KNA1"))
    _change(url, text(slow))
    try:
        fetch = lambda adapter: adapter.fetch("party", ["0000100001"])  # noqa: E731
        results, _ = run(url, fetch, mapping=mapping, statement_timeout_s=0.2)
    finally:  # the view would stop the next load from dropping KNA1
        _change(url, text('DROP VIEW "SLOW_KNA1"' if database == "postgres" else "DROP VIEW SLOW_KNA1"))
    assert isinstance(results[0], UpstreamTimeout) and results[0].source == "erp", results


# --- the mapping -----------------------------------------------------------------------------------------------


def test_the_example_mapping_file_is_the_default_mapping() -> None:
    assert SqlMapping.model_validate(yaml.safe_load(EXAMPLE.read_text())) == DEFAULT_MAPPING


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("order.fields.totl", "NETWR", "order.fields.totl: Extra inputs are not permitted"),
        ("order.status.values.D", "DONE", "order.status.values.D: Input should be 'OPEN'"),
        ("invoice.party", None, "invoice.party: Input should be a valid string"),
        (
            "order.fields.placed_at",
            ["A", "B", "C"],
            "order.fields.placed_at: name a date column, or [date column, time column]; not 3",
        ),
        ("timezone", "Mars/Olympus", "timezone: unknown time zone 'Mars/Olympus'"),
        ("party.id", [], "party.id: name a column, or a list of columns"),
    ],
)
def test_a_malformed_mapping_is_refused_naming_the_key(where: str, value: object, message: str) -> None:
    mapping = copy.deepcopy(DEFAULT_MAPPING_DATA)
    *parents, key = where.split(".")
    section = mapping
    for name in parents:
        section = section[name]
    section[key] = value
    with pytest.raises(ConfigError) as refused:
        SqlAdapter("erp", {"url": "sqlite://", "mapping": mapping})
    assert str(refused.value).startswith(f"sources.erp.mapping.{message}"), str(refused.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda person: person.pop("party"), r"person\.party: Field required$"),
        (lambda person: person["fields"].pop("last_name"), r"person\.fields\.last_name: Field required$"),
        (lambda person: person["fields"].update(name="NAME1"), r"person\.fields\.name: Extra inputs are not permitted"),
        (lambda person: person["fields"].update(created_at=["A", "B", "C"]),
         r"person\.fields\.created_at: name a date column, or \[date column, time column\]; not 3"),
    ],
)  # fmt: skip
def test_a_malformed_person_mapping_is_refused_naming_the_key(change: Callable[[Any], Any], message: str) -> None:
    mapping = copy.deepcopy(DEFAULT_MAPPING_DATA)
    change(mapping["person"])
    with pytest.raises(ConfigError, match=r"^sources\.erp\.mapping\." + message):
        SqlAdapter("erp", {"url": "sqlite://", "mapping": mapping})


def test_a_person_mapping_with_a_wrong_column_is_refused_at_open_with_a_suggestion(erp_url: str) -> None:
    mapping = copy.deepcopy(DEFAULT_MAPPING_DATA)
    mapping["person"]["fields"]["email"] = "SMTP_ADR"
    mapping["person"]["party"] = "KUNR"
    with pytest.raises(ConfigError) as refused:
        run(erp_url, lambda adapter: asyncio.sleep(0), mapping=mapping)
    message = str(refused.value)
    assert message.startswith("sources.erp.mapping.person.fields.email: column SMTP_ADR not in table KNVK")
    assert "(did you mean SMTP_ADDR?)" in message
    assert "also sources.erp.mapping.person.party: column KUNR not in table KNVK (did you mean KUNNR?)" in message


def test_a_mapping_missing_a_required_column_is_refused_naming_it() -> None:
    mapping = copy.deepcopy(DEFAULT_MAPPING_DATA)
    del mapping["invoice"]["party"]
    with pytest.raises(ConfigError, match=r"^sources\.erp\.mapping\.invoice\.party: Field required$"):
        SqlAdapter("erp", {"url": "sqlite://", "mapping": mapping})


def test_only_the_paths_a_mapping_maps_are_served(estate_layout: EstateLayout) -> None:
    mapping = {"party": DEFAULT_MAPPING_DATA["party"], "invoice": {**DEFAULT_MAPPING_DATA["invoice"], "order": None}}
    adapter = SqlAdapter("erp", {"url": estate_layout.erp_url, "mapping": mapping})
    assert adapter.serves("party") and adapter.serves("invoice", "party")
    assert not adapter.serves("order") and not adapter.serves("invoice", "order")
    assert not adapter.serves("person") and not adapter.serves("person", "party")
    assert adapter.scannable == {"party"}, "a scan of what the mapping leaves out would fail"
    with pytest.raises(AdapterContractError, match="cannot reach order by party"):
        adapter.path("order", "party")
    default = SqlAdapter("erp", {"url": estate_layout.erp_url})
    assert default.serves("person") and default.serves("person", "party") and default.scannable == {"party", "person"}


@pytest.mark.parametrize(
    ("settings", "in_flight"),
    [({}, 8), ({"pool_size": 3}, 3), ({"max_concurrency": 2}, 2), ({"max_concurrency": 4, "pool_size": 10}, 4)],
)
def test_statements_in_flight_never_outnumber_the_pooled_connections(settings: dict[str, int], in_flight: int) -> None:
    adapter = SqlAdapter("erp", {"url": "sqlite://", **settings})
    assert adapter.max_concurrency == in_flight and adapter.pool_size >= in_flight


# --- the adapter contract, on every database -----------------------------------------------------------------


class TestSqlAdapterContract(AdapterContract):
    @pytest.fixture
    def make_adapter(self, erp_url: str) -> Callable[[], SqlAdapter]:
        return lambda: SqlAdapter("erp", {"url": erp_url})

    @pytest.fixture
    def make_unreachable_adapter(self) -> Callable[[], SqlAdapter]:
        return lambda: SqlAdapter("erp", {"url": DOWN["postgres"]})

    @pytest.fixture
    def contract_samples(self, erp_url: str) -> ContractSamples:
        parties = customers_with_orders(erp_url, 5)
        orders = _scalars(erp_url, select(VBAK.c.VBELN).where(VBAK.c.KUNNR.in_(parties)).order_by(VBAK.c.VBELN))
        invoices = _scalars(erp_url, select(BSAD.c.VBELN).distinct().order_by(BSAD.c.VBELN).limit(8))
        lines = [f"{order}/000010" for order in orders[:8]]
        payments = _scalars(erp_url, select(BSAD.c.BELNR).order_by(BSAD.c.BELNR).limit(8))
        persons = _scalars(erp_url, select(KNVK.c.PARNR).order_by(KNVK.c.PARNR).limit(8))
        people_of = _scalars(erp_url, select(KNVK.c.KUNNR).distinct().order_by(KNVK.c.KUNNR).limit(8))
        return ContractSamples(
            known_ids={"party": parties, "person": persons, "order": orders[:8], "order_line": lines,
                       "invoice": invoices, "payment": payments},
            related_keys={("person", "party"): people_of,
                          ("order", "party"): parties, ("order", "number"): [o.lstrip("0") for o in orders[:8]],
                          ("order_line", "order"): orders[:8], ("invoice", "party"): parties,
                          ("invoice", "order"): orders[:8], ("payment", "invoice"): invoices},
            # Shaped like a line's id too, so that padding built from it is worth a statement for every entity.
            unknown_key="9999999999/999999",
            scan_totals={"party": _scalars(erp_url, select(func.count()).select_from(KNA1))[0],
                         "person": _scalars(erp_url, select(func.count()).select_from(KNVK))[0]},
        )  # fmt: skip
