"""An order item the marketplace gives no SKU for, over real HTTP: its order is kept, its
siblings lock their units, and the item is flagged until it closes.

Refurbed's document says an item's ``sku`` "can be empty string" (an offer made without one); a
Back Market line without a ``listing`` takes the same path.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ordersync_pipeline.db import tables
from ordersync_pipeline.marketplaces.registry import adapter_for
from ordersync_pipeline.stock import all_checks, apply_pending_events, push_stock, seed_stock
from ordersync_pipeline_tests.marketplace_drivers import DRIVERS
from ordersync_pipeline_tests.sync_helpers import TOKEN, add_marketplace

SKU, NO_SKU = "IPH13-128-BLK-A", "PIX7-128-WHT-A"
LINES = [{"sku": SKU, "quantity": 1, "price": "389.00"}, {"sku": NO_SKU, "quantity": 1, "price": "299.00"}]
#: the second item of an order served without its SKU
BLANK_SECOND_SKU = {"backmarket": {"orderlines": {1: {"listing": ""}}}, "refurbed": {"items.1.sku": ""}}


@pytest.fixture(params=["backmarket", "refurbed"])
def markets(request, engine, monkeypatch):
    monkeypatch.setenv("BM_FR_TOKEN", TOKEN)
    monkeypatch.setenv("RB_DE_TOKEN", TOKEN)
    with (
        DRIVERS["backmarket"].simulator(TOKEN, seed=1) as bm_sim,
        DRIVERS["refurbed"].simulator(TOKEN, seed=2) as rb_sim,
    ):
        bm = add_marketplace(engine, bm_sim, "backmarket-fr", "BM_FR_TOKEN", "backmarket")
        rb = add_marketplace(engine, rb_sim, "refurbed-de", "RB_DE_TOKEN", "refurbed")
        listings = {
            sku: {m.code: {s["sku"]: str(s["listing_id"]) for s in m.world.catalogue()}[sku] for m in (bm, rb)}
            for sku in (SKU, NO_SKU)
        }
        assert seed_stock(engine, [{"sku": s, "on_hand": 3, "listings": listings[s]} for s in listings]).ok
        yield (bm, rb) if request.param == "backmarket" else (rb, bm)


def cycle(engine, markets):
    reports = [market.sync(sync_type) for market in markets for sync_type in ("new", "modified")]
    apply_pending_events(engine)
    assert push_stock(engine, adapter_for).failed == 0
    return reports


def stored_items(engine) -> list[tuple[str, str, str | None]]:
    query = (
        select(tables.order_items.c.reference, tables.order_items.c.sku, tables.marketplace_stock_locks.c.status)
        .outerjoin(
            tables.marketplace_stock_locks,
            tables.marketplace_stock_locks.c.order_item_id == tables.order_items.c.id,
        )
        .order_by(tables.order_items.c.id)
    )
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def sync_errors(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(tables.sync_errors.c.reference, tables.sync_errors.c.error))]


def test_an_item_without_a_sku_keeps_its_order_and_its_siblings_lock_and_it_is_flagged(engine, markets):
    seller, other = markets
    driver = seller.driver
    order = driver.paid_order(seller.world, LINES)
    seller.world.corrupt_order(order, BLANK_SECOND_SKU[driver.kind])
    first, blank = driver.item_refs(seller.world, order)

    new, *_ = cycle(engine, markets)

    # Both items are stored; the one with a SKU is accepted and holds its unit on every listing.
    assert stored_items(engine) == [(first, SKU, "locked"), (blank, "", None)]
    assert str(first) in {str(i) for i in seller.world.accept_calls}
    assert seller.world.listing_quantity(SKU) == other.world.listing_quantity(SKU) == 2
    # It counts as an error of the sync, kept in sync_errors, and a check names it.
    assert f"item {blank} has no SKU" in new.error_samples[0]
    errors = dict(sync_errors(engine))
    assert list(errors) == [str(order)] and f"item {blank} has no SKU" in errors[str(order)]
    failed = {check.name: check.details for check in all_checks(engine) if not check.passed}
    assert list(failed) == ["items_without_sku"]
    assert f"order {order}, item {blank}" in failed["items_without_sku"][0]

    # A later sync reads the order again and flags it again, instead of clearing it as synced.
    cycle(engine, markets)
    assert any(f"item {blank} has no SKU" in error for _, error in sync_errors(engine))

    # Once the item is closed there is nothing left to hold: the flag and the check clear.
    driver.cancel_item(seller.world, order, NO_SKU)
    cycle(engine, markets)
    assert sync_errors(engine) == []
    assert [check.name for check in all_checks(engine) if not check.passed] == []
