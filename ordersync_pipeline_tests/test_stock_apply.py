"""Applying order events to the stock, on SQLite and Postgres."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ordersync_pipeline.db.tables import marketplace_stock_locks, order_events
from ordersync_pipeline.stock.apply import apply_pending_events
from ordersync_pipeline_tests.stock_helpers import (
    add_listing,
    add_marketplace,
    change_status,
    create_order,
    locked_quantities,
    locks_by_item,
    on_hand,
    pending_events,
    set_on_hand,
)


@pytest.fixture
def shop(engine):
    """One marketplace listing SKU A (3 on hand) and B (1 on hand)."""
    bm = add_marketplace(engine, "bm-fr")
    set_on_hand(engine, "A", 3)
    set_on_hand(engine, "B", 1)
    add_listing(engine, bm, "A", "L-A")
    add_listing(engine, bm, "B", "L-B")
    return bm


def available(engine, sku):
    with engine.connect() as conn:
        locked = sum(
            r.quantity
            for r in conn.execute(
                select(marketplace_stock_locks).where(
                    marketplace_stock_locks.c.sku == sku, marketplace_stock_locks.c.status == "locked"
                )
            )
        )
    return on_hand(engine)[sku] - locked


def test_paid_accepted_shipped_consumes_once(engine, shop):
    order = create_order(engine, shop, "o1", [("A", 2, "paid")])
    report = apply_pending_events(engine)
    assert (report.events, report.locked) == (1, 1)
    assert locks_by_item(engine)["o1-1"] == ("locked", 2, "A")
    assert on_hand(engine)["A"] == 3 and available(engine, "A") == 1
    assert locked_quantities(engine)[(shop, "A")] == 2

    change_status(engine, order, "accepted")
    assert apply_pending_events(engine).locked == 0
    assert locks_by_item(engine)["o1-1"] == ("locked", 2, "A")

    change_status(engine, order, "shipped")
    report = apply_pending_events(engine)
    assert report.consumed == 1
    assert locks_by_item(engine)["o1-1"] == ("consumed", 2, "A")
    assert on_hand(engine)["A"] == 1 and available(engine, "A") == 1
    assert locked_quantities(engine)[(shop, "A")] == 0

    # Applying again, and an event repeating the same status, change nothing.
    assert apply_pending_events(engine).events == 0
    change_status(engine, order, "shipped")
    report = apply_pending_events(engine)
    assert (report.events, report.consumed) == (1, 0)
    assert on_hand(engine)["A"] == 1


def test_item_first_seen_shipped_is_locked_and_consumed_in_one_step(engine, shop):
    create_order(engine, shop, "o1", [("A", 1, "shipped")])
    apply_pending_events(engine)
    assert locks_by_item(engine)["o1-1"] == ("consumed", 1, "A")
    assert on_hand(engine)["A"] == 2
    with engine.connect() as conn:
        lock = conn.execute(select(marketplace_stock_locks)).one()
        last_event = conn.execute(select(order_events.c.id)).scalar_one()
    assert lock.event_id == last_event and lock.settled_at is not None


def test_paid_then_cancelled_releases(engine, shop):
    order = create_order(engine, shop, "o1", [("B", 1, "paid")])
    apply_pending_events(engine)
    assert available(engine, "B") == 0
    change_status(engine, order, "cancelled")
    report = apply_pending_events(engine)
    assert report.released == 1
    assert locks_by_item(engine)["o1-1"] == ("released", 1, "B")
    assert on_hand(engine)["B"] == 1 and available(engine, "B") == 1
    assert locked_quantities(engine)[(shop, "B")] == 0


def test_returned_after_shipping_keeps_on_hand_as_after_the_ship(engine, shop):
    order = create_order(engine, shop, "o1", [("A", 1, "paid")])
    apply_pending_events(engine)
    change_status(engine, order, "shipped")
    apply_pending_events(engine)
    assert on_hand(engine)["A"] == 2
    change_status(engine, order, "returned")
    apply_pending_events(engine)
    assert locks_by_item(engine)["o1-1"] == ("consumed", 1, "A")
    assert on_hand(engine)["A"] == 2


def test_mixed_items_of_one_order(engine, shop):
    order = create_order(engine, shop, "o1", [("A", 1, "paid"), ("B", 1, "paid")])
    apply_pending_events(engine)
    change_status(engine, order, "shipped", {1: "shipped", 2: "refunded"})
    apply_pending_events(engine)
    locks = locks_by_item(engine)
    assert locks["o1-1"][0] == "consumed" and locks["o1-2"][0] == "released"
    assert on_hand(engine) == {"A": 2, "B": 1}


def test_last_unit_sold_on_two_marketplaces_in_one_batch(engine, shop):
    rf = add_marketplace(engine, "rf-de")
    add_listing(engine, rf, "B", "R-B")
    create_order(engine, shop, "bm-1", [("B", 1, "paid")])
    create_order(engine, rf, "rf-1", [("B", 1, "paid")])
    report = apply_pending_events(engine)
    assert (report.locked, report.short) == (1, 1)
    locks = locks_by_item(engine)
    assert locks["bm-1-1"][0] == "locked"  # its event came first
    assert locks["rf-1-1"][0] == "short"
    assert on_hand(engine)["B"] == 1 and available(engine, "B") == 0
    assert locked_quantities(engine) == {(shop, "A"): 0, (shop, "B"): 1, (rf, "B"): 0}


def test_short_is_promoted_when_a_unit_is_freed(engine, shop):
    first = create_order(engine, shop, "o1", [("B", 1, "paid")])
    create_order(engine, shop, "o2", [("B", 1, "paid")])
    apply_pending_events(engine)
    assert locks_by_item(engine)["o2-1"][0] == "short"
    change_status(engine, first, "cancelled")
    report = apply_pending_events(engine)
    assert report.promoted == 1
    locks = locks_by_item(engine)
    assert locks["o1-1"][0] == "released" and locks["o2-1"][0] == "locked"
    assert available(engine, "B") == 0


def test_short_that_ships_takes_only_free_units_and_short_that_cancels_is_released(engine, shop):
    create_order(engine, shop, "o1", [("B", 1, "paid")])
    second = create_order(engine, shop, "o2", [("B", 1, "paid")])
    third = create_order(engine, shop, "o3", [("B", 1, "paid")])
    apply_pending_events(engine)
    change_status(engine, second, "shipped")
    change_status(engine, third, "cancelled")
    report = apply_pending_events(engine)
    locks = locks_by_item(engine)
    assert locks["o1-1"][0] == "locked"  # keeps the unit it holds
    assert locks["o2-1"][0] == "consumed" and locks["o3-1"][0] == "released"
    assert on_hand(engine)["B"] == 1 and available(engine, "B") == 0
    assert [(s.sku, s.missing) for s in report.shortfalls] == [("B", 1)]


def test_unknown_sku_is_short_with_zero_on_hand(engine, shop):
    create_order(engine, shop, "o1", [("NEW", 1, "paid")])
    apply_pending_events(engine)
    assert locks_by_item(engine)["o1-1"][0] == "short"
    assert on_hand(engine)["NEW"] == 0
    assert (shop, "NEW") not in locked_quantities(engine)


def test_quantity_change_while_open_moves_the_lock(engine, shop):
    order = create_order(engine, shop, "o1", [("A", 1, "paid")])
    apply_pending_events(engine)
    from ordersync_pipeline.db.tables import order_items

    with engine.begin() as conn:
        conn.execute(order_items.update().where(order_items.c.order_id == order).values(quantity=3))
    change_status(engine, order, "accepted")
    apply_pending_events(engine)
    assert locks_by_item(engine)["o1-1"] == ("locked", 3, "A")
    assert available(engine, "A") == 0


def test_sku_change_while_open_moves_the_lock_and_frees_the_old_sku(engine, shop):
    order = create_order(engine, shop, "o1", [("A", 1, "paid")])
    apply_pending_events(engine)
    assert locked_quantities(engine)[(shop, "A")] == 1
    from ordersync_pipeline.db.tables import order_items

    with engine.begin() as conn:
        conn.execute(order_items.update().where(order_items.c.order_id == order).values(sku="B"))
    change_status(engine, order, "accepted")
    apply_pending_events(engine)
    assert locks_by_item(engine)["o1-1"] == ("locked", 1, "B")
    assert (available(engine, "A"), available(engine, "B")) == (3, 0)
    assert locked_quantities(engine)[(shop, "A")] == 0 and locked_quantities(engine)[(shop, "B")] == 1


def test_events_are_marked_processed_in_batches(engine, shop):
    for n in range(7):
        create_order(engine, shop, f"o{n}", [("A", 1, "paid")])
    report = apply_pending_events(engine, batch_size=3)
    assert (report.events, report.batches, report.locked, report.short) == (7, 3, 3, 4)
    assert pending_events(engine) == []
