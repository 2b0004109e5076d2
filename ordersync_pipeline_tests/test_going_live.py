"""Going live: a shelf count and a marketplace's history, synced over real HTTP in any order.

Back Market and Refurbed sell one stock, each a simulator of its own; each test runs with the
history on each of them in turn. A count says what the shelf held when it was taken: units that
left before it are not in it, units still held by open orders are, units that left after it come
off it, whether the sync saw them leave before or after the count was imported.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ordersync_pipeline.db import tables
from ordersync_pipeline.db.tables import utcnow
from ordersync_pipeline.marketplaces.registry import adapter_for
from ordersync_pipeline.stock import StockFileError, all_checks, apply_pending_events, import_stock, push_stock
from ordersync_pipeline_tests.marketplace_drivers import DRIVERS
from ordersync_pipeline_tests.sync_helpers import TOKEN, add_marketplace

SKU = "IPH13-128-BLK-A"
LINE = {"sku": SKU, "quantity": 1, "price": "389.00"}


class Shop:
    """Two marketplaces selling ``SKU`` from one shelf; ``seller`` has the history."""

    def __init__(self, engine, tmp_path, seller, other):
        self.engine, self.tmp_path, self.seller, self.other = engine, tmp_path, seller, other
        self.driver = seller.driver
        self.counts = 0

    def count(self, units: int, counted_at=None):
        """``ordersync stock import`` of a shelf count, each listing named by its marketplace's id."""
        columns, cells = ["sku", "on_hand"], [SKU, str(units)]
        for market in (self.seller, self.other):
            listing_id = {s["sku"]: str(s["listing_id"]) for s in market.world.catalogue()}[SKU]
            columns.append(f"listing:{market.code}")
            cells.append(listing_id)
        self.counts += 1
        path = self.tmp_path / f"count-{self.counts}.csv"
        path.write_text(",".join(columns) + "\n" + ",".join(cells) + "\n")
        report = import_stock(self.engine, path, counted_at=counted_at)
        assert report.ok, report.errors
        self.push()
        return report

    def sync(self) -> None:
        """``ordersync sync``: every marketplace, new then modified, then the stock applied and pushed."""
        for market in (self.seller, self.other):
            for sync_type in ("new", "modified"):
                market.sync(sync_type)
        apply_pending_events(self.engine)
        self.push()

    def push(self) -> None:
        report = push_stock(self.engine, adapter_for)
        assert report.failed == 0, report.errors

    def history(self, days_ago: int = 30) -> tuple[list[int], int]:
        """Three orders of ``SKU`` that shipped weeks ago, and one paid and not shipped."""
        world, released = self.seller.world, utcnow() - timedelta(days=days_ago)
        shipped = [self.ship_long_ago(world, released + timedelta(hours=n)) for n in range(3)]
        return shipped, self.driver.paid_order(world, [LINE])

    def ship_long_ago(self, world, placed) -> int:
        if self.driver.kind == "backmarket":
            return world.create_order(lines=[LINE], state=3, date_creation=placed, date_shipping=placed + timedelta(2))
        # Refurbed says nothing of when an item shipped: only when its order was released.
        return world.create_order(lines=[LINE], state="SHIPPED", released_at=placed)

    def on_hand(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(tables.inventory.c.on_hand).where(tables.inventory.c.sku == SKU)).scalar()

    def listed(self) -> tuple[int, int]:
        return self.seller.world.listing_quantity(SKU), self.other.world.listing_quantity(SKU)

    def locks(self) -> dict[str, str]:
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


@pytest.fixture(params=["backmarket", "refurbed"])
def shop(request, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("BM_FR_TOKEN", TOKEN)
    monkeypatch.setenv("RB_DE_TOKEN", TOKEN)
    with (
        DRIVERS["backmarket"].simulator(TOKEN, seed=1) as bm_sim,
        DRIVERS["refurbed"].simulator(TOKEN, seed=2) as rb_sim,
    ):
        bm = add_marketplace(engine, bm_sim, "backmarket-fr", "BM_FR_TOKEN", "backmarket")
        rb = add_marketplace(engine, rb_sim, "refurbed-de", "RB_DE_TOKEN", "refurbed")
        seller, other = (bm, rb) if request.param == "backmarket" else (rb, bm)
        yield Shop(engine, tmp_path, seller, other)


def _first_sync_then_count(shop):
    shop.sync()
    shop.count(5)


def _count_then_first_sync(shop):
    shop.count(5)
    shop.sync()


def _count_months_ago_then_recount(shop):
    # Counted before the history shipped: those three left the count, and the shelf was
    # restocked since. The recount says what is there now.
    shop.count(5, counted_at=utcnow() - timedelta(days=60))
    shop.sync()
    assert (shop.on_hand(), shop.listed()) == (2, (1, 1))
    shop.count(5)


@pytest.mark.parametrize(
    "steps", [_count_then_first_sync, _first_sync_then_count, _count_months_ago_then_recount], ids=lambda f: f.__name__
)
def test_a_history_older_than_the_count_stays_off_it_whichever_comes_first(shop, steps):
    shipped, paid = shop.history()

    steps(shop)

    # 5 on the shelf, 1 of them held by the paid order: 4 to sell on every marketplace.
    assert shop.on_hand() == 5
    assert shop.listed() == (4, 4)
    assert shop.locks() == {str(paid): "locked"} | {str(order): "consumed" for order in shipped}
    assert [check.name for check in all_checks(shop.engine) if not check.passed] == []


@pytest.mark.parametrize("seen", ["before_the_import", "after_the_import"])
def test_a_recount_with_an_order_shipped_between_the_count_and_the_import_neither_loses_nor_doubles_it(shop, seen):
    shop.count(5, counted_at=utcnow() - timedelta(hours=1))
    paid = shop.driver.paid_order(shop.seller.world, [LINE])
    shop.sync()
    assert (shop.on_hand(), shop.listed()) == (5, (4, 4))

    # The shelf is counted with the paid order's unit still on it: 5. Then the order ships, and
    # the count is imported later with the time it was taken.
    counted_at = utcnow() - timedelta(seconds=2)
    shop.driver.ship(shop.seller.world, paid)
    if seen == "before_the_import":
        shop.sync()
        assert shop.on_hand() == 4
        report = shop.count(5, counted_at=counted_at)
        assert report.left_since_count == 1
    else:
        shop.count(5, counted_at=counted_at)
        assert (shop.on_hand(), shop.listed()) == (5, (4, 4))
        shop.sync()

    assert shop.locks() == {str(paid): "consumed"}
    assert shop.on_hand() == 4
    assert shop.listed() == (4, 4)


@pytest.mark.parametrize("shop", ["backmarket"], indirect=True)
def test_an_order_placed_before_the_count_that_shipped_after_it_comes_off_by_its_shipping_date(shop):
    # First seen by the sync after the count, already shipped: only Back Market's date_shipping
    # says the unit was still on the shelf when it was counted.
    shop.count(5, counted_at=utcnow() - timedelta(days=1))
    order = shop.seller.world.create_order(lines=[LINE], state=3, date_creation=utcnow() - timedelta(days=3))

    shop.sync()

    assert shop.locks() == {str(order): "consumed"}
    assert (shop.on_hand(), shop.listed()) == (4, (4, 4))


def test_a_count_time_in_the_future_is_refused(shop):
    with pytest.raises(StockFileError, match="in the future"):
        shop.count(5, counted_at=utcnow() + timedelta(days=1))
