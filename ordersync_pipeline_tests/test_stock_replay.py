"""Replaying, batching and statement counts: applying is a function of the order book."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, text

from ordersync_pipeline.db.engine import make_engine, upgrade
from ordersync_pipeline.db.tables import (
    inventory,
    marketplace_stock,
    marketplaces,
    order_events,
    order_items,
    orders,
    pending_order_events,
)
from ordersync_pipeline.stock.apply import apply_pending_events
from ordersync_pipeline_tests.conftest import _create_postgres_database, _drop_postgres_database
from ordersync_pipeline_tests.stock_helpers import (
    add_listing,
    add_marketplace,
    book_state,
    build_busy_book,
    change_status,
    create_order,
    locks_by_item,
    on_hand,
    pending_events,
    requeue_every_event,
    set_on_hand,
)


@pytest.fixture
def fresh_engine(db_url, tmp_path):
    """A second fresh, migrated database of the same kind as ``engine``."""
    sqlite = db_url.startswith("sqlite")
    url = f"sqlite:///{tmp_path / 'copy.db'}" if sqlite else _create_postgres_database()
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()
    if not url.startswith("sqlite"):
        _drop_postgres_database(url)


def copy_order_book(source, target, initial_on_hand: dict[str, int]) -> None:
    """The order book and events (all pending again), the listings and the starting stock."""
    with source.connect() as src, target.begin() as dst:
        for table in (marketplaces, orders, order_items, order_events):
            rows = [dict(row._mapping) for row in src.execute(select(table).order_by(table.c.id))]
            dst.execute(table.insert(), rows)
            if dst.dialect.name == "postgresql":
                dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), {rows[-1]['id']})"))
        listings = [
            {k: v for k, v in row._mapping.items() if k != "id"} | {"locked_quantity": 0, "pushed_quantity": None}
            for row in src.execute(select(marketplace_stock))
        ]
        dst.execute(marketplace_stock.insert(), listings)
        counted = dict(src.execute(select(inventory.c.sku, inventory.c.counted_at)).all())
        dst.execute(
            inventory.insert(),
            [{"sku": sku, "on_hand": n, "counted_at": counted[sku]} for sku, n in initial_on_hand.items()],
        )
        requeue_every_event(dst)


def test_replaying_every_event_on_a_fresh_copy_gives_the_same_stock(engine, fresh_engine):
    bm, rf = add_marketplace(engine, "bm-fr"), add_marketplace(engine, "rf-de")
    for sku, units in {"A": 3, "B": 1, "C": 2}.items():
        set_on_hand(engine, sku, units)
        add_listing(engine, bm, sku, f"bm-{sku}")
        add_listing(engine, rf, sku, f"rf-{sku}")
    start = on_hand(engine)

    o1 = create_order(engine, bm, "o1", [("A", 2, "paid")])
    apply_pending_events(engine)
    o2 = create_order(engine, rf, "o2", [("B", 1, "paid")])
    o3 = create_order(engine, bm, "o3", [("B", 1, "paid")])
    apply_pending_events(engine)
    change_status(engine, o1, "shipped")
    change_status(engine, o2, "cancelled")
    create_order(engine, rf, "o4", [("A", 1, "shipped")])
    apply_pending_events(engine)
    change_status(engine, o3, "accepted")
    o5 = create_order(engine, rf, "o5", [("C", 2, "paid")])
    create_order(engine, bm, "o6", [("C", 1, "paid")])
    apply_pending_events(engine)
    change_status(engine, o5, "refunded")
    apply_pending_events(engine)
    expected = book_state(engine)
    assert {ref: lock[0] for ref, lock in expected["locks"].items()} == {
        "o1-1": "consumed",
        "o2-1": "released",
        "o3-1": "locked",
        "o4-1": "consumed",
        "o5-1": "released",
        "o6-1": "locked",
    }
    assert expected["on_hand"] == {"A": 0, "B": 1, "C": 2}

    copy_order_book(engine, fresh_engine, start)
    assert apply_pending_events(fresh_engine, batch_size=3).events == 10
    assert book_state(fresh_engine) == expected
    # And once more on top: nothing moves.
    with fresh_engine.begin() as conn:
        requeue_every_event(conn)
    apply_pending_events(fresh_engine)
    assert book_state(fresh_engine) == expected


def test_batch_size_does_not_change_the_outcome(engine, fresh_engine):
    build_busy_book(engine, orders_count=60)
    build_busy_book(fresh_engine, orders_count=60)
    apply_pending_events(engine, batch_size=500)
    apply_pending_events(fresh_engine, batch_size=4)
    state = book_state(engine)
    assert book_state(fresh_engine) == state
    statuses = {lock[0] for lock in state["locks"].values()}
    assert statuses == {"locked", "short", "consumed", "released"}  # the book exercises every state


def _count_statements(engine, action) -> int:
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def _orders(engine, marketplace_id, prefix, count):
    """Half the orders paid, half first seen shipped, spread over ten SKUs with plenty of stock."""
    for sku in range(10):
        set_on_hand(engine, f"{prefix}-{sku}", 1000)
    for n in range(count):
        status = "paid" if n % 2 else "shipped"
        create_order(engine, marketplace_id, f"{prefix}{n}", [(f"{prefix}-{n % 10}", 1, status)])


def test_statements_per_batch_do_not_grow_with_the_orders(engine):
    bm = add_marketplace(engine, "bm-fr")
    _orders(engine, bm, "small", 10)
    small = _count_statements(engine, lambda: apply_pending_events(engine, batch_size=500))
    _orders(engine, bm, "large", 200)
    large = _count_statements(engine, lambda: apply_pending_events(engine, batch_size=500))
    assert pending_events(engine) == []
    assert on_hand(engine)["large-0"] == 1000 - 20  # orders 0, 10, 20...: all shipped
    assert small == large
    assert large <= 15, large  # statements SQLAlchemy sends (a COPY goes past it)


def test_an_event_committed_late_with_an_earlier_id_is_applied_in_the_same_run(engine, monkeypatch):
    """Batches read on from the last id applied; an event with a lower id that a sync commits
    meanwhile (ids are taken before commit) is found by the run's last look from the start."""
    from ordersync_pipeline.stock import apply

    bm = add_marketplace(engine, "bm-fr")
    set_on_hand(engine, "late-0", 10)
    late_order = create_order(engine, bm, "late", [("late-0", 1, "paid")])
    for n in range(6):
        create_order(engine, bm, f"early{n}", [("late-0", 1, "shipped")])
    with engine.begin() as conn:
        held_back = conn.execute(select(order_events).where(order_events.c.order_id == late_order)).one()
        conn.execute(pending_order_events.delete().where(pending_order_events.c.event_id == held_back.id))
        conn.execute(order_events.delete().where(order_events.c.id == held_back.id))
    batches = []
    original = apply._apply_batch

    def apply_batch(*args):
        if len(batches) == 1:  # the first batch has committed: a late sync commits its event now
            with engine.begin() as conn:
                conn.execute(order_events.insert().values(held_back._asdict()))
                conn.execute(pending_order_events.insert().values(event_id=held_back.id, order_id=late_order))
        batches.append(original(*args))
        return batches[-1]

    monkeypatch.setattr(apply, "_apply_batch", apply_batch)
    report = apply_pending_events(engine, batch_size=3)

    assert pending_events(engine) == []
    assert batches[0][1] > held_back.id  # the first batch had already passed the late event's id
    assert report.events == 7
    assert locks_by_item(engine)["late-1"][0] == "locked"
