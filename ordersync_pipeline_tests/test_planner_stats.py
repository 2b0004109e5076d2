"""A run that grows a table fast analyzes it as it goes (Postgres), a handful of times in all."""

from __future__ import annotations

from sqlalchemy import text

from ordersync_pipeline.db.engine import make_engine
from ordersync_pipeline.db.planner_stats import GrowthWatch

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
        watch = GrowthWatch(["orders"], min_growth=STEP)
        added = 0
        seen = []
        for _ in range(8):
            with engine.begin() as conn:
                _add_orders(conn, added, STEP)
                added += STEP
                watch.added(conn, STEP)
            with engine.connect() as conn:
                seen.append(_planned_rows(conn))
    finally:
        engine.dispose()
    # 1,000 rows at a time: analyzed at 1k, 2k, 4k and 8k rows
    assert watch.analyzed == 4
    assert [int(rows) // STEP for rows in seen] == [1, 2, 2, 4, 4, 4, 4, 8]
