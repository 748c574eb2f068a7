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

Dates are ``CHAR(8)`` ``YYYYMMDD`` and times ``CHAR(6)`` ``HHMMSS``, as in SAP. Amounts are ``NUMERIC``
with fixed scale. So that the same query returns the same rows on SQLite, PostgreSQL and MariaDB:
``CHAR`` is kept for values that always fill their width (PostgreSQL pads shorter ones with blanks),
and MariaDB tables use ``utf8mb4`` with a binary collation (its default collation ignores case).
"""

from __future__ import annotations

from sqlalchemy import CHAR, Column, Index, MetaData, Numeric, String, Table
from sqlalchemy.sql.schema import SchemaItem

metadata = MetaData()


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
