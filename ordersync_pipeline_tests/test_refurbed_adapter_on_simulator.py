"""The Refurbed adapter against the Refurbed simulator, over real HTTP, and a sync through the registry."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from ordersync_pipeline.marketplaces.base import (
    AuthenticationError,
    MarketplaceConfig,
    Status,
    StockUpdate,
)
from ordersync_pipeline.marketplaces.refurbed.adapter import RefurbedAdapter
from ordersync_pipeline.marketplaces.registry import MarketplaceEntry, upsert_marketplaces
from ordersync_pipeline.simulator.refurbed import DELETE, RefurbedSimulator
from ordersync_pipeline_tests.sync_helpers import Marketplace, events
from ordersync_pipeline_tests.sync_helpers import order as stored_order

TOKEN = "rf-s3cr3t-t0k3n"  # a token the simulator does not accept
FAST = {"backoff_factor": 0.01, "backoff_jitter": 0, "max_retries": 2, "timeout": [2, 5]}

SIM_TOKEN = "rf-t0k"


@pytest.fixture
def sim():
    simulator = RefurbedSimulator(tokens={SIM_TOKEN}, seed=7, orders=60).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def sim_adapter(sim):
    adapter = RefurbedAdapter(MarketplaceConfig(2, "refurbed-de", "refurbed", sim.url, SIM_TOKEN, settings=FAST))
    yield adapter
    adapter.close()


def test_simulator_history_pages_and_parses_whole(sim, sim_adapter):
    result = list(sim_adapter.iter_modified_orders(sim.world.now() - timedelta(days=365), page_size=7))
    orders = [o for p in result for o in p.orders]
    assert [e.error for p in result for e in p.errors] == []
    assert len(result) > 2 and all(len(p.orders) <= 7 for p in result)
    assert len({o.reference for o in orders}) == len(orders) == 60
    for o in orders:
        assert o.total_price == sum(i.unit_price for i in o.items) and all(i.quantity == 1 for i in o.items)
        assert o.items[0].listing_ref in {x["offer_id"] for x in sim.world.catalogue()}


def test_simulator_new_order_is_accepted_once_and_then_refused(sim, sim_adapter):
    skus = [offer["sku"] for offer in sim.world.catalogue()[:2]]
    lines = [{"sku": skus[0], "quantity": 2, "price": "199.00"}, {"sku": skus[1], "price": "89.90"}]
    order_id = sim.world.create_order(lines=lines)
    [got] = [o for p in sim_adapter.iter_new_orders(page_size=100) for o in p.orders if o.reference == str(order_id)]
    assert (got.status, got.marketplace_state, got.total_price) == (Status.PAID, "NEW", Decimal("487.90"))
    assert [(i.sku, i.quantity, i.unit_price) for i in got.items] == [
        (skus[0], 1, Decimal("199.00")),
        (skus[0], 1, Decimal("199.00")),
        (skus[1], 1, Decimal("89.90")),
    ]
    assert all(r.ok for r in sim_adapter.accept_items(got, got.items))
    assert {str(k): v for k, v in sim.world.accept_calls.items()} == {i.reference: 1 for i in got.items}
    # What Refurbed serves afterwards is what ``accepted()`` predicts without asking.
    after = sim_adapter.get_order(got.reference)
    predicted = sim_adapter.accepted(got, {i.reference for i in got.items})
    for o in (after, predicted):
        assert (o.status, o.marketplace_state) == (Status.ACCEPTED, "ACCEPTED")
        assert [(i.status, i.marketplace_state) for i in o.items] == [(Status.ACCEPTED, "ACCEPTED")] * 3
    again = sim_adapter.accept_items(after, after.items[:1])
    assert not again[0].ok and "INVALID_ARGUMENT" in again[0].error


def test_simulator_accept_is_not_resent_after_a_5xx(sim, sim_adapter):
    order_id = sim.world.create_order(lines=[{"sku": sim.world.catalogue()[0]["sku"]}])
    order_ = sim_adapter.get_order(str(order_id))
    sim.faults.configure(fail_next=1)
    [result] = sim_adapter.accept_items(order_, order_.items)
    assert not result.ok and "HTTP 503 UNAVAILABLE" in result.error
    assert sim.world.accept_calls == {} and sim.world.get_order(order_id)["state"] == "NEW"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"items.0.total_charged": "abc"}, "items[0].total_charged"),
        ({"released_at": "DELETE"}, "released_at"),
        ({"state": "LOST"}, "state"),
        ({"items.0.id": 42}, "items[0].id"),
    ],
)
def test_simulator_corrupt_order_is_one_record_error(sim, sim_adapter, overrides, field):
    sku = sim.world.catalogue()[0]["sku"]
    good, bad = (sim.world.create_order(lines=[{"sku": sku}]) for _ in range(2))
    sim.world.corrupt_order(bad, {k: DELETE if v == "DELETE" else v for k, v in overrides.items()})
    result = list(sim_adapter.iter_new_orders(page_size=50))
    assert {str(good)} <= {o.reference for p in result for o in p.orders}
    [error] = [e for p in result for e in p.errors]
    assert error.reference == str(bad) and field in error.error


def test_simulator_tracking_and_stock(sim, sim_adapter):
    offers = sim.world.catalogue()
    order_id = sim.world.create_order(lines=[{"sku": offers[0]["sku"]}], state="ACCEPTED")
    assert sim_adapter.get_documents(str(order_id)).tracking_number is None
    sim.world.set_documents(order_id, tracking_url=True)
    assert sim_adapter.get_documents(str(order_id)).tracking_number == sim.world.tracking_url(order_id)
    results = sim_adapter.push_stock([StockUpdate(o["listing_id"], o["sku"], n) for n, o in enumerate(offers)])
    assert all(r.ok for r in results) and [r.quantity for r in results] == list(range(len(offers)))
    assert [sim.world.listing_quantity(o["sku"]) for o in offers] == list(range(len(offers)))


def test_simulator_refuses_a_wrong_token(sim):
    adapter = RefurbedAdapter(MarketplaceConfig(2, "refurbed-de", "refurbed", sim.url, TOKEN, settings=FAST))
    with pytest.raises(AuthenticationError, match="HTTP 401 UNAUTHENTICATED") as caught:
        list(adapter.iter_new_orders(page_size=10))
    assert TOKEN not in str(caught.value)
    adapter.close()


def test_simulator_rate_limit_headers_are_obeyed_so_no_429_reaches_the_caller():
    with RefurbedSimulator(tokens={SIM_TOKEN}, seed=7, orders=40, rate_limit=(4, 1.0)) as sim:
        adapter = RefurbedAdapter(MarketplaceConfig(2, "rf", "refurbed", sim.url, SIM_TOKEN, settings=FAST))
        pages = list(adapter.iter_modified_orders(sim.world.now() - timedelta(days=365), page_size=4))
        adapter.close()
        assert sum(len(p.orders) for p in pages) == 40 and len(pages) > 8
        assert sim.faults.limited == 0 and adapter.client.rate_limit.waited > 0


# -- the sync, through the registry, against the simulator ----------------------------------------------


@pytest.fixture
def refurbed(engine, monkeypatch):
    monkeypatch.setenv("REFURBED_TEST_TOKEN", SIM_TOKEN)
    with RefurbedSimulator(tokens={SIM_TOKEN}, seed=11, orders=30) as simulator:
        entry = MarketplaceEntry(
            code="refurbed-de", kind="refurbed", base_url=simulator.url, token_env="REFURBED_TEST_TOKEN", settings=FAST
        )
        upsert_marketplaces(engine, [entry])
        yield Marketplace(engine, simulator, "refurbed-de")


def test_every_sync_type_through_the_runner(refurbed, engine):
    world = refurbed.world
    waiting = world.state()["orders_by_state"]["NEW"]
    new = refurbed.sync("new")
    assert (new.fetched, new.created, new.failed) == (waiting, waiting, 0) and new.accepted >= waiting
    assert set(world.accept_calls.values()) == {1} and world.state()["orders_by_state"]["NEW"] == 0
    assert refurbed.sync("new").accepted == 0

    modified = refurbed.sync("modified")
    assert (modified.created, modified.failed) == (30 - waiting, 0)
    assert refurbed.sync("care").supported is False

    # An accepted order ships and another is cancelled at Refurbed: the modified sync sees both.
    accepted = [o for o in (world.get_order(i) for i in world._ids) if o["state"] == "ACCEPTED"]
    shipped, cancelled = int(accepted[0]["id"]), int(accepted[1]["id"])
    world.ship(shipped)
    for item in world.get_order(cancelled)["items"]:
        world.set_item_state(cancelled, item["id"], "CANCELLED")
    again = refurbed.sync("modified")
    assert again.updated == 2 and again.created == 0
    changes = [(e.reference, e.from_status, e.to_status) for e in events(engine) if e.type == "OrderStatusChanged"]
    assert (str(shipped), "accepted", "shipped") in changes and (str(cancelled), "accepted", "cancelled") in changes
    head, items = stored_order(engine, shipped)
    assert head.tracking_number == world.tracking_url(shipped) and {i.status for i in items} == {"shipped"}

    # The incomplete sync fills in a tracking URL Refurbed learnt since (set outside this project).
    target = world.create_order(lines=[{"sku": world.catalogue()[0]["sku"]}], state="ACCEPTED")
    assert refurbed.sync("modified").created == 1
    assert stored_order(engine, target)[0].tracking_number is None
    world.set_documents(target, tracking_url="https://track.example/late")
    incomplete = refurbed.sync("incomplete")
    assert incomplete.updated >= 1 and incomplete.failed == 0
    assert stored_order(engine, target)[0].tracking_number == "https://track.example/late"
