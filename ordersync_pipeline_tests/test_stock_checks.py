"""Each stock check passes on a healthy book and fails, naming the culprit, on one built to break it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ordersync_pipeline.db.tables import (
    inventory,
    marketplace_stock,
    marketplace_stock_locks,
    orders,
    pending_order_events,
)
from ordersync_pipeline.stock.apply import apply_pending_events
from ordersync_pipeline.stock.checks import (
    all_checks,
    check_locked_quantity,
    check_locks_match_status,
    check_no_short_locks,
    check_no_stale_events,
    check_stock_not_negative,
)
from ordersync_pipeline.stock.summary import stock_summary
from ordersync_pipeline_tests.stock_helpers import (
    add_listing,
    add_marketplace,
    age_events,
    change_status,
    create_order,
    set_on_hand,
)


@pytest.fixture
def book(engine):
    """A healthy book: two marketplaces, an order locked, one shipped, one cancelled."""
    bm = add_marketplace(engine, "bm-fr")
    rf = add_marketplace(engine, "rf-de")
    set_on_hand(engine, "A", 3)
    set_on_hand(engine, "B", 1)
    for mp in (bm, rf):
        add_listing(engine, mp, "A", f"{mp}-A")
        add_listing(engine, mp, "B", f"{mp}-B")
    create_order(engine, bm, "o1", [("A", 1, "paid")])
    shipped = create_order(engine, rf, "o2", [("A", 1, "paid")])
    cancelled = create_order(engine, bm, "o3", [("B", 1, "paid")])
    apply_pending_events(engine)
    change_status(engine, shipped, "shipped")
    change_status(engine, cancelled, "cancelled")
    apply_pending_events(engine)
    return {"bm": bm, "rf": rf}


def test_a_healthy_book_passes_every_check(engine, book):
    results = all_checks(engine, max_event_age=timedelta(minutes=5))
    assert [(r.name, r.passed) for r in results] == [
        ("stock_not_negative", True),
        ("locks_match_status", True),
        ("locked_quantity_matches_locks", True),
        ("no_stale_events", True),
        ("no_short_locks", True),
        ("items_without_sku", True),
    ]
    summary = stock_summary(engine)
    assert [(s.sku, s.on_hand, s.locked, s.available, s.short) for s in summary.skus] == [
        ("A", 2, 1, 1, 0),
        ("B", 1, 0, 1, 0),
    ]
    assert summary.locks == {"locked": 1, "short": 0, "consumed": 1, "released": 1}
    assert "available" in summary.render() and "consumed 1" in summary.render()


def test_negative_available_fails(engine, book):
    # A recount below what open orders hold.
    with engine.begin() as conn:
        conn.execute(inventory.update().where(inventory.c.sku == "A").values(on_hand=0))
    result = check_stock_not_negative(engine)
    assert not result.passed and result.count == 1
    assert result.details == ["sku A: on_hand 0, locked 1, available -1"]


def test_negative_on_hand_fails(engine, book):
    with engine.begin() as conn:
        conn.execute(inventory.update().where(inventory.c.sku == "B").values(on_hand=-1))
    result = check_stock_not_negative(engine)
    assert not result.passed and "sku B" in result.details[0]


def test_lock_not_matching_status_fails_only_once_events_are_applied(engine, book):
    # The order shipped, its event is written but not applied yet: the order is not judged.
    order_id = _order_id(engine, "o1")
    change_status(engine, order_id, "shipped")
    assert check_locks_match_status(engine).passed
    # The event marked applied without its effect: the lock is still "locked" for a shipped item.
    with engine.begin() as conn:
        conn.execute(pending_order_events.delete())
    result = check_locks_match_status(engine)
    assert not result.passed
    assert result.details == ["order o1, item o1-1 (A): shipped but lock is locked"]


def _order_id(engine, reference):
    with engine.connect() as conn:
        return conn.execute(select(orders.c.id).where(orders.c.reference == reference)).scalar_one()


def test_item_without_lock_fails(engine, book):
    with engine.begin() as conn:
        conn.execute(marketplace_stock_locks.delete().where(marketplace_stock_locks.c.status == "released"))
    result = check_locks_match_status(engine)
    assert not result.passed and result.details == ["order o3, item o3-1 (B): cancelled but no lock"]


def test_locked_quantity_drift_fails(engine, book):
    with engine.begin() as conn:
        conn.execute(
            marketplace_stock.update()
            .where(marketplace_stock.c.marketplace_id == book["rf"], marketplace_stock.c.sku == "A")
            .values(locked_quantity=2)
        )
    result = check_locked_quantity(engine)
    assert not result.passed
    assert result.details == ["rf-de, sku A: locked_quantity 2, locks hold 0"]


def test_stale_event_fails(engine, book):
    create_order(engine, book["bm"], "o4", [("A", 1, "paid")])
    assert check_no_stale_events(engine, timedelta(minutes=5)).passed
    age_events(engine, timedelta(hours=1))
    result = check_no_stale_events(engine, timedelta(minutes=5))
    assert not result.passed and result.count == 1 and "order o4" in result.details[0]
    apply_pending_events(engine)
    assert check_no_stale_events(engine, timedelta(minutes=5)).passed


def test_short_lock_fails_naming_both_orders_and_marketplaces(engine, book):
    # The last unit of B sold on both marketplaces in the same batch.
    create_order(engine, book["bm"], "bm-9", [("B", 1, "paid")])
    create_order(engine, book["rf"], "rf-9", [("B", 1, "paid")])
    report = apply_pending_events(engine)
    assert (report.locked, report.short) == (1, 1)
    result = check_no_short_locks(engine)
    assert not result.passed
    assert result.details == ["rf-de, order rf-9, item rf-9-1: 1 x B without stock (units held by: bm-fr order bm-9)"]
