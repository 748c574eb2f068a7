"""Writing many rows at once, inside one transaction of the store.

A full load goes as the database takes bulk data best: DuckDB scans a pandas frame in place
(``INSERT ... SELECT`` from it), PostgreSQL reads ``COPY``; any other database gets SQLAlchemy's batched
``executemany``. A change replaces rows by key (delete, then insert), which every database does alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, tuple_

from crmgraph.analytics.rows import Row

CHUNK = 500  # keys per DELETE ... IN (...): well inside every database's parameter limit


def insert_rows(conn: Connection, table: Table, rows: Sequence[Row]) -> None:
    """Insert ``rows`` (dicts keyed by column name; a missing column is NULL) into ``table``."""
    if not rows:
        return
    names = [column.name for column in table.columns]
    backend = conn.dialect.name
    if backend == "duckdb":
        _duckdb_insert(conn, table, names, rows)
    elif backend == "postgresql" and conn.dialect.driver == "psycopg":
        _copy_insert(conn, table, names, rows)
    else:
        conn.execute(table.insert(), [_complete(table, names, row) for row in rows])


def _complete(table: Table, names: list[str], row: Row) -> Row:
    full = {name: row.get(name) for name in names}
    for column in table.columns:  # what a column's default gives (tags "", complaint false)
        if full[column.name] is None and column.default is not None and not column.nullable:
            full[column.name] = getattr(column.default, "arg", None)
    return full


def _duckdb_insert(conn: Connection, table: Table, names: list[str], rows: Sequence[Row]) -> None:
    import pandas as pd  # type: ignore[import-untyped]

    columns: dict[str, list[Any]] = {}
    for column in table.columns:
        values = [row.get(column.name) for row in rows]
        default = getattr(column.default, "arg", None) if column.default is not None and not column.nullable else None
        if default is not None:  # what a column's default gives (tags "", complaint false)
            values = [default if value is None else value for value in values]
        if column.type.python_type.__name__ == "Decimal":  # as text, cast exactly by the insert
            values = [None if value is None else str(value) for value in values]
        columns[column.name] = values
    frame = pd.DataFrame(columns, columns=names)
    del columns
    raw: Any = conn.connection.driver_connection
    view = f"_load_{table.name}"
    raw.register(view, frame)
    try:
        raw.execute(f'INSERT INTO "{table.name}" BY NAME SELECT * FROM "{view}"')
    finally:
        raw.unregister(view)


def _copy_insert(conn: Connection, table: Table, names: list[str], rows: Sequence[Row]) -> None:
    raw: Any = conn.connection.driver_connection
    columns = ", ".join(f'"{name}"' for name in names)
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            full = _complete(table, names, row)
            copy.write_row([full[name] for name in names])


def replace_all(conn: Connection, table: Table, rows: Sequence[Row]) -> None:
    """Every row of ``table`` replaced by ``rows`` (in the caller's transaction)."""
    conn.execute(delete(table))
    insert_rows(conn, table, rows)


def delete_keys(conn: Connection, table: Table, column: str, keys: Iterable[Any]) -> None:
    """Delete the rows whose ``column`` is one of ``keys``."""
    wanted = list(dict.fromkeys(keys))
    for start in range(0, len(wanted), CHUNK):
        conn.execute(delete(table).where(table.c[column].in_(wanted[start : start + CHUNK])))


def delete_tuples(conn: Connection, table: Table, columns: Sequence[str], keys: Iterable[tuple[Any, ...]]) -> None:
    """Delete the rows whose ``columns`` together are one of ``keys``."""
    wanted = list(dict.fromkeys(keys))
    target = tuple_(*(table.c[name] for name in columns))
    for start in range(0, len(wanted), CHUNK):
        conn.execute(delete(table).where(target.in_(wanted[start : start + CHUNK])))


def upsert_rows(conn: Connection, table: Table, key: str, rows: Sequence[Row]) -> None:
    """Rows replaced by key: the old ones with these keys deleted, these inserted."""
    delete_keys(conn, table, key, (row[key] for row in rows))
    insert_rows(conn, table, rows)
