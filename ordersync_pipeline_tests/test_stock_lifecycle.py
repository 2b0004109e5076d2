"""Orders walked through life over real HTTP: sync, apply events, push to every marketplace.

Two Back Market accounts sell from one stock; each is a simulator of its own.
"""

from __future__ import annotations

import pytest
from dagster import instance_for_test
from sqlalchemy import select

from ordersync_pipeline.db import tables
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.launch import Launcher
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.stock import seed_stock
from ordersync_pipeline_tests.sync_helpers import TOKEN, add_marketplace

SKU = "IPH13-128-BLK-A"
LINE = {"sku": SKU, "quantity": 1, "price": "389.00"}


class Shop:
    def __init__(self, engine, db_url, fr, de, launcher):
        self.engine, self.db_url, self.fr, self.de, self.launcher = engine, db_url, fr, de, launcher

    def cycle(self, *types: str):
        """One sync of each marketplace, then events applied and stock pushed (with the checks)."""
        for marketplace in (self.fr, self.de):
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
        return self.fr.world.listing_quantity(SKU), self.de.world.listing_quantity(SKU)


@pytest.fixture
def shop(engine, db_url, monkeypatch):
    monkeypatch.setenv("BM_FR_TOKEN", TOKEN)
    monkeypatch.setenv("BM_DE_TOKEN", TOKEN)
    with (
        BackMarketSimulator(tokens={TOKEN}, seed=1, orders=0) as fr_sim,
        BackMarketSimulator(tokens={TOKEN}, seed=2, orders=0) as de_sim,
        instance_for_test() as instance,
    ):
        fr = add_marketplace(engine, fr_sim, "backmarket-fr", "BM_FR_TOKEN")
        de = add_marketplace(engine, de_sim, "backmarket-de", "BM_DE_TOKEN")
        listing = {s["sku"]: str(s["listing_id"]) for s in fr_sim.world.catalogue()}[SKU]
        listing_de = {s["sku"]: str(s["listing_id"]) for s in de_sim.world.catalogue()}[SKU]
        report = seed_stock(
            engine, [{"sku": SKU, "on_hand": 3, "listings": {"backmarket-fr": listing, "backmarket-de": listing_de}}]
        )
        assert report.ok
        launcher = Launcher(instance, OrdersyncDatabase(url=db_url, apply_config=False))
        shop = Shop(engine, db_url, fr, de, launcher)
        shop.cycle()
        assert shop.listed() == (3, 3)
        yield shop


def test_paid_accepted_shipped_consumes_once_and_every_listing_shows_the_new_quantity(shop):
    order = shop.fr.world.create_order(lines=[LINE], state=1)

    run = shop.cycle()
    assert shop.locks() == {str(order): "locked"}
    assert run.push["pushed"] == 2 and shop.listed() == (2, 2) and shop.on_hand() == 3

    shop.fr.world.ship(order, tracking_number="TRK1")
    shop.cycle()
    shop.cycle()
    assert shop.locks() == {str(order): "consumed"}
    assert shop.on_hand() == 2
    assert shop.listed() == (2, 2)


def test_paid_then_cancelled_releases_the_unit_on_every_listing(shop):
    order = shop.de.world.create_order(lines=[LINE], state=1)
    shop.cycle("modified")  # seen paid, not accepted
    assert shop.locks() == {str(order): "locked"} and shop.listed() == (2, 2)

    shop.de.world.set_line_state(order, SKU, 4)
    shop.cycle("modified")

    assert shop.locks() == {str(order): "released"}
    assert shop.on_hand() == 3 and shop.listed() == (3, 3)


def test_a_line_refunded_after_shipping_leaves_on_hand_alone(shop):
    order = shop.fr.world.create_order(lines=[LINE], state=1)
    shop.cycle()
    shop.fr.world.ship(order, tracking_number="TRK2")
    shop.cycle()
    assert shop.on_hand() == 2

    shop.fr.world.set_line_state(order, SKU, 6)
    run = shop.cycle()

    assert shop.locks() == {str(order): "consumed"}
    assert shop.on_hand() == 2 and shop.listed() == (2, 2)
    assert run.failed_checks == []


def test_two_marketplaces_selling_the_last_unit_give_one_lock_one_short_and_a_failed_check(shop):
    for _ in range(2):  # two units go to earlier orders
        shop.fr.world.create_order(lines=[LINE], state=1)
    shop.cycle()
    assert shop.listed() == (1, 1)

    on_fr = shop.fr.world.create_order(lines=[LINE], state=1)
    on_de = shop.de.world.create_order(lines=[LINE], state=1)
    run = shop.cycle()

    states = shop.locks()
    assert sorted([states[str(on_fr)], states[str(on_de)]]) == ["locked", "short"]
    assert shop.listed() == (0, 0)
    (oversell,) = [check for check in run.failed_checks if check[0] == "no_oversell"]
    named = " ".join(oversell[2])
    assert str(on_fr) in named and str(on_de) in named
