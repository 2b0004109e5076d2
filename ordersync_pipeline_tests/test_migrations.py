from datetime import datetime

from sqlalchemy import inspect, select, text

from ordersync_pipeline.db import tables
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
        "notification_inbox",
        "realtime_heartbeats",
        "listings_pending_raise",
    } <= names
    assert current_revision(engine) == "0010"
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


def test_existing_stock_keeps_how_it_was_pushed_and_counted_across_the_cut_over_columns(empty_db_url):
    engine = make_engine(empty_db_url)
    upgrade(engine, "0007")
    synced, stocked = datetime(2026, 11, 2, 10), datetime(2026, 11, 1, 9)
    with engine.begin() as conn:
        for n, kind in ((1, "refurbed"), (2, "backmarket")):
            conn.execute(
                text(
                    "INSERT INTO marketplaces (id, code, kind, base_url, token_env, active, settings, updated_at)"
                    " VALUES (:id, :code, :kind, 'http://x', 'T', true, '{}', :now)"
                ),
                {"id": n, "code": f"m{n}", "kind": kind, "now": stocked},
            )
        listings = [(1, "A", "61000001"), (1, "B", "RF-B"), (2, "A", "BM-A"), (2, "B", "4002")]
        for n, (marketplace, sku, ref) in enumerate(listings, start=1):
            conn.execute(
                text(
                    "INSERT INTO marketplace_stock (id, marketplace_id, sku, listing_ref, buffer, locked_quantity)"
                    " VALUES (:id, :m, :sku, :ref, 0, 0)"
                ),
                {"id": n, "m": marketplace, "sku": sku, "ref": ref},
            )
        conn.execute(
            text("INSERT INTO inventory (id, sku, on_hand, updated_at) VALUES (1, 'A', 3, :t)"), {"t": stocked}
        )
        conn.execute(
            text(
                "INSERT INTO orders (id, marketplace_id, reference, status, marketplace_state, currency, total_price,"
                " created_at, modified_at, synced_at) VALUES (1, 1, 'o1', 'shipped', 'S', 'EUR', '1', :t, :t, :s)"
            ),
            {"t": stocked, "s": synced},
        )
        for n, status in ((1, "shipped"), (2, "paid")):
            conn.execute(
                text(
                    "INSERT INTO order_items (id, order_id, reference, sku, quantity, unit_price, status,"
                    " marketplace_state) VALUES (:id, 1, :ref, 'A', 1, '1', :status, 'S')"
                ),
                {"id": n, "ref": f"i{n}", "status": status},
            )
    upgrade(engine)
    with engine.connect() as conn:
        stock = tables.marketplace_stock.c
        kinds = conn.execute(select(stock.listing_ref, stock.listing_kind).order_by(stock.id)).all()
        counted = conn.execute(select(tables.inventory.c.counted_at)).scalar_one()
        items = tables.order_items.c
        shipped = conn.execute(select(items.shipped_at).order_by(items.id)).scalars().all()
    engine.dispose()
    # Refurbed listings were sent by id when made of digits, else by SKU; Back Market's by id.
    assert [tuple(row) for row in kinds] == [("61000001", "id"), ("RF-B", "sku"), ("BM-A", "id"), ("4002", "id")]
    assert counted == stocked
    assert shipped == [synced, None]
