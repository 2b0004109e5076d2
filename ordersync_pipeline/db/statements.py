"""Statements that read the same on SQLite and Postgres: bulk upserts and write transactions.

On Postgres a large upsert goes through ``COPY``: the rows are streamed into a temporary table
(the cheapest way into Postgres), then one ``INSERT ... SELECT ... ON CONFLICT`` moves them into
the real table. Sending them as multi-row ``VALUES`` costs several times more on both sides.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Table
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
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(f"COPY {stage} ({names}) FROM STDIN", _copy_buffer(conn, table, columns, rows))
    finally:
        cursor.close()
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


def _copy_buffer(conn: Connection, table: Table, columns: list[str], rows: Sequence[dict[str, Any]]) -> io.StringIO:
    """The rows in COPY's text format, each value as the column's type would bind it."""
    dialect = conn.dialect
    processors = [table.c[c].type._cached_bind_processor(dialect) for c in columns]
    pairs = list(zip(columns, processors, strict=True))
    lines = []
    for row in rows:
        values = []
        for column, process in pairs:
            value = row[column]
            if process is not None:
                value = process(value)
            values.append(_copy_text(value))
        lines.append("\t".join(values))
    lines.append("")
    return io.StringIO("\n".join(lines))


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
