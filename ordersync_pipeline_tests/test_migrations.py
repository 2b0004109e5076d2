from sqlalchemy import inspect

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
    } <= names
    assert current_revision(engine) == "0001"
    engine.dispose()
