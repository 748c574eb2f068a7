"""The demo ERP: a legacy SQL schema in SAP's terse naming, reached directly through SQLAlchemy.

Tables and the SAP names they borrow:

- ``KNA1``  customer master (KUNNR customer number, NAME1 name, LAND1 country, ORT01 city, TELF1 phone,
  SMTP_ADDR e-mail, STCD1 tax number, BRSCH industry, KNURL web address, ZZCRMID the rarely filled
  cross-reference to the CRM company id);
- ``KNVK``  contact persons at a customer (PARNR contact number, KUNNR their customer, NAMEV first name,
  NAME1 surname, TELF1 phone, SMTP_ADDR e-mail, ABTNR department, PAFKT function);
- ``VBAK`` / ``VBAP``  sales order headers / lines;
- ``VBRK``  billing documents (invoices), ZZAUBEL the order they bill;
- ``BSAD``  cleared customer items: the payments against invoices.

``KNA1``, ``KNVK`` and ``VBAK`` also carry a change stamp, ``ZZAEDAT`` (changed on) and ``ZZAEZET`` (at), in
an append of custom fields: see :data:`CHANGE_STAMP` for why. Triggers set it on every insert and update that
does not set it itself (:mod:`crmgraph.demo.stores.erp_triggers`), so a poller sees any writer's change.

Dates are ``CHAR(8)`` ``YYYYMMDD`` and times ``CHAR(6)`` ``HHMMSS``, as in SAP. Amounts are ``NUMERIC``
with fixed scale. So that the same query returns the same rows on SQLite, PostgreSQL and MariaDB:
``CHAR`` is kept for values that always fill their width (PostgreSQL pads shorter ones with blanks),
and MariaDB tables use ``utf8mb4`` with a binary collation (its default collation ignores case).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import CHAR, Column, Connection, Index, MetaData, Numeric, String, Table
from sqlalchemy.sql.schema import SchemaItem

from crmgraph.demo.stores.erp_triggers import stamp_on_write

metadata = MetaData()

# The change stamp of the master data tables. SAP keeps no changed-on field in KNA1 or KNVK (a change goes
# to change documents, CDHDR/CDPOS, which no plain SQL reader can turn into "rows changed since" cheaply),
# so installations that feed other systems add one: an append of custom ZZ fields that the save of the
# master record sets (a user exit), with the same CHAR(8) date and CHAR(6) time as ERDAT/ERZET, in the
# system's time zone. A date and a time rather than a date alone (as VBAK's AEDAT): a reader that knows
# only the day would read every change of the day again on each run. A new row is stamped with its
# creation: the stamp is "created or changed on".
CHANGE_STAMP = ("ZZAEDAT", "ZZAEZET")


def _change_stamp(table: str) -> list[SchemaItem]:
    # An empty ZZAEDAT means "not stamped by the writer": the database's triggers stamp it (erp_triggers).
    return [
        Column("ZZAEDAT", CHAR(8), nullable=False, server_default=""),
        Column("ZZAEZET", CHAR(6), nullable=False, server_default="000000"),
        Index(f"{table}_ZZAEDAT", "ZZAEDAT", "ZZAEZET"),  # the change feed reads from a moment on
    ]


def legacy_table(name: str, *items: SchemaItem) -> Table:
    """A table of the legacy schema, with the MariaDB options that keep it portable (see above)."""
    return Table(name, metadata, *items, mysql_charset="utf8mb4", mysql_collate="utf8mb4_bin")


KNA1 = legacy_table(
    "KNA1",
    Column("MANDT", CHAR(3), nullable=False, server_default="100"),
    Column("KUNNR", String(10), primary_key=True),
    Column("NAME1", String(80), nullable=False),
    Column("NAME2", String(80)),
    Column("LAND1", CHAR(2), nullable=False),
    Column("ORT01", String(40)),
    Column("PSTLZ", String(10)),
    Column("STRAS", String(80)),
    Column("TELF1", String(30)),
    Column("SMTP_ADDR", String(120)),
    Column("STCD1", String(20)),
    Column("BRSCH", CHAR(4)),
    Column("KNURL", String(120)),
    Column("WAERS", CHAR(3), nullable=False),
    Column("ERDAT", CHAR(8), nullable=False),
    Column("LOEVM", String(1), nullable=False, server_default=""),
    Column("ZZCRMID", String(20)),
    Index("KNA1_ZZCRMID", "ZZCRMID"),
    *_change_stamp("KNA1"),
)

KNVK = legacy_table(
    "KNVK",
    Column("MANDT", CHAR(3), nullable=False, server_default="100"),
    Column("PARNR", String(10), primary_key=True),
    Column("KUNNR", String(10), nullable=False),
    Column("NAMEV", String(35)),
    Column("NAME1", String(35), nullable=False),
    Column("TELF1", String(30)),
    Column("SMTP_ADDR", String(120)),
    Column("ABTNR", String(4)),
    Column("PAFKT", String(40)),
    Column("ERDAT", CHAR(8), nullable=False),
    Index("KNVK_KUNNR", "KUNNR"),
    *_change_stamp("KNVK"),
)

VBAK = legacy_table(
    "VBAK",
    Column("VBELN", String(10), primary_key=True),
    Column("ERDAT", CHAR(8), nullable=False),
    Column("ERZET", CHAR(6), nullable=False),
    Column("AUART", String(4), nullable=False),
    Column("KUNNR", String(10), nullable=False),
    Column("NETWR", Numeric(15, 2), nullable=False),
    Column("WAERK", CHAR(3), nullable=False),
    Column("BSTNK", String(35)),
    Column("VDATU", CHAR(8)),
    # Overall processing status: A open, B in process, C completed. ABSTK C: rejected (cancelled).
    Column("GBSTK", CHAR(1), nullable=False),
    Column("ABSTK", String(1), nullable=False, server_default=""),
    Index("VBAK_KUNNR", "KUNNR", "ERDAT"),
    # Not SAP's: the idempotency key of an order placed through the facade, so that a write whose answer
    # was lost can be found again (crmgraph.adapters.sql.writes). Null for every other writer's orders.
    Column("ZZIDEMK", String(200)),
    Index("VBAK_ZZIDEMK", "ZZIDEMK"),
    # Not in SAP's VBAK (its AEDAT is a date only): the same append as the master data, so that orders
    # placed or changed by any writer can be polled. Lines (VBAP) are written with their header.
    *_change_stamp("VBAK"),
)

VBAP = legacy_table(
    "VBAP",
    Column("VBELN", String(10), primary_key=True),
    Column("POSNR", CHAR(6), primary_key=True),
    Column("MATNR", String(40), nullable=False),
    Column("ARKTX", String(80), nullable=False),
    Column("KWMENG", Numeric(15, 3), nullable=False),
    Column("VRKME", String(3), nullable=False),
    Column("NETPR", Numeric(13, 2), nullable=False),
    Column("NETWR", Numeric(15, 2), nullable=False),
    Column("WAERK", CHAR(3), nullable=False),
    # A new order's lines take the description and unit of the material from an earlier line (the demo
    # ERP has no material master): one index row read per material.
    Index("VBAP_MATNR", "MATNR"),
)

VBRK = legacy_table(
    "VBRK",
    Column("VBELN", String(10), primary_key=True),
    Column("FKART", String(4), nullable=False),
    Column("FKDAT", CHAR(8), nullable=False),
    Column("KUNRG", String(10), nullable=False),
    Column("NETWR", Numeric(15, 2), nullable=False),
    Column("MWSBK", Numeric(13, 2), nullable=False),
    Column("WAERK", CHAR(3), nullable=False),
    Column("ZTERM", CHAR(4), nullable=False),
    Column("ZZAUBEL", String(10), nullable=False),
    Column("FKSTO", String(1), nullable=False, server_default=""),
    Index("VBRK_KUNRG", "KUNRG", "FKDAT"),
    Index("VBRK_ZZAUBEL", "ZZAUBEL"),
)

BSAD = legacy_table(
    "BSAD",
    Column("BELNR", String(10), primary_key=True),
    Column("GJAHR", CHAR(4), nullable=False),
    Column("KUNNR", String(10), nullable=False),
    Column("VBELN", String(10), nullable=False),
    Column("BUDAT", CHAR(8), nullable=False),
    Column("WRBTR", Numeric(15, 2), nullable=False),
    Column("WAERS", CHAR(3), nullable=False),
    Column("ZLSCH", CHAR(1), nullable=False),
    Index("BSAD_VBELN", "VBELN"),
    Index("BSAD_KUNNR", "KUNNR"),
)

ERP_TABLES = (KNA1, KNVK, VBAK, VBAP, VBRK, BSAD)
STAMPED_TABLES = (KNA1, KNVK, VBAK)
for _table in STAMPED_TABLES:
    stamp_on_write(_table)


def change_stamp(moment: datetime) -> dict[str, str]:
    """The change stamp columns of a change at ``moment`` (the demo ERP writes UTC)."""
    at = moment.astimezone(UTC)
    return {"ZZAEDAT": f"{at:%Y%m%d}", "ZZAEZET": f"{at:%H%M%S}"}


def change_rows(
    conn: Connection, table: Table, keys: Mapping[str, str], values: Mapping[str, object], at: datetime | None = None
) -> int:
    """Change the rows of ``table`` (KNA1 or KNVK) whose columns hold ``keys``, as the ERP's own save does:
    the new ``values`` and the change stamp (now, unless ``at`` says when). Returns the rows changed."""
    if table not in STAMPED_TABLES:
        raise ValueError(f"{table.name} has no change stamp; {', '.join(t.name for t in STAMPED_TABLES)} have")
    stamp = change_stamp(at or datetime.now(UTC))
    condition = [table.c[column] == value for column, value in keys.items()]
    return conn.execute(table.update().where(*condition).values(**values, **stamp)).rowcount
