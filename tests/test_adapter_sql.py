"""The ``sql`` adapter against the demo ERP on SQLite, PostgreSQL and MariaDB: the same records from each,
one statement per batch, per-key errors, and a mapping checked against the database."""

from __future__ import annotations

import asyncio
import copy
import math
import shutil
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from sqlalchemy import create_engine, func, make_url, select, text, update
from sqlalchemy import exc as sa

from crmgraph.adapters.calls import CallLog, UpstreamCall, current_call_log
from crmgraph.adapters.sql import JOINED_ROW_LIMIT, MAX_BATCH, SqlAdapter
from crmgraph.adapters.sql_mapping import DEFAULT_MAPPING, DEFAULT_MAPPING_DATA, SqlMapping
from crmgraph.adapters.testing import AdapterContract, ContractSamples
from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.seed import load_erp
from crmgraph.demo.stores.erp import BSAD, KNA1, VBAK, VBRK
from crmgraph.errors import (
    AdapterContractError,
    ConfigError,
    UpstreamBadResponse,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from crmgraph.records import InvoiceRecord, OrderLineRecord, OrderRecord, OrderStatus, PartyRecord, Record
from tests.conftest import ESTATE_CUSTOMERS, ESTATE_SEED

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


def _own_database(url: str) -> str:
    """A database of this module's own on the same server: other modules reset the ERP tables in theirs."""
    server = make_url(url)
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if server.get_backend_name() == "postgresql":
                found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": OWN_DATABASE})
                if found.first() is None:
                    conn.execute(text(f"CREATE DATABASE {OWN_DATABASE}"))
            else:
                conn.execute(text(f"CREATE DATABASE IF NOT EXISTS {OWN_DATABASE} CHARACTER SET utf8mb4"))
    except sa.DBAPIError:  # no right to create databases here: share the one we were given
        return url
    finally:
        engine.dispose()
    return server.set(database=OWN_DATABASE).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def server_erp(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """The URL of the demo ERP loaded into ``postgres`` or ``mariadb`` (loaded once per module)."""
    loaded: dict[str, str] = {}

    def url_of(database: str) -> str:
        if database not in loaded:
            url = _own_database(request.getfixturevalue(f"{database}_url"))
            load_erp(url, customers=ESTATE_CUSTOMERS, seed=ESTATE_SEED)
            loaded[database] = url
        return loaded[database]

    return url_of


@pytest.fixture(scope="module", params=DATABASES)
def erp_url(request: pytest.FixtureRequest, estate_layout: EstateLayout, server_erp: Callable[[str], str]) -> str:
    """The demo estate's ERP: the seeded SQLite file, or the same rows in PostgreSQL / MariaDB."""
    return estate_layout.erp_url if request.param == "sqlite" else server_erp(request.param)


@pytest.fixture
def erp_copy(estate_layout: EstateLayout, tmp_path: Path) -> Iterator[str]:
    """A scratch copy of the SQLite ERP, for tests that damage rows."""
    target = tmp_path / "erp.sqlite"
    shutil.copy(estate_layout.erp_db, target)
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


async def scan_all(adapter: SqlAdapter, size: int = 37) -> list[Record]:
    records: list[Record] = []
    cursor: str | None = None
    while True:
        page = await adapter.scan("party", cursor, size)
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
def sqlite_erp(estate_layout: EstateLayout) -> dict[str, list[Any]]:
    erp, _ = run(estate_layout.erp_url, whole_erp)
    return erp


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
    for name, expected in sqlite_erp.items():
        assert erp[name] == expected, f"{name} differ on {database}"
        assert repr(erp[name]) == repr(expected), f"{name} print differently on {database}"


def test_scanning_pages_through_every_customer_exactly_once_in_one_statement_a_page(erp_url: str) -> None:
    parties, log = run(erp_url, scan_all)
    ids = [party.source_id for party in parties]
    expected = _scalars(erp_url, select(KNA1.c.KUNNR).where(KNA1.c.LOEVM == "").order_by(KNA1.c.KUNNR))
    assert ids == expected and len(set(ids)) == len(ids) > 100
    assert [call.request for call in log.calls] == ["SELECT KNA1"] * math.ceil(len(ids) / 37)


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
    async def scenario(adapter: SqlAdapter) -> dict[str, tuple[list[str], list[Any]]]:
        asked: dict[str, list[str]] = {
            "party": ["0000100004", "nope", "0000100001", "0000100004"],
            "order": ["0001000002", "0001000001", "1000001", "0001000002"],
            "order_line": ["0001000001/000010", "0001000001", "0001000001/999999", "0001000001/000010"],
            "invoice": ["0090000002", "0090000001", "", "0090000002"],
            "payment": ["1400000001", "x/y", "1400000001"],
        }
        return {entity: (ids, await adapter.fetch(entity, ids)) for entity, ids in asked.items()}

    answers, log = run(erp_url, scenario)
    for entity, (ids, results) in answers.items():
        assert len(results) == len(ids)
        for asked, result in zip(ids, results, strict=True):
            if result is None:
                assert asked in ("nope", "1000001", "0001000001", "0001000001/999999", "", "x/y"), (entity, asked)
            else:
                assert isinstance(result, Record) and result.source_id == asked, (entity, asked, result)
        assert results[0] is not None and results[-1] == results[0]
    assert len(log.calls) == len(answers)  # one statement per entity, duplicates asked once


def test_an_order_is_found_by_the_number_people_quote_or_by_the_padded_one(erp_url: str) -> None:
    async def scenario(adapter: SqlAdapter) -> list[Any]:
        return await adapter.fetch_related("order", "number", ["1000003", "0001000003", " 1000003", "99999999999"])

    (short, padded, spaced, unknown), log = run(erp_url, scenario)
    assert isinstance(short, list) and len(short) == 1 and short == padded
    order = short[0]
    assert isinstance(order, OrderRecord) and (order.source_id, order.number) == ("0001000003", "1000003")
    assert spaced == [] and unknown == []
    assert len(log.calls) == 1


def test_records_read_sap_values_as_domain_values(erp_url: str) -> None:
    cancelled = _scalars(erp_url, select(VBAK.c.VBELN).where(VBAK.c.ABSTK == "C").order_by(VBAK.c.VBELN).limit(1))
    invoiced = _scalars(erp_url, select(VBRK.c.VBELN).order_by(VBRK.c.VBELN).limit(1))

    async def scenario(adapter: SqlAdapter) -> list[Any]:
        orders = await adapter.fetch("order", ["0001000003", *cancelled])
        lines = await adapter.fetch_related("order_line", "order", ["0001000003"])
        invoices = await adapter.fetch("invoice", invoiced)
        return [*orders, lines[0], *invoices]

    (order, rejected, lines, invoice), _ = run(erp_url, scenario)
    assert isinstance(order, OrderRecord) and isinstance(rejected, OrderRecord) and isinstance(invoice, InvoiceRecord)
    raw = _scalars(erp_url, select(VBAK.c.ERDAT + VBAK.c.ERZET).where(VBAK.c.VBELN == "0001000003"))[0]
    assert order.placed_at.strftime("%Y%m%d%H%M%S") == raw and order.placed_at.utcoffset() is not None
    assert rejected.status == OrderStatus.CANCELLED
    assert isinstance(lines, list) and [line.position for line in lines] == sorted(line.position for line in lines)
    line = lines[0]
    assert isinstance(line, OrderLineRecord) and line.source_id == f"0001000003/{line.position:06d}"
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
    _change(erp_copy, update(VBAK).where(VBAK.c.VBELN == "0001000003").values(GBSTK="Z"))
    # SQLite keeps whatever it is given, even text in a NUMERIC column: legacy data at its worst.
    _change(erp_copy, text("UPDATE VBAP SET KWMENG = 'many' WHERE VBELN = '0001000002'"))

    async def scenario(adapter: SqlAdapter) -> tuple[list[Any], list[Any], list[Any]]:
        return (
            await adapter.fetch("order", ["0001000003", "0001000004"]),
            await adapter.fetch_related("order", "party", ["0000100001", "0000100002"]),
            await adapter.fetch_related("order_line", "order", ["0001000002", "0001000004"]),
        )

    (by_id, by_party, lines), _ = run(erp_copy, scenario)
    assert isinstance(by_id[0], UpstreamBadResponse) and "VBAK 0001000003: GBSTK is 'Z'" in str(by_id[0])
    assert isinstance(by_id[1], OrderRecord)
    assert isinstance(by_party[0], UpstreamBadResponse) and isinstance(by_party[1], list) and by_party[1]
    assert isinstance(lines[0], UpstreamBadResponse) and "KWMENG" in str(lines[0]) and isinstance(lines[1], list)


def test_rows_the_mapping_filters_out_do_not_exist_not_even_by_id(erp_copy: str) -> None:
    _change(erp_copy, update(KNA1).where(KNA1.c.KUNNR == "0000100002").values(LOEVM="X"))
    _change(erp_copy, update(VBRK).where(VBRK.c.VBELN == "0090000001").values(FKSTO="X"))

    async def scenario(adapter: SqlAdapter) -> tuple[list[Any], list[Record], list[Any]]:
        return (
            await adapter.fetch("party", ["0000100001", "0000100002"]),
            await scan_all(adapter),
            await adapter.fetch("invoice", ["0090000001", "0090000002"]),
        )

    (parties, scanned, invoices), _ = run(erp_copy, scenario)
    assert isinstance(parties[0], PartyRecord) and parties[1] is None
    everyone = _scalars(erp_copy, select(func.count()).select_from(KNA1))[0]
    assert "0000100002" not in {party.source_id for party in scanned} and len(scanned) == everyone - 1
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
    with pytest.raises(AdapterContractError, match="cannot reach order by party"):
        adapter.path("order", "party")


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
        parties = ["0000100001", "0000100002", "0000100004", "0000100006", "0000100008"]
        orders = _scalars(erp_url, select(VBAK.c.VBELN).where(VBAK.c.KUNNR.in_(parties)).order_by(VBAK.c.VBELN))
        invoices = _scalars(erp_url, select(BSAD.c.VBELN).distinct().order_by(BSAD.c.VBELN).limit(8))
        lines = [f"{order}/000010" for order in orders[:8]]
        payments = _scalars(erp_url, select(BSAD.c.BELNR).order_by(BSAD.c.BELNR).limit(8))
        return ContractSamples(
            known_ids={"party": parties, "order": orders[:8], "order_line": lines, "invoice": invoices,
                       "payment": payments},
            related_keys={("order", "party"): parties, ("order", "number"): [o.lstrip("0") for o in orders[:8]],
                          ("order_line", "order"): orders[:8], ("invoice", "party"): parties,
                          ("invoice", "order"): orders[:8], ("payment", "invoice"): invoices},
            # Shaped like a line's id too, so that padding built from it is worth a statement for every entity.
            unknown_key="9999999999/999999",
            scan_totals={"party": _scalars(erp_url, select(func.count()).select_from(KNA1))[0]},
        )  # fmt: skip
