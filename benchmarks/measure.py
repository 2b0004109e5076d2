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
from sqlalchemy.exc import DBAPIError

from ordersync_pipeline.db.engine import make_engine, upgrade

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
        with engine.begin() as conn, contextlib.suppress(DBAPIError), conn.begin_nested():
            # Statement counts from the server itself, where it has the module loaded.
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


#: the tables of order data whose rows a phase writes (the sync's cursor row is bookkeeping)
ORDER_DATA = (
    "orders",
    "order_items",
    "order_events",
    "pending_order_events",
    "sync_errors",
    "care_folders",
    "inventory",
    "marketplace_stock",
    "marketplace_stock_locks",
)


@dataclass
class Counter:
    """Statements a block sent to the database and rows of order data it wrote.

    On Postgres both come from the server: rows from ``pg_stat_user_tables`` (inserted, updated
    and deleted), statements from ``pg_stat_statements`` when the server has it loaded, else
    counted at the driver's cursors (``COPY`` included). On SQLite, which runs in this process,
    from SQLAlchemy's cursor events."""

    statements: int = 0
    rows_written: int = 0
    #: where ``statements`` came from: pg_stat_statements, driver or sqlalchemy
    statements_from: str = ""


@contextlib.contextmanager
def counting(engine: Engine) -> Iterator[Counter]:
    counter = Counter()
    if engine.dialect.name == "postgresql":
        with _counting_on_postgres(engine, counter):
            yield counter
        return
    counter.statements_from = "sqlalchemy"

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        counter.statements += 1

    def after(conn, cursor, statement, parameters, context, executemany) -> None:
        if _writes_order_data(statement) and cursor.rowcount and cursor.rowcount > 0:
            counter.rows_written += cursor.rowcount

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def _writes_order_data(statement: str) -> bool:
    words = statement.split(None, 4)
    if not words or words[0].upper() not in ("INSERT", "UPDATE", "DELETE"):
        return False
    table = words[2] if words[0].upper() in ("INSERT", "DELETE") else words[1]
    return table.strip('"') in ORDER_DATA


@contextlib.contextmanager
def _counting_on_postgres(engine: Engine, counter: Counter) -> Iterator[None]:
    rows_before, statements_before = _server_counts(engine)
    driver = None if statements_before is not None else _DriverCount(engine)
    try:
        yield
    finally:
        if driver is not None:
            driver.stop()
        rows_after, statements_after = _server_counts(engine)
        counter.rows_written = rows_after - rows_before
        if driver is not None:
            counter.statements, counter.statements_from = driver.count, "driver"
        else:
            counter.statements, counter.statements_from = statements_after - statements_before, "pg_stat_statements"


def _server_counts(engine: Engine) -> tuple[int, int | None]:
    """Rows of order data written so far, and statements run so far (``None`` without
    ``pg_stat_statements``), as the server counts them for this database.

    A session reports its counts when it ends: the pool is emptied first, and the counts are read
    until they stand still."""
    engine.dispose()
    reader = create_engine(engine.url, poolclass=NullPool)
    try:
        last = None
        for _ in range(50):
            with reader.connect() as conn:
                counts = (_rows_written(conn), _statements_run(conn))
            if counts == last:
                return counts
            last = counts
            time.sleep(0.1)
        return last
    finally:
        reader.dispose()


def _rows_written(conn) -> int:
    return conn.execute(
        text(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"
            " WHERE schemaname = 'public' AND relname = ANY(:tables)"
        ),
        {"tables": list(ORDER_DATA)},
    ).scalar_one()


def _statements_run(conn) -> int | None:
    try:
        with conn.begin_nested():
            return conn.execute(
                text(
                    "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
                    " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    " AND query NOT LIKE '%pg_stat%'"
                )
            ).scalar_one()
    except DBAPIError:  # not installed in this database, or not loaded by the server
        return None


class _DriverCount:
    """Statements sent through the driver's cursors of ``engine``'s connections, ``COPY`` included:
    for a server without ``pg_stat_statements``. The engine's pool is emptied so that every
    connection of the block is a new one, made with a counting cursor."""

    def __init__(self, engine: Engine) -> None:
        import psycopg2.extensions

        self.engine = engine
        self.count = 0
        driver = self

        class CountingCursor(psycopg2.extensions.cursor):
            def execute(self, query, vars=None):
                driver.count += 1
                return super().execute(query, vars)

            def executemany(self, query, vars_list):
                driver.count += 1
                return super().executemany(query, vars_list)

            def copy_expert(self, sql, file, size=8192):
                driver.count += 1
                return super().copy_expert(sql, file, size)

        self._cursor = CountingCursor
        engine.dispose()
        event.listen(engine, "connect", self._on_connect)

    def _on_connect(self, dbapi_connection, _record) -> None:
        dbapi_connection.cursor_factory = self._cursor

    def stop(self) -> None:
        event.remove(self.engine, "connect", self._on_connect)
        self.engine.dispose()


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
