"""Statements that read the same on SQLite and Postgres: bulk upserts and write transactions.

On Postgres a large upsert goes through ``COPY``: the rows are streamed into a temporary table
(the cheapest way into Postgres), then one ``INSERT ... SELECT ... ON CONFLICT`` moves them into
the real table. Sending them as multi-row ``VALUES`` costs several times more on both sides.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Table, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_for(conn: Connection, table: Table):
    """An INSERT that knows ``ON CONFLICT`` on the connection's database (Postgres or SQLite)."""
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict: Sequence[str],
    update: Sequence[str],
    returning: Sequence[str] = (),
    staged: bool | None = None,
) -> list[Any]:
    """One statement for all ``rows``: insert, or on a ``conflict`` update the ``update`` columns.

    ``staged``: on Postgres, go through ``COPY`` (None: when there are enough rows for it to pay;
    True: always, so that a batch costs the same statements whatever its size)."""
    if not rows:
        return []
    if _staged(conn, rows, staged):
        assignments = ", ".join(f"{_q(c)} = EXCLUDED.{_q(c)}" for c in update)
        action = f"DO UPDATE SET {assignments}" if update else "DO NOTHING"
        return _staged_insert(conn, table, rows, conflict, action, returning)
    stmt = insert_for(conn, table)
    stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_={c: stmt.excluded[c] for c in update})
    if returning:
        return list(conn.execute(stmt.returning(*(table.c[c] for c in returning)), list(rows)))
    conn.execute(stmt, list(rows))
    return []


def insert_ignoring_duplicates(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict: Sequence[str],
    staged: bool | None = None,
) -> int:
    """Insert ``rows``, skipping those whose ``conflict`` key already exists. Returns rows inserted."""
    if not rows:
        return 0
    if _staged(conn, rows, staged):
        return len(_staged_insert(conn, table, rows, conflict, "DO NOTHING", conflict[:1]))
    stmt = insert_for(conn, table).on_conflict_do_nothing(index_elements=list(conflict))
    result = conn.execute(stmt.returning(table.c[conflict[0]]), list(rows))
    return len(result.all())


def one_of(conn: Connection, column: Column, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values``; on Postgres as ``= ANY(array)``: one parameter however many values,
    where an ``IN`` list costs a parameter (to render, send and parse) per value."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys); on Postgres through ``COPY``."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _copy_into(conn, table.name, table, list(rows[0]), rows)
        return
    conn.execute(table.insert(), list(rows))


def begin_write(conn: Connection) -> None:
    """On SQLite, take the write lock before the first read of a read-then-write transaction.

    SQLite has no row locks, and its driver only begins a transaction at the first write, so a
    read followed by a write could interleave with another writer. Postgres uses row locks.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


#: below this many rows, the temporary table costs more than it saves.
STAGE_MIN_ROWS = 200


def _staged(conn: Connection, rows: Sequence[dict[str, Any]], staged: bool | None) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return staged if staged is not None else len(rows) >= STAGE_MIN_ROWS


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _staged_insert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict: Sequence[str],
    action: str,
    returning: Sequence[str],
) -> list[Any]:
    """``INSERT INTO table SELECT * FROM (rows, by COPY) ON CONFLICT (conflict) action``."""
    columns = list(rows[0])
    names = ", ".join(_q(c) for c in columns)
    stage = _q(f"ordersync_stage_{table.name}")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {names} FROM {_q(table.name)} WITH NO DATA"
    )
    _copy_into(conn, f"ordersync_stage_{table.name}", table, columns, rows)
    sql = (
        f"INSERT INTO {_q(table.name)} ({names}) SELECT {names} FROM {stage} "
        f"ON CONFLICT ({', '.join(_q(c) for c in conflict)}) {action}"
    )
    if returning:
        sql += " RETURNING " + ", ".join(_q(c) for c in returning)
    result = conn.exec_driver_sql(sql)
    rows_back = list(result) if returning else []
    conn.exec_driver_sql(f"DROP TABLE {stage}")
    return rows_back


def _copy_into(conn: Connection, target: str, table: Table, columns: list[str], rows: Sequence[dict[str, Any]]) -> None:
    """``COPY target (columns) FROM STDIN`` with ``rows``, each value as ``table``'s column binds it."""
    names = ", ".join(_q(c) for c in columns)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(f"COPY {_q(target)} ({names}) FROM STDIN", _copy_buffer(conn, table, columns, rows))
    finally:
        cursor.close()


def _copy_buffer(conn: Connection, table: Table, columns: list[str], rows: Sequence[dict[str, Any]]) -> io.StringIO:
    """The rows in COPY's text format, each value as the column's type would bind it."""
    formats = [(c, _copy_format(table.c[c], conn.dialect)) for c in columns]
    lines = ["\t".join([text(row[c]) for c, text in formats]) for row in rows]
    lines.append("")
    return io.StringIO("\n".join(lines))


# COPY's text format: NULL is \N; backslash, tab and line ends are escaped.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]").search  # far cheaper than translate() on the usual plain text


def _copy_format(column: Column, dialect: Any) -> Callable[[Any], str]:
    """How a value of ``column`` is written for ``COPY``: the plain types directly (hundreds of
    thousands of values go through here), the others through the type's bind processor."""
    process = column.type._cached_bind_processor(dialect)
    if process is None:
        try:
            kind = column.type.python_type
        except NotImplementedError:
            kind = object
        if kind is str:
            return _str_text
        if kind is int:
            return _int_text
        if kind is datetime:
            return _datetime_text
        return _copy_text
    return lambda value: _copy_text(process(value))


def _str_text(value: str | None) -> str:
    if value is None:
        return "\\N"
    return value.translate(_ESCAPES) if _NEEDS_ESCAPE(value) else value


def _int_text(value: int | None) -> str:
    return "\\N" if value is None else str(value)


def _datetime_text(value: datetime | None) -> str:
    return "\\N" if value is None else value.isoformat()


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return _str_text(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
