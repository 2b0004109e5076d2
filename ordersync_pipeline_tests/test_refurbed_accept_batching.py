"""Refurbed's new sync accepts the items of many orders together: one call per 50 items at most,
over real HTTP to the simulator, on both databases, and never an item twice."""

from __future__ import annotations

from sqlalchemy import select

from ordersync_pipeline.db import tables
from ordersync_pipeline.simulator.refurbed import RefurbedSimulator
from ordersync_pipeline_tests.sync_helpers import TOKEN, add_marketplace

BATCH = "/refb.merchant.v1.OrderItemService/BatchUpdateOrderItemsState"


def test_the_items_of_many_orders_are_accepted_fifty_a_call_and_once(engine, monkeypatch):
    monkeypatch.setenv("BATCH_TEST_TOKEN", TOKEN)
    with RefurbedSimulator(tokens={TOKEN}, seed=6, orders=0) as simulator:
        market = add_marketplace(engine, simulator, "rf-batch", "BATCH_TEST_TOKEN", "refurbed", {"rate_limit": None})
        world = simulator.world
        skus = [listing["sku"] for listing in world.catalogue()[:2]]
        # 60 orders of one item and 20 of two: 100 items to accept.
        orders = [world.create_order(lines=[{"sku": skus[0]}], state="NEW") for _ in range(60)]
        orders += [world.create_order(lines=[{"sku": s} for s in skus], state="NEW") for _ in range(20)]

        report = market.sync("new", page_size=50)

        assert report.accepted == 100 and report.failed == 0
        assert simulator.faults.requests[BATCH] == 2  # 100 items, 50 a call
        assert sorted(world.accept_calls.values()) == [1] * 100
        assert {world.get_order(o)["state"] for o in orders} == {"ACCEPTED"}
        with engine.connect() as conn:
            statuses = set(conn.execute(select(tables.order_items.c.status)).scalars())
        assert statuses == {"accepted"}

        again = market.sync("new", page_size=50)
        assert again.accepted == 0 and simulator.faults.requests[BATCH] == 2
        assert sorted(world.accept_calls.values()) == [1] * 100
