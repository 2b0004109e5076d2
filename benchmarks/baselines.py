"""The two yardsticks a sync is measured against, on the same rows.

- the row-at-a-time baseline: what the old command did, per order a SELECT, then an INSERT or an
  UPDATE, and the same for each line, pages read one after the other;
- the floor: the rows the sync wrote, bulk-loaded into empty copies of their tables (``COPY`` on
  Postgres; on SQLite, one ``executemany`` per table in one transaction). No sync can beat it.
  The fastest of ``FLOOR_LOADS`` loads counts: one load alone varied by half from run to run.
"""

from __future__ import annotations

import io
import time
from datetime import datetime, timedelta

from sqlalchemy import Engine, Table, select, text

from ordersync_pipeline.db.tables import order_events, order_items, orders, pending_order_events, utc_naive, utcnow
from ordersync_pipeline.marketplaces.base import MarketplaceAdapter, Order

#: the tables a first sync writes
FLOOR_TABLES = (orders, order_items, order_events, pending_order_events)
#: the queue of pending events is empty again once the stock has applied them: its rows are read
#: back from the events they stood for
_READ_BACK = {pending_order_events.name: "SELECT id, order_id FROM order_events"}
FLOOR_LOADS = 3


def row_at_a_time(engine: Engine, marketplace_id: int, adapter: MarketplaceAdapter, limit: int) -> tuple[int, float]:
    """Sync up to ``limit`` orders the old way; (orders, seconds), fetching included."""
    started = time.perf_counter()
    done = 0
    since = datetime.now().astimezone() - timedelta(days=90)
    for page in adapter.iter_modified_orders(since, 50):
        for order in page.orders[: limit - done]:
            with engine.begin() as conn:
                _write_one(conn, marketplace_id, order)
            done += 1
        if done >= limit:
            break
    return done, time.perf_counter() - started


def _write_one(conn, marketplace_id: int, order: Order) -> None:
    now = utcnow()
    values = {
        "status": str(order.status),
        "marketplace_state": order.marketplace_state,
        "currency": order.currency,
        "total_price": order.total_price,
        "delivery_note_url": order.delivery_note_url,
        "tracking_number": order.tracking_number,
        "created_at": utc_naive(order.created_at),
        "modified_at": utc_naive(order.modified_at),
        "synced_at": now,
    }
    found = conn.execute(
        select(orders.c.id).where(orders.c.marketplace_id == marketplace_id, orders.c.reference == order.reference)
    ).scalar()
    if found is None:
        found = conn.execute(
            orders.insert()
            .values(marketplace_id=marketplace_id, reference=order.reference, **values)
            .returning(orders.c.id)
        ).scalar_one()
    else:
        conn.execute(orders.update().where(orders.c.id == found).values(**values))
    for item in order.items:
        line = {
            "sku": item.sku,
            "listing_ref": item.listing_ref,
            "quantity": item.quantity,
            "unit_price": item.unit_price,
            "status": str(item.status),
            "marketplace_state": item.marketplace_state,
        }
        item_id = conn.execute(
            select(order_items.c.id).where(order_items.c.order_id == found, order_items.c.reference == item.reference)
        ).scalar()
        if item_id is None:
            conn.execute(order_items.insert().values(order_id=found, reference=item.reference, **line))
        else:
            conn.execute(order_items.update().where(order_items.c.id == item_id).values(**line))


def copy_floor(engine: Engine) -> tuple[int, float]:
    """Bulk-load every row a sync wrote into empty copies of its tables; (rows, seconds)."""
    if engine.dialect.name == "postgresql":
        return _postgres_floor(engine)
    return _sqlite_floor(engine)


def _postgres_floor(engine: Engine) -> tuple[int, float]:
    dumps: list[tuple[str, str, io.StringIO, int]] = []
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table in FLOOR_TABLES:
            names = ", ".join(c.name for c in table.columns)
            buffer = io.StringIO()
            cursor.copy_expert(f"COPY ({_read_back(table)}) TO STDOUT", buffer)
            buffer.seek(0)
            cursor.execute(f"CREATE TABLE floor_{table.name} (LIKE {table.name} INCLUDING ALL)")
            dumps.append((table.name, names, buffer, buffer.getvalue().count("\n")))
        raw.commit()
        seconds = float("inf")
        for _ in range(FLOOR_LOADS):
            cursor.execute(f"TRUNCATE {', '.join(f'floor_{name}' for name, *_ in dumps)}")
            raw.commit()
            started = time.perf_counter()
            for name, names, buffer, _ in dumps:
                buffer.seek(0)
                cursor.copy_expert(f"COPY floor_{name} ({names}) FROM STDIN", buffer)
            raw.commit()
            seconds = min(seconds, time.perf_counter() - started)
        for name, *_ in dumps:
            cursor.execute(f"DROP TABLE floor_{name}")
        raw.commit()
    finally:
        raw.close()
    return sum(count for *_, count in dumps), seconds


def _sqlite_floor(engine: Engine) -> tuple[int, float]:
    loads: list[tuple[str, list[str], list[tuple]]] = []
    with engine.begin() as conn:
        for table in FLOOR_TABLES:
            schema = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE tbl_name = :t AND sql IS NOT NULL ORDER BY type DESC"),
                {"t": table.name},
            ).scalars()
            for sql in schema:  # the table first, then its indexes
                conn.exec_driver_sql(_rename(sql, table.name))
            names = [c.name for c in table.columns]
            rows = conn.exec_driver_sql(_read_back(table)).fetchall()
            loads.append((table.name, names, [tuple(r) for r in rows]))
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        seconds = float("inf")
        for _ in range(FLOOR_LOADS):
            for name, *_ in loads:
                cursor.execute(f"DELETE FROM floor_{name}")
            raw.commit()
            started = time.perf_counter()
            for name, names, rows in loads:
                marks = ", ".join("?" for _ in names)
                cursor.executemany(f"INSERT INTO floor_{name} ({', '.join(names)}) VALUES ({marks})", rows)
            raw.commit()
            seconds = min(seconds, time.perf_counter() - started)
        for name, *_ in loads:
            cursor.execute(f"DROP TABLE floor_{name}")
        raw.commit()
    finally:
        raw.close()
    return sum(len(rows) for *_, rows in loads), seconds


def _read_back(table: Table) -> str:
    """The query that reads back the rows the sync wrote into ``table``."""
    return _READ_BACK.get(table.name) or f"SELECT {', '.join(c.name for c in table.columns)} FROM {table.name}"


def _rename(sql: str, table: str) -> str:
    """A table's or index's CREATE statement, made for ``floor_<table>``."""
    for old, new in (
        (f'TABLE "{table}"', f'TABLE "floor_{table}"'),
        (f"TABLE {table} ", f"TABLE floor_{table} "),
        (f'ON "{table}"', f'ON "floor_{table}"'),
        (f"ON {table} ", f"ON floor_{table} "),
        ("INDEX ", "INDEX floor_"),
        ("INDEX floor_IF", "INDEX IF"),
        ("CONSTRAINT ", "CONSTRAINT floor_"),
    ):
        sql = sql.replace(old, new)
    return sql
