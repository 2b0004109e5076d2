"""Keeping Postgres' planner statistics in step with tables a long run grows fast.

The planner sizes a table by its last ``ANALYZE``. A first sync of a long history, or the applier
catching up on it, grows ``orders`` from nothing to hundreds of thousands of rows before
autovacuum looks again; planned for a near-empty table, "these 2,000 references" becomes a scan of
every order of the marketplace, and each batch costs more than the one before. So while a long
run writes (``watching``, which ``db.writes.BulkWriter`` opens), the bulk statements
(``db.statements``) tell ``rows_written`` what they wrote, and a table read back by range is
analyzed each time as many rows have been written to it as it held: a handful of times however
long the history. Events are only ever read by key or id: they are not watched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Connection, text

#: the tables read back by range while a run grows them
WATCHED = frozenset({"orders", "order_items", "marketplace_stock_locks"})
#: rows written before a look, however small the table
MIN_GROWTH = 20_000


class GrowthWatch:
    """Counts the rows written to one table and analyzes it each time they reach its size."""

    def __init__(self, table: str, min_growth: int | None = None) -> None:
        self.table = table
        self.min_growth = MIN_GROWTH if min_growth is None else min_growth
        self._size: float | None = None
        self._written = 0
        self.analyzed = 0

    def written(self, conn: Connection, rows: int) -> None:
        """Note that ``rows`` were just written to the table, in ``conn``'s transaction."""
        if conn.dialect.name != "postgresql" or rows <= 0:
            return
        if self._size is None:
            estimate = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"), {"name": self.table}
            ).scalar()
            self._size = max(0.0, float(estimate or 0))
        self._written += rows
        if self._written >= max(self.min_growth, self._size):
            conn.execute(text(f"ANALYZE {self.table}"))
            self._size += self._written
            self._written = 0
            self.analyzed += 1


#: the watches of the run this thread writes for, by table
_watches: ContextVar[dict[str, GrowthWatch] | None] = ContextVar("ordersync_growth_watches", default=None)


@contextmanager
def watching() -> Iterator[dict[str, GrowthWatch]]:
    """Watch the tables this thread writes to until the block ends; the watches, by table (hand
    them to ``watch_for`` on another thread that writes for the same run)."""
    watches: dict[str, GrowthWatch] = {}
    token = _watches.set(watches)
    try:
        yield watches
    finally:
        _watches.reset(token)


def watch_for(watches: dict[str, GrowthWatch]) -> None:
    """Make this thread's writes count towards ``watches`` (a run's, from ``watching``)."""
    _watches.set(watches)


def rows_written(conn: Connection, table: str, rows: int) -> None:
    """Note that ``rows`` were written to ``table`` in ``conn``'s transaction; within a watched run
    on Postgres, analyze the table if it is watched and has grown enough since its last look."""
    watches = _watches.get()
    if watches is None or table not in WATCHED:
        return
    watch = watches.get(table)
    if watch is None:
        watch = watches[table] = GrowthWatch(table)
    watch.written(conn, rows)
