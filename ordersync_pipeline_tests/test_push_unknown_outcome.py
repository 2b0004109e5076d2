"""A stock push whose outcome is unknown (applied at the marketplace, never confirmed) must be sent
again once the computed quantity is back where it was: invariant 5 of docs/design.md."""

from __future__ import annotations

from ordersync_pipeline import stock
from ordersync_pipeline.marketplaces.registry import adapter_for
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.stock.push import listings_to_push
from ordersync_pipeline_tests.sync_helpers import TOKEN, add_marketplace

SETTINGS = {"timeout": [2.0, 0.2], "max_retries": 1, "backoff_factor": 0.0, "rate_limit": None}


def test_a_push_that_timed_out_is_sent_again_when_the_quantity_comes_back(engine, monkeypatch):
    monkeypatch.setenv("MARKET_TEST_TOKEN", TOKEN)
    with BackMarketSimulator(tokens={TOKEN}, seed=3, orders=0) as sim:
        market = add_marketplace(engine, sim, "backmarket-test", "MARKET_TEST_TOKEN", settings=SETTINGS)
        listing = sim.world.catalogue()[0]
        sku = listing["sku"]
        stock.seed_stock(engine, [{"sku": sku, "on_hand": 2, "listing_ref": str(listing["listing_id"])}])
        stock.push_stock(engine, adapter_for)
        ordered = sim.world.create_order(lines=[{"sku": sku}], state=1)
        market.sync("new")
        stock.apply_pending_events(engine)
        # The marketplace applies the update, then the connection drops before any answer.
        sim.faults.configure(rules=[{"fault": "hang", "match": "/ws/listings", "times": 10}], timeout_seconds=0.3)
        assert stock.push_stock(engine, adapter_for).failed == 1
        sim.faults.configure(rules=[])
        sim.world.set_line_state(ordered, sku, 5)  # refunded before shipping: the unit is free again
        market.sync("modified")
        stock.apply_pending_events(engine)

        stock.push_stock(engine, adapter_for)

        (computed,) = listings_to_push(engine)
        assert sim.world.listing_quantity(sku) == computed.quantity == 2
