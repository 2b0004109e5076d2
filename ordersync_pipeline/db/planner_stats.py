"""Keeping Postgres' planner statistics in step with tables a long run grows fast.

The planner sizes a table by its last ``ANALYZE``. A first sync of a long history, or the applier
catching up on it, grows ``orders`` from nothing to hundreds of thousands of rows before
autovacuum looks again; planned for a near-empty table, "these 2,000 references" becomes a scan of
every order of the marketplace, and each batch costs more than the one before. So a run analyzes
the tables it grows each time they have doubled: a handful of times however long the history.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

#: rows added before a look, however small the table
MIN_GROWTH = 20_000


class GrowthWatch:
    """Counts the rows a run adds to ``tables`` and analyzes them each time they have doubled."""

    def __init__(self, tables: Sequence[str], min_growth: int = MIN_GROWTH) -> None:
        self.tables = list(tables)
        self.min_growth = min_growth
        self._size: float | None = None
        self._added = 0
        self.analyzed = 0

    def added(self, conn: Connection, rows: int) -> None:
        """``rows`` were just added (in ``conn``'s transaction) to the first of the tables."""
        if conn.dialect.name != "postgresql" or rows <= 0:
            return
        if self._size is None:
            estimate = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"), {"name": self.tables[0]}
            ).scalar()
            self._size = max(0.0, float(estimate or 0))
        self._added += rows
        if self._added >= max(self.min_growth, self._size):
            conn.execute(text("ANALYZE " + ", ".join(self.tables)))
            self._size += self._added
            self._added = 0
            self.analyzed += 1
