"""A run that grows a table fast analyzes it as it goes (Postgres), a handful of times in all."""

from __future__ import annotations

from sqlalchemy import text

from ordersync_pipeline.db.engine import make_engine
from ordersync_pipeline.db.planner_stats import MIN_GROWTH, GrowthWatch


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


def test_tables_are_analyzed_each_time_they_have_grown_by_half(postgres_url):
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO marketplaces (id, code, kind, base_url, token_env, active, settings, updated_at)"
                    " VALUES (1, 'm', 'backmarket', 'http://x', 'T', true, '{}', now())"
                )
            )
        watch = GrowthWatch(["orders"])
        added = 0
        seen = []
        for _ in range(8):
            with engine.begin() as conn:
                _add_orders(conn, added, MIN_GROWTH)
                added += MIN_GROWTH
                watch.added(conn, MIN_GROWTH)
            with engine.connect() as conn:
                seen.append(_planned_rows(conn))
    finally:
        engine.dispose()
    # 5,000 rows at a time: analyzed at 5k, 10k, 15k, then once half as many again had come: 25k, 40k
    assert watch.analyzed == 5
    assert [int(rows) // MIN_GROWTH for rows in seen] == [1, 2, 3, 3, 5, 5, 5, 8]
