"""The Back Market adapter against the Back Market simulator, over real HTTP."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from ordersync_pipeline.marketplaces.backmarket.adapter import BackMarketAdapter
from ordersync_pipeline.marketplaces.base import (
    AuthenticationError,
    MarketplaceConfig,
    Status,
    StockUpdate,
)

FAST = {"backoff_factor": 0.01, "backoff_jitter": 0, "max_retries": 2, "timeout": [2, 5]}
TOKEN = "s3cr3t-t0k3n-value"  # a token the simulator does not accept

SIM_TOKEN = "t0k"


@pytest.fixture
def sim():
    from ordersync_pipeline.simulator.backmarket import BackMarketSimulator

    simulator = BackMarketSimulator(tokens={SIM_TOKEN}, seed=7, orders=20, port=0).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def sim_adapter(sim):
    config = MarketplaceConfig(
        id=1, code="backmarket-fr", kind="backmarket", base_url=sim.url, token=SIM_TOKEN, settings=FAST
    )
    adapter = BackMarketAdapter(config)
    yield adapter
    adapter.close()


def test_simulator_history_pages_and_parses_whole(sim, sim_adapter):
    since = sim.world.now() - timedelta(days=365)
    result = list(sim_adapter.iter_modified_orders(since, page_size=7))
    orders = [o for p in result for o in p.orders]
    assert [e.error for p in result for e in p.errors] == []
    assert len(result) > 1 and all(len(p.orders) <= 7 for p in result)
    listed = sum(n for s, n in sim.world.state()["orders_by_state"].items() if s not in ("0", "8"))
    assert len({o.reference for o in orders}) == len(orders) == listed
    for o in orders:
        assert o.total_price == sum(i.unit_price * i.quantity for i in o.items)
        assert o.created_at.tzinfo is not None and o.modified_at >= o.created_at


def test_simulator_new_order_is_parsed_accepted_once_and_then_refused(sim, sim_adapter):
    skus = [listing["sku"] for listing in sim.world.catalogue()[:2]]
    lines = [{"sku": skus[0], "quantity": 2, "price": "199.00"}, {"sku": skus[1], "quantity": 1, "price": "89.90"}]
    order_id = sim.world.create_order(lines=lines, state=1)
    new = [o for p in sim_adapter.iter_new_orders(page_size=100) for o in p.orders]
    [got] = [o for o in new if o.reference == str(order_id)]
    assert (got.status, got.marketplace_state, got.total_price) == (Status.PAID, "1", Decimal("487.90"))
    assert [(i.sku, i.quantity, i.unit_price, i.status) for i in got.items] == [
        (skus[0], 2, Decimal("199.00"), Status.PAID),
        (skus[1], 1, Decimal("89.90"), Status.PAID),
    ]
    assert all(r.ok for r in sim_adapter.accept_items(got, got.items))
    assert {str(k): v for k, v in sim.world.accept_calls.items()} == {i.reference: 1 for i in got.items}
    # What Back Market serves afterwards is what ``accepted()`` predicts without asking.
    after = sim_adapter.get_order(got.reference)
    predicted = sim_adapter.accepted(got, {i.reference for i in got.items})
    for o in (after, predicted):
        assert (o.status, o.marketplace_state) == (Status.ACCEPTED, "3")
        assert [(i.status, i.marketplace_state) for i in o.items] == [(Status.ACCEPTED, "2")] * 2
    again = sim_adapter.accept_items(after, after.items)
    assert [r.ok for r in again] == [False, False] and "HTTP 400" in again[0].error


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"price": "abc"}, "price"),
        ({"date_creation": "DELETE"}, "date_creation"),
        ({"orderlines": {0: {"quantity": 0}}}, "orderlines[0].quantity"),
        ({"state": 42}, "state"),
    ],
)
def test_simulator_corrupt_order_is_one_record_error(sim, sim_adapter, overrides, field):
    from ordersync_pipeline.simulator.backmarket import DELETE

    sku = sim.world.catalogue()[0]["sku"]
    good, bad = (sim.world.create_order(lines=[{"sku": sku}], state=1) for _ in range(2))
    sim.world.corrupt_order(bad, {k: DELETE if v == "DELETE" else v for k, v in overrides.items()})
    result = list(sim_adapter.iter_new_orders(page_size=50))
    assert {str(good)} <= {o.reference for p in result for o in p.orders}
    [error] = [e for p in result for e in p.errors]
    assert error.reference == str(bad) and field in error.error


def test_simulator_documents_label_stock_and_care(sim, sim_adapter):
    listing = sim.world.catalogue()[0]
    order_id = sim.world.create_order(lines=[{"sku": listing["sku"]}], state=2)
    order = sim_adapter.get_order(str(order_id))
    assert sim_adapter.get_documents(order.reference).label_url is None
    sim.world.set_documents(order_id, delivery_note=True, label=True)
    docs = sim_adapter.get_documents(order.reference)
    assert docs.delivery_note_url.startswith(sim.url) and docs.label_url.startswith(f"{sim.url}/")
    assert docs.tracking_number

    results = sim_adapter.push_stock([StockUpdate(str(listing["listing_id"]), listing["sku"], 7)])
    assert results[0].ok and sim.world.listing_quantity(listing["sku"]) == 7

    care_id = sim.world.open_care(int(order.items[0].reference))
    care = [c for p in sim_adapter.iter_care_records(None) for c in p.care]
    assert (str(care_id), order.items[0].reference) in {(c.care_id, c.item_reference) for c in care}


def test_simulator_refuses_a_wrong_token(sim):
    config = MarketplaceConfig(id=1, code="backmarket-fr", kind="backmarket", base_url=sim.url, token=TOKEN)
    adapter = BackMarketAdapter(config)
    with pytest.raises(AuthenticationError, match="HTTP 401") as caught:
        list(adapter.iter_new_orders(page_size=10))
    assert TOKEN not in str(caught.value)
    adapter.close()


def test_simulator_rate_limit_is_ridden_out(sim):
    sim.faults.configure(rate_limit=[3, 0.3])
    settings = FAST | {"backoff_factor": 0.1, "max_retries": 6}
    config = MarketplaceConfig(1, "backmarket-fr", "backmarket", sim.url, SIM_TOKEN, settings=settings)
    adapter = BackMarketAdapter(config)
    pages = list(adapter.iter_modified_orders(sim.world.now() - timedelta(days=365), page_size=2))
    assert sum(len(p.orders) for p in pages) >= 10 and sim.faults.limited > 0
    adapter.close()
