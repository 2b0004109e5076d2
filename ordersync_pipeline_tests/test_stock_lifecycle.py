"""Orders walked through life over real HTTP: sync, apply events, push to every marketplace.

Back Market and Refurbed sell from one stock, each a simulator of its own; every test runs with
the order placed on each of them in turn, and checks both listings.
"""

from __future__ import annotations

import pytest
from dagster import instance_for_test
from sqlalchemy import select

from ordersync_pipeline.db import tables
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.launch import Launcher
from ordersync_pipeline.stock import seed_stock
from ordersync_pipeline_tests.marketplace_drivers import DRIVERS
from ordersync_pipeline_tests.sync_helpers import TOKEN, add_marketplace

SKU = "IPH13-128-BLK-A"
LINE = {"sku": SKU, "quantity": 1, "price": "389.00"}


class Shop:
    """Two marketplaces: ``seller`` takes the test's order, ``other`` lists the same SKU."""

    def __init__(self, engine, seller, other, launcher):
        self.engine, self.seller, self.other, self.launcher = engine, seller, other, launcher
        self.driver = seller.driver

    def order(self) -> int:
        return self.driver.paid_order(self.seller.world, [LINE])

    def cycle(self, *types: str):
        """One sync of each marketplace, then events applied and stock pushed (with the checks)."""
        for marketplace in (self.seller, self.other):
            for sync_type in types or ("new", "modified"):
                marketplace.sync(sync_type)
        return self.launcher.stock()

    def on_hand(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(tables.inventory.c.on_hand).where(tables.inventory.c.sku == SKU)).scalar()

    def locks(self) -> dict[str, str]:
        """Lock state per order reference."""
        query = (
            select(tables.orders.c.reference, tables.marketplace_stock_locks.c.status)
            .join(tables.order_items, tables.order_items.c.order_id == tables.orders.c.id)
            .join(
                tables.marketplace_stock_locks,
                tables.marketplace_stock_locks.c.order_item_id == tables.order_items.c.id,
            )
        )
        with self.engine.connect() as conn:
            return dict(conn.execute(query).all())

    def listed(self) -> tuple[int, int]:
        """The quantity each marketplace shows: the seller's, then the other's."""
        return self.seller.world.listing_quantity(SKU), self.other.world.listing_quantity(SKU)


@pytest.fixture(params=["backmarket", "refurbed"])
def shop(request, engine, db_url, monkeypatch):
    monkeypatch.setenv("BM_FR_TOKEN", TOKEN)
    monkeypatch.setenv("RB_DE_TOKEN", TOKEN)
    bm_driver, rb_driver = DRIVERS["backmarket"], DRIVERS["refurbed"]
    with (
        bm_driver.simulator(TOKEN, seed=1) as bm_sim,
        rb_driver.simulator(TOKEN, seed=2) as rb_sim,
        instance_for_test() as instance,
    ):
        bm = add_marketplace(engine, bm_sim, "backmarket-fr", "BM_FR_TOKEN", "backmarket")
        rb = add_marketplace(engine, rb_sim, "refurbed-de", "RB_DE_TOKEN", "refurbed")
        listings = {
            market.code: {s["sku"]: str(s["listing_id"]) for s in market.world.catalogue()}[SKU] for market in (bm, rb)
        }
        assert seed_stock(engine, [{"sku": SKU, "on_hand": 3, "listings": listings}]).ok
        launcher = Launcher(instance, OrdersyncDatabase(url=db_url, apply_config=False))
        seller, other = (bm, rb) if request.param == "backmarket" else (rb, bm)
        shop = Shop(engine, seller, other, launcher)
        shop.cycle()
        assert shop.listed() == (3, 3)
        yield shop


def test_paid_accepted_shipped_consumes_once_and_every_listing_shows_the_new_quantity(shop):
    order = shop.order()

    run = shop.cycle()
    assert shop.locks() == {str(order): "locked"}
    assert run.push["pushed"] == 2 and shop.listed() == (2, 2) and shop.on_hand() == 3

    shop.driver.ship(shop.seller.world, order)
    shop.cycle()
    shop.cycle()
    assert shop.locks() == {str(order): "consumed"}
    assert shop.on_hand() == 2
    assert shop.listed() == (2, 2)


def test_paid_then_cancelled_releases_the_unit_on_every_listing(shop):
    order = shop.order()
    shop.cycle("modified")  # seen paid, not accepted
    assert shop.locks() == {str(order): "locked"} and shop.listed() == (2, 2)

    shop.driver.cancel_item(shop.seller.world, order, SKU)
    shop.cycle("modified")

    assert shop.locks() == {str(order): "released"}
    assert shop.on_hand() == 3 and shop.listed() == (3, 3)


def test_an_item_returned_after_shipping_leaves_on_hand_alone(shop):
    order = shop.order()
    shop.cycle()
    shop.driver.ship(shop.seller.world, order)
    shop.cycle()
    assert shop.on_hand() == 2

    shop.driver.return_item(shop.seller.world, order, SKU)
    run = shop.cycle()

    assert shop.locks() == {str(order): "consumed"}
    assert shop.on_hand() == 2 and shop.listed() == (2, 2)
    assert run.failed_checks == []


def test_both_marketplaces_selling_the_last_unit_give_one_lock_one_short_and_a_failed_check(shop):
    for _ in range(2):  # two units go to earlier orders
        shop.order()
    shop.cycle()
    assert shop.listed() == (1, 1)

    on_seller = shop.order()
    on_other = shop.other.driver.paid_order(shop.other.world, [LINE])
    run = shop.cycle()

    states = shop.locks()
    assert sorted([states[str(on_seller)], states[str(on_other)]]) == ["locked", "short"]
    assert shop.listed() == (0, 0)
    (oversell,) = [check for check in run.failed_checks if check[0] == "no_oversell"]
    named = " ".join(oversell[2])
    assert str(on_seller) in named and str(on_other) in named


def test_an_order_cancelled_before_any_sync_saw_it_still_gets_its_listing_back(shop):
    """The marketplace lowered its listing itself when the order came in; nothing was locked."""
    order = shop.order()
    shop.driver.cancel_item(shop.seller.world, order, SKU)
    assert shop.listed() == (2, 3)

    shop.cycle("modified")

    assert shop.locks() == {str(order): "released"}
    assert shop.on_hand() == 3 and shop.listed() == (3, 3)
