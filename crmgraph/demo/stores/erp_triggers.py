"""Database triggers that keep the ERP's change stamp (``ZZAEDAT``/``ZZAEZET``) true whoever writes a row.

The stamp is what a poller reads changes from (``crmgraph link --changed``, a change feed). In SAP the save
of the master record sets it; here any writer may come (the facade placing an order, a test, a person at
a SQL prompt), so the database sets it, as many installations do with triggers:

- a row inserted without a stamp (the column's default, an empty string) is stamped with the moment of the
  insert;
- a row updated without touching the stamp is stamped with the moment of the update;
- a writer that sets the stamp itself (the seed, :func:`crmgraph.demo.stores.erp.change_rows` with ``at``)
  keeps its value.

Times are UTC, in the stamp's own ``YYYYMMDD`` / ``HHMMSS`` form. One trigger body per dialect: SQLite,
PostgreSQL and MariaDB, the databases the estate is loaded into.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import DDL, Connection, Dialect, Table, event
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.ddl import BaseDDLElement, ExecutableDDLElement
from sqlalchemy.sql.schema import SchemaItem

# SQLAlchemy leaves DDL() unannotated; this is its signature. Its text goes through "%" formatting, hence the
# doubled "%%" in the statements below.
_ddl: Callable[[str], ExecutableDDLElement] = DDL

_SQLITE_INSERT = """
CREATE TRIGGER "{t}_stamp_insert" AFTER INSERT ON "{t}" FOR EACH ROW WHEN NEW.ZZAEDAT = ''
BEGIN
    UPDATE "{t}" SET ZZAEDAT = strftime('%%Y%%m%%d', 'now'), ZZAEZET = strftime('%%H%%M%%S', 'now')
    WHERE {where};
END
"""
_SQLITE_UPDATE = """
CREATE TRIGGER "{t}_stamp_update" AFTER UPDATE ON "{t}" FOR EACH ROW
WHEN NEW.ZZAEDAT IS OLD.ZZAEDAT AND NEW.ZZAEZET IS OLD.ZZAEZET
BEGIN
    UPDATE "{t}" SET ZZAEDAT = strftime('%%Y%%m%%d', 'now'), ZZAEZET = strftime('%%H%%M%%S', 'now')
    WHERE {where};
END
"""
# One function serves every table; CHAR(8) compares without its padding, so '' matches eight blanks.
_POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION crmgraph_erp_change_stamp() RETURNS trigger AS $$
BEGIN
    IF (TG_OP = 'INSERT' AND NEW."ZZAEDAT" <> '')
       OR (TG_OP = 'UPDATE' AND (NEW."ZZAEDAT", NEW."ZZAEZET") IS DISTINCT FROM (OLD."ZZAEDAT", OLD."ZZAEZET")) THEN
        RETURN NEW;
    END IF;
    NEW."ZZAEDAT" := to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYYMMDD');
    NEW."ZZAEZET" := to_char(clock_timestamp() AT TIME ZONE 'UTC', 'HH24MISS');
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""
_POSTGRES_TRIGGER = """
CREATE TRIGGER "{t}_change_stamp" BEFORE INSERT OR UPDATE ON "{t}"
FOR EACH ROW EXECUTE FUNCTION crmgraph_erp_change_stamp()
"""
_MARIADB_INSERT = """
CREATE TRIGGER `{t}_stamp_insert` BEFORE INSERT ON `{t}` FOR EACH ROW
IF NEW.ZZAEDAT = '' THEN
    SET NEW.ZZAEDAT = DATE_FORMAT(UTC_TIMESTAMP(), '%%Y%%m%%d'),
        NEW.ZZAEZET = DATE_FORMAT(UTC_TIMESTAMP(), '%%H%%i%%s');
END IF
"""
_MARIADB_UPDATE = """
CREATE TRIGGER `{t}_stamp_update` BEFORE UPDATE ON `{t}` FOR EACH ROW
IF NEW.ZZAEDAT <=> OLD.ZZAEDAT AND NEW.ZZAEZET <=> OLD.ZZAEZET THEN
    SET NEW.ZZAEDAT = DATE_FORMAT(UTC_TIMESTAMP(), '%%Y%%m%%d'),
        NEW.ZZAEZET = DATE_FORMAT(UTC_TIMESTAMP(), '%%H%%i%%s');
END IF
"""


def _mariadb(
    ddl: BaseDDLElement,
    target: SchemaItem | str,
    bind: Connection | None,
    tables: list[Table] | None = None,
    state: Any | None = None,
    *,
    dialect: Dialect,
    compiler: DDLCompiler | None = None,
    checkfirst: bool = False,
) -> bool:
    # MariaDB reached through a mysql:// URL is the "mysql" dialect, through mariadb:// the "mariadb" one.
    return dialect.name in ("mysql", "mariadb")


def stamp_on_write(table: Table) -> None:
    """Create ``table``'s change-stamp triggers whenever the table is created (``metadata.create_all``)."""
    name = table.name
    where = " AND ".join(f'"{column.name}" = NEW."{column.name}"' for column in table.primary_key.columns)
    statements = [
        _ddl(_SQLITE_INSERT.format(t=name, where=where)).execute_if(dialect="sqlite"),
        _ddl(_SQLITE_UPDATE.format(t=name, where=where)).execute_if(dialect="sqlite"),
        _ddl(_POSTGRES_FUNCTION).execute_if(dialect="postgresql"),
        _ddl(_POSTGRES_TRIGGER.format(t=name)).execute_if(dialect="postgresql"),
        _ddl(_MARIADB_INSERT.format(t=name)).execute_if(callable_=_mariadb),
        _ddl(_MARIADB_UPDATE.format(t=name)).execute_if(callable_=_mariadb),
    ]
    for statement in statements:
        event.listen(table, "after_create", statement)
