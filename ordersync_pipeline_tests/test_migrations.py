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
    assert current_revision(engine) == "0006"
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
