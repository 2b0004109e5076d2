from datetime import datetime

from sqlalchemy import inspect, text

from ordersync_pipeline.db.engine import current_revision, make_engine, upgrade


def test_migrations_create_every_table_and_are_repeatable(db_url):
    engine = make_engine(db_url)
    upgrade(engine)  # a second upgrade is a no-op
    names = set(inspect(engine).get_table_names())
    assert {
        "marketplaces",
        "orders",
        "order_items",
        "order_events",
        "sync_cursors",
        "sync_errors",
        "care_folders",
        "inventory",
        "marketplace_stock",
        "marketplace_stock_locks",
        "pending_order_events",
    } <= names
    assert current_revision(engine) == "0008"
    engine.dispose()


def test_the_migrations_build_exactly_the_tables_the_code_declares(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ordersync_pipeline.db.tables import metadata

    engine = make_engine(db_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    # Any difference is a change to tables.py that no migration carries.
    assert differences == []


def test_events_not_yet_applied_stay_pending_across_the_move_to_a_queue(empty_db_url):
    engine = make_engine(empty_db_url)
    upgrade(engine, "0006")  # events were marked processed in a column of their own
    now = datetime(2026, 11, 1)
    with engine.begin() as conn:
        for n, processed in ((1, now), (2, None), (3, None)):
            conn.execute(
                text(
                    "INSERT INTO order_events (id, event_key, type, order_id, to_status, payload, created_at,"
                    " processed_at) VALUES (:id, :key, 'OrderCreated', :order, 'paid', '{}', :now, :done)"
                ),
                {"id": n, "key": f"k{n}", "order": 10 + n, "now": now, "done": processed},
            )
    upgrade(engine)
    with engine.connect() as conn:
        queued = conn.execute(text("SELECT event_id, order_id FROM pending_order_events ORDER BY 1")).all()
        columns = {c["name"] for c in inspect(conn).get_columns("order_events")}
    engine.dispose()
    assert [tuple(row) for row in queued] == [(2, 12), (3, 13)]
    assert "processed_at" not in columns
