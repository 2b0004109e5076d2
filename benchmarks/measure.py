"""What the benchmark measures with: throwaway databases, statement counts, rows written, peak RSS."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, NullPool, create_engine, event, text

from ordersync_pipeline.db.engine import make_engine, upgrade
from ordersync_pipeline.db.statements import STAGE_PREFIX

POSTGRES_ADMIN_URL = os.environ.get(
    "ORDERSYNC_BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


@contextlib.contextmanager
def scratch_database(kind: str) -> Iterator[Engine]:
    """A fresh, migrated database of ``kind`` (postgres or sqlite), dropped afterwards."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="ordersync-bench-")
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()
            shutil.rmtree(folder, ignore_errors=True)
        return
    name = f"ordersync_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass
class Counter:
    """Statements issued on an engine and rows of order data they wrote, from SQLAlchemy's cursor
    events (which the pipeline also fires around its ``COPY``s)."""

    statements: int = 0
    rows_written: int = 0

    def before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements += 1

    def after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        # The sync's cursor row is bookkeeping, not order data: its one write is not counted.
        if "sync_cursors" in statement:
            return
        if _writes_rows(statement) and cursor.rowcount and cursor.rowcount > 0:
            self.rows_written += cursor.rowcount


def _writes_rows(statement: str) -> bool:
    """Whether a statement writes rows of a table: a ``COPY`` into a staging table does not (the
    ``INSERT ... SELECT`` that follows it does)."""
    head = statement.lstrip()
    if head.upper().startswith("COPY"):
        return not head.startswith(f'COPY "{STAGE_PREFIX}')
    return head.upper().startswith(_WRITES)


@contextlib.contextmanager
def counting(engine: Engine) -> Iterator[Counter]:
    counter = Counter()
    event.listen(engine, "before_cursor_execute", counter.before)
    event.listen(engine, "after_cursor_execute", counter.after)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter.before)
        event.remove(engine, "after_cursor_execute", counter.after)


@contextlib.contextmanager
def database_busy(engine: Engine) -> Iterator[list[float]]:
    """Seconds the database spent working on the block's statements, ``COPY`` included.

    Postgres keeps its own account (``pg_stat_database.active_time``, the time its sessions spent
    running statements); a session adds its share when it ends, so the pool is emptied before each
    reading. SQLite runs inside this process: the time spent in the driver's execute calls.
    """
    spent = [0.0]
    if engine.dialect.name != "postgresql":
        started: dict[int, float] = {}

        def before(conn, cursor, *args) -> None:
            started[id(cursor)] = time.perf_counter()

        def after(conn, cursor, *args) -> None:
            spent[0] += time.perf_counter() - started.pop(id(cursor), time.perf_counter())

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        try:
            yield spent
        finally:
            event.remove(engine, "before_cursor_execute", before)
            event.remove(engine, "after_cursor_execute", after)
        return
    before_ms = _active_ms(engine)
    try:
        yield spent
    finally:
        spent[0] = (_active_ms(engine) - before_ms) / 1000


def _active_ms(engine: Engine) -> float:
    engine.dispose()  # ended sessions have reported their time
    reader = create_engine(engine.url, poolclass=NullPool)
    try:
        with reader.connect() as conn:
            return conn.execute(
                text("SELECT active_time FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
    finally:
        reader.dispose()


def reset_peak_rss() -> None:
    """Start a new peak: Linux resets VmHWM to the current RSS when told "5" (where allowed)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Phase:
    seconds: float = 0.0
    peak_rss_mb: float = 0.0


@contextlib.contextmanager
def phase() -> Iterator[Phase]:
    """Wall time and peak RSS of this process over the block."""
    result = Phase()
    reset_peak_rss()
    started = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - started
        result.peak_rss_mb = peak_rss_mb()
