"""A run that grows a table fast analyzes it as it goes (Postgres), a handful of times in all;
the bulk statements say what they wrote, so that no caller has to."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from ordersync_pipeline.db import planner_stats
from ordersync_pipeline.db.engine import make_engine
from ordersync_pipeline.db.planner_stats import GrowthWatch
from ordersync_pipeline.db.statements import insert_rows
from ordersync_pipeline.db.tables import order_events, orders
from ordersync_pipeline.db.writes import BulkWriter

STEP = 1_000


def _add_orders(conn, start: int, count: int) -> None:
    conn.execute(
        text(
            "INSERT INTO orders (marketplace_id, reference, status, marketplace_state, currency, total_price,"
            " created_at, modified_at, synced_at)"
            " SELECT 1, 'R' || n, 'paid', '1', 'EUR', 1, now(), now(), now() FROM generate_series(:a, :b) AS n"
        ),
        {"a": start, "b": start + count - 1},
    )


def _planned_rows(conn) -> float:
    return conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'orders'")).scalar()


def test_tables_are_analyzed_each_time_they_have_doubled(postgres_url):
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO marketplaces (id, code, kind, base_url, token_env, active, settings, updated_at)"
                    " VALUES (1, 'm', 'backmarket', 'http://x', 'T', true, '{}', now())"
                )
            )
        watch = GrowthWatch("orders", min_growth=STEP)
        added = 0
        seen = []
        for _ in range(8):
            with engine.begin() as conn:
                _add_orders(conn, added, STEP)
                added += STEP
                watch.written(conn, STEP)
            with engine.connect() as conn:
                seen.append(_planned_rows(conn))
    finally:
        engine.dispose()
    # 1,000 rows at a time: analyzed at 1k, 2k, 4k and 8k rows
    assert watch.analyzed == 4
    assert [int(rows) // STEP for rows in seen] == [1, 2, 2, 4, 4, 4, 4, 8]


def test_a_bulk_writers_writes_to_a_watched_table_analyze_it_and_others_are_left_alone(postgres_url, monkeypatch):
    monkeypatch.setattr(planner_stats, "MIN_GROWTH", STEP)
    engine = make_engine(postgres_url)
    now = datetime.now(UTC).replace(tzinfo=None)
    order = {"marketplace_id": 1, "status": "paid", "marketplace_state": "1", "currency": "EUR", "total_price": 1}
    order |= {"created_at": now, "modified_at": now, "synced_at": now}
    event = {"event_key": "", "type": "OrderCreated", "to_status": "paid", "payload": {}, "created_at": now}
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO marketplaces (id, code, kind, base_url, token_env, active, settings, updated_at)"
                    " VALUES (1, 'm', 'backmarket', 'http://x', 'T', true, '{}', now())"
                )
            )
            for table in ("orders", "order_events"):  # only the writes analyze them
                conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))

        def write(conn, batch: int) -> None:
            insert_rows(conn, orders, [order | {"reference": f"{batch}-{n}"} for n in range(STEP)])
            insert_rows(conn, order_events, [event | {"event_key": f"{batch}-{n}", "order_id": n} for n in range(STEP)])

        with BulkWriter(engine) as writer:
            with writer.transaction() as conn:
                write(conn, 0)
            writer.submit([], lambda conn: write(conn, 1))  # on the writer's thread
            with writer.transaction() as conn:
                write(conn, 2)
        with engine.connect() as conn:
            rows = text("SELECT relname, reltuples FROM pg_class WHERE relname IN ('orders', 'order_events')")
            planned = dict(conn.execute(rows).all())
    finally:
        engine.dispose()
    # orders analyzed at 1k and 2k rows (the next look is due at 4k); events never
    assert (int(planned["orders"]) // STEP, planned["order_events"] <= 0) == (2, True)
