"""The Back Market watcher beside the scheduled syncs of the same marketplace, on both databases:
orders found within seconds, each taken in, locked and accepted once, whoever sees it first."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from ordersync_pipeline.db import tables
from ordersync_pipeline.realtime.watcher import watch_interval
from ordersync_pipeline_tests.realtime_helpers import LINE, open_shop, wait_for

ORDERS = 6


@pytest.fixture
def shop(engine, monkeypatch):
    shop = open_shop(engine, monkeypatch, on_hand=10, bm_settings={"watch_interval": 1})
    with shop.stack:
        yield shop


def test_the_poll_interval_is_a_small_share_of_the_accounts_budget():
    assert watch_interval({}) == pytest.approx(2.0)  # 2 requests every 2 s: 5 % of 200 per 10 s
    assert watch_interval({"watch_share": 0.01}) == pytest.approx(10.0)
    assert watch_interval({"rate_limit": [100, 10], "watch_share": 0.1}) == pytest.approx(2.0)
    assert watch_interval({"watch_interval": 0.1}) == 1.0  # never faster than a second


def test_the_watcher_beside_scheduled_syncs_takes_each_order_in_once(shop):
    service = shop.service(receive=False)
    assert [w.marketplace.code for w in service.watchers] == ["backmarket-fr"]
    stop = threading.Event()
    reports = []

    def scheduled_syncs():
        while not stop.is_set():
            for sync_type in ("new", "modified"):
                reports.append(shop.bm.sync(sync_type))

    syncing = threading.Thread(target=scheduled_syncs)
    syncing.start()
    try:
        orders = []
        for _ in range(ORDERS):
            orders.append(shop.bm.world.create_order(lines=[LINE], state=1))
            time.sleep(0.4)
        # Back Market lowers its own listing; Refurbed's follows from the watcher (or a sync) and the pusher.
        wait_for(lambda: shop.listed() == (10 - ORDERS, 10 - ORDERS), what="Refurbed's listing lowered")
        wait_for(lambda: shop.count(tables.order_items, tables.order_items.c.accepted_at.is_not(None)) == ORDERS)
    finally:
        stop.set()
        syncing.join(timeout=120)
    assert len(reports) >= 2
    service.stop()

    lines = [line["id"] for order in orders for line in shop.bm.world.get_order(order)["orderlines"]]
    assert {line: shop.bm.world.accept_calls.get(line, 0) for line in lines} == {line: 1 for line in lines}
    per_order = Counter(shop.events())
    assert per_order == Counter(
        {(str(o), "OrderCreated"): 1 for o in orders} | {(str(o), "OrderStatusChanged"): 1 for o in orders}
    )
    assert Counter(shop.locks().values()) == {"locked": ORDERS}
    assert service.watchers[0].polls >= 2

    for sync_type in ("new", "modified"):
        report = shop.bm.sync(sync_type)
        assert (report.created, report.events, report.accepted) == (0, 0, 0)
    assert len(shop.events()) == 2 * ORDERS
    assert shop.listed() == (10 - ORDERS, 10 - ORDERS)
