"""Statements that read the same on SQLite and Postgres: bulk upserts and write transactions."""

from __future__ import annotations

from collections.abc import Sequence
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
) -> list[Any]:
    """One statement for all ``rows``: insert, or on a ``conflict`` update the ``update`` columns."""
    if not rows:
        return []
    stmt = insert_for(conn, table)
    stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_={c: stmt.excluded[c] for c in update})
    if returning:
        return list(conn.execute(stmt.returning(*(table.c[c] for c in returning)), list(rows)))
    conn.execute(stmt, list(rows))
    return []


def insert_ignoring_duplicates(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], conflict: Sequence[str]
) -> int:
    """Insert ``rows``, skipping those whose ``conflict`` key already exists. Returns rows inserted."""
    if not rows:
        return 0
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
