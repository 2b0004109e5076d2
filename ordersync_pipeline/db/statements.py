"""Statements that read the same on SQLite and Postgres: bulk upserts and write transactions.

Bulk writes on Postgres go through a temporary table (``StagedRows``, ``merge``): the rows are
loaded into it by ``COPY``, the cheapest way in, then one ``INSERT ... SELECT ... ON CONFLICT``
moves them into the real table; multi-row ``VALUES`` cost more to render, send and parse. Rows
known to be new can be loaded by ``COPY`` straight into their table (``StagedRows.copy_into_table``).
SQLite, in this process, takes them in one ``executemany``. Each bulk write tells ``planner_stats``
how many rows it wrote, so that the tables a long run grows are analyzed as they grow.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, MetaData, Table, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ordersync_pipeline.db.planner_stats import rows_written


def insert_for(conn: Connection, table: Table):
    """Start an INSERT that knows ``ON CONFLICT`` on the connection's database (Postgres or SQLite)."""
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert ``rows`` in one statement, or on a ``conflict`` update the ``update`` columns."""
    if not rows:
        return
    stmt = insert_for(conn, table)
    stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_={c: stmt.excluded[c] for c in update})
    conn.execute(stmt, list(rows))


#: the name of a staging table is this and its table's name
_STAGE_PREFIX = "ordersync_stage_"


class StagedRows:
    """Rows bound for ``table``, made ready to be merged into it (``merge``).

    On Postgres they are turned into ``COPY`` text when this is made: that is the costly part in
    Python, and it can happen before, and beside, the transaction that loads them. ``parent``
    names a key of the rows (``"order_reference"``) that stands for a column the rows cannot know
    yet (``"order_id"``): it is filled in at ``merge``, from the ids it is given by key.
    """

    def __init__(
        self, dialect: Any, table: Table, rows: Sequence[dict[str, Any]], parent: tuple[str, str] | None = None
    ) -> None:
        self.table = table
        self.count = len(rows)
        key = parent[0] if parent else None
        self.columns = [c for c in (rows[0] if rows else ()) if c != key]
        self._parent_column = parent[1] if parent else None
        self._keys = [row[key] for row in rows] if key else None
        self.postgres = dialect.name == "postgresql"
        if self.postgres:
            self._lines: list[str] | None = _copy_lines(dialect, table, self.columns, rows)
            self._rows: list[dict[str, Any]] = []
        else:
            self._lines = None
            self._rows = [{c: row[c] for c in self.columns} for row in rows] if key else list(rows)

    def parents(self, parent_ids: dict[str, int] | None) -> list[int] | None:
        """Give each row's parent id, taken from ``parent_ids`` by the row's key (None without a parent)."""
        return None if self._keys is None else [(parent_ids or {})[key] for key in self._keys]

    def rows(self, parent_ids: dict[str, int] | None = None) -> list[dict[str, Any]]:
        """Give the rows as dicts, with their parent's id (SQLite, which takes them as they are)."""
        ids = self.parents(parent_ids)
        if ids is None:
            return self._rows
        return [row | {self._parent_column: i} for i, row in zip(ids, self._rows, strict=True)]

    def load(self, conn: Connection, parent_ids: dict[str, int] | None = None) -> Table:
        """Load the rows into a new temporary table by ``COPY`` (Postgres). The caller drops it; a
        rollback takes it away too."""
        names, lines = self._copy_input(parent_ids)
        stage = Table(
            _STAGE_PREFIX + self.table.name,
            MetaData(),
            *(Column(name, self.table.c[name].type) for name in names),
            prefixes=["TEMPORARY"],
        )
        stage.create(conn)
        _copy(conn, stage.name, names, lines)
        return stage

    def copy_into_table(
        self, conn: Connection, parent_ids: dict[str, int] | None = None, ids: Sequence[int] | None = None
    ) -> None:
        """``COPY`` the rows straight into their table (Postgres), for rows known to be new: a row
        already there fails the statement. ``ids`` are the rows' own ids, if they are given."""
        names, lines = self._copy_input(parent_ids)
        if ids is not None:
            names = ["id", *names]
            lines = [f"{i}\t{line}" for i, line in zip(ids, lines, strict=True)]
        _copy(conn, self.table.name, names, lines)
        rows_written(conn, self.table.name, self.count)

    def _copy_input(self, parent_ids: dict[str, int] | None) -> tuple[list[str], list[str]]:
        """Give the columns and ``COPY`` lines of the rows, their parent's id first if they have one."""
        names = [self._parent_column, *self.columns] if self._parent_column else list(self.columns)
        lines = self._lines or []
        parents = self.parents(parent_ids)
        if parents is not None:
            lines = [f"{i}\t{line}" for i, line in zip(parents, lines, strict=True)]
        return names, lines


def merge(
    conn: Connection,
    staged: StagedRows,
    conflict: Sequence[str],
    update: Sequence[str] = (),
    returning: Sequence[str] = (),
    parent_ids: dict[str, int] | None = None,
    never_cleared: Sequence[str] = (),
) -> Any:
    """Insert the staged rows; on a ``conflict`` update the ``update`` columns, or do nothing.
    An update never sets a ``never_cleared`` column back to NULL: a stored value stays where the row
    brings none (another writer's, committed after these rows were made). Returns the ``returning``
    columns of the rows written, or without ``returning`` how many rows were written.

    Postgres: ``INSERT ... SELECT`` from the rows loaded by ``COPY``. SQLite, in this process,
    takes them in one ``executemany``: a temporary table would only add a copy.
    """
    if not staged.count:
        return [] if returning else 0
    stage = staged.load(conn, parent_ids) if staged.postgres else None
    if stage is not None:
        stmt = insert_for(conn, staged.table).from_select(list(stage.c.keys()), select(*stage.c))
    else:
        stmt = insert_for(conn, staged.table)
    if update:
        new, stored = stmt.excluded, staged.table.c
        set_ = {c: func.coalesce(new[c], stored[c]) if c in never_cleared else new[c] for c in update}
        stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_=set_)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    if returning:
        stmt = stmt.returning(*(staged.table.c[c] for c in returning))
    result = conn.execute(stmt) if stage is not None else conn.execute(stmt, staged.rows(parent_ids))
    written = list(result) if returning else result.rowcount
    if stage is not None:
        stage.drop(conn)
    rows_written(conn, staged.table.name, staged.count)
    return written


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
        columns = list(rows[0])
        _copy(conn, table.name, columns, _copy_lines(conn.dialect, table, columns, rows))
        rows_written(conn, table.name, len(rows))
        return
    conn.execute(table.insert(), list(rows))


def begin_write(conn: Connection) -> None:
    """On SQLite, take the write lock before the first read of a read-then-write transaction.

    SQLite has no row locks, and its driver only begins a transaction at the first write, so a
    read followed by a write could interleave with another writer. Postgres uses row locks.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy(conn: Connection, target: str, columns: Sequence[str], lines: Sequence[str]) -> None:
    """``COPY target (columns) FROM STDIN`` with ``lines``, sent in one piece. The driver reads its
    input in 8 kB pieces by default, each needing the GIL: on a writer thread beside a busy one,
    every piece waits for it while the server waits for the piece. ``COPY`` goes to the driver's
    cursor, past SQLAlchemy and its cursor events."""
    data = ("\n".join(lines) + "\n").encode()
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        sql = f"COPY {_q(target)} ({', '.join(_q(c) for c in columns)}) FROM STDIN"
        cursor.copy_expert(sql, io.BytesIO(data), size=max(len(data), 8192))
    finally:
        cursor.close()


def _copy_lines(dialect: Any, table: Table, columns: list[str], rows: Sequence[dict[str, Any]]) -> list[str]:
    """Write the rows in COPY's text format, a line each, each value as the column's type would bind it.

    Made a column at a time (hundreds of thousands of values go through here): each column's
    values become text in one comprehension, and the lines are joined from the columns."""
    texts = [_column_text(table.c[c], dialect, [row[c] for row in rows]) for c in columns]
    return ["\t".join(line) for line in zip(*texts, strict=True)]


def _column_text(column: Column, dialect: Any, values: list[Any]) -> list[str]:
    """Write a column's values in COPY's text format: the plain types directly, the others through the
    type's bind processor. A column of text is searched once, all of it, for a character COPY
    treats specially: nearly always there is none, and nothing is escaped value by value."""
    process = column.type._cached_bind_processor(dialect)
    if process is not None:
        values = [process(value) for value in values]
        kind: Any = object
    else:
        try:
            kind = column.type.python_type
        except NotImplementedError:
            kind = object
    if kind is int:
        return ["\\N" if value is None else str(value) for value in values]
    if kind is datetime:
        return ["\\N" if value is None else value.isoformat() for value in values]
    present = [value for value in values if value is not None]
    text = kind is str or all(type(value) is str for value in present)
    if text and not _NEEDS_ESCAPE("".join(present)):
        return ["\\N" if value is None else value for value in values]
    return [_copy_text(value) for value in values]


# COPY's text format: NULL is \N; backslash, tab and line ends are escaped.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]").search


def _str_text(value: str | None) -> str:
    if value is None:
        return "\\N"
    return value.translate(_ESCAPES) if _NEEDS_ESCAPE(value) else value


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
