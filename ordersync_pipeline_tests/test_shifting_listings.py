"""No order lost to a listing that shifts while it is paged: orders changed mid-listing at random
pages, in either order the simulator lists in, concurrent page fetching on, on both databases."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from benchmarks.chaos_checks import transition_violations
from ordersync_pipeline.db import tables
from ordersync_pipeline.marketplaces.backmarket.adapter import parse_order
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.simulator.refurbed import RefurbedSimulator
from ordersync_pipeline_tests.backmarket_fake import make_adapter
from ordersync_pipeline_tests.sync_helpers import TOKEN, add_marketplace, events

ORDERINGS = ("id", "date_modification")
PAID = 1
PHONE = {"sku": "IPH13-128-BLK-A", "quantity": 1, "price": "389.00"}


def _market(engine, monkeypatch, simulator, **settings):
    monkeypatch.setenv("SHIFT_TEST_TOKEN", TOKEN)
    settings = {"rate_limit": None, "concurrency": 4, "backoff_factor": 0.01, **settings}
    return add_marketplace(engine, simulator, "bm-shift", "SHIFT_TEST_TOKEN", settings=settings)


def _listed(world, state: int | None = None) -> set[str]:
    count, _ = world.page_orders(1, 1, state=state)
    _, payloads = world.page_orders(1, count + 1, state=state)
    return {str(p["order_id"]) for p in payloads}


def _statuses(world) -> dict[str, str]:
    """Each listed order's normalised status at the marketplace now."""
    count, _ = world.page_orders(1, 1)
    return {str(p["order_id"]): str(parse_order(p).status) for p in world.page_orders(1, count + 1)[1]}


def _stored(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.reference: r.status for r in conn.execute(select(tables.orders.c.reference, tables.orders.c.status))}


def _assert_one_history_per_order(engine) -> None:
    """One OrderCreated per order, and one OrderStatusChanged per real transition: each order's
    events one chain to the statuses stored, no state (order and items) reached twice."""
    stored = _stored(engine)
    created = Counter(e.reference for e in events(engine) if e.type == "OrderCreated")
    assert set(created) == set(stored) and set(created.values()) == {1}
    assert transition_violations(engine) == []


@pytest.fixture
def history():
    with BackMarketSimulator(tokens={TOKEN}, seed=11, orders=400) as simulator:
        yield simulator


@pytest.mark.parametrize("order_by", ORDERINGS)
def test_a_first_modified_sync_loses_no_order_to_orders_changing_mid_listing(history, engine, monkeypatch, order_by):
    market = _market(engine, monkeypatch, history)
    before = _listed(history.world)
    history.faults.configure(order_by=order_by, seed=5, change_rate=0.3)

    report = market.sync("modified", page_size=10, batch_orders=50)

    assert history.faults.chaos.injected["change"] > 3
    assert set(_stored(engine)) == before  # nothing arrived meanwhile: every order, no other
    assert report.created == len(before) and report.failed == 0 and report.cursor
    history.faults.configure(change_rate=0)
    again = market.sync("modified", page_size=10)  # the changes made after their pages were read
    assert again.created == 0
    assert _stored(engine) == _statuses(history.world)
    _assert_one_history_per_order(engine)


@pytest.mark.parametrize("order_by", ORDERINGS)
def test_a_new_sync_loses_no_paid_order_to_orders_leaving_the_listing_mid_listing(engine, monkeypatch, order_by):
    """Paid orders cancelled while the paid listing is paged leave it: in either order, the rest
    moves back one place."""
    with BackMarketSimulator(tokens={TOKEN}, seed=4, orders=0) as simulator:
        market = _market(engine, monkeypatch, simulator)
        world = simulator.world
        paid = {str(world.create_order(lines=[PHONE], state=PAID, take_stock=False)) for _ in range(150)}
        simulator.faults.configure(order_by=order_by, seed=9, change_rate=0.4)

        report = market.sync("new", page_size=10, batch_orders=20)  # a re-read order lands in another batch

        assert simulator.faults.chaos.injected["change"] > 3
        assert set(_stored(engine)) == paid
        assert report.created == len(paid) and report.cursor is None
        still_paid = {ref for ref, status in _statuses(world).items() if status != "cancelled"}
        assert report.accepted == len(still_paid)
        assert set(world.accept_calls.values()) == {1}  # never twice
        _assert_one_history_per_order(engine)


@pytest.mark.parametrize("order_by", ORDERINGS)
def test_a_listing_that_keeps_still_is_read_once(history, engine, monkeypatch, order_by):
    market = _market(engine, monkeypatch, history)
    history.faults.configure(order_by=order_by)

    report = market.sync("modified", page_size=10)

    listed = len(_listed(history.world))
    assert report.created == listed and report.pages == -(-listed // 10)
    assert history.faults.requests["/ws/orders"] == report.pages


def test_a_listing_that_never_keeps_still_leaves_its_window_to_be_read_again(history, engine, monkeypatch):
    # Pages read one at a time: every change then shifts a page not yet asked for. A page fetched
    # ahead of a change does not shift, so with concurrent fetching the readings would be whole or
    # not depending on how the threads were scheduled.
    market = _market(engine, monkeypatch, history, listing_rereads=1, concurrency=1)
    history.faults.configure(order_by="date_modification", seed=2, change_rate=1.0)

    report = market.sync("modified", page_size=10)

    assert report.cursor is None  # the first window stays to be read again
    assert report.pages > -(-len(_listed(history.world)) // 10) and report.failed == 1
    assert any("kept shifting" in error and "may be missing" in error for error in report.error_samples)
    history.faults.configure(change_rate=0)
    again = market.sync("modified", page_size=10)
    assert again.cursor and set(_stored(engine)) == _listed(history.world)
    _assert_one_history_per_order(engine)


def test_care_folders_moving_to_the_end_of_their_listing_are_not_lost(bm):
    """``/ws/sav`` is paged by number too: a folder that moves on while it is paged (a listing by
    modification date) is read again and the one it pushed back is not skipped."""
    folders = [{"id": 50001 + n, "orderline": 700001 + n, "state": 0} for n in range(25)]
    served = {"pages": 0}

    def answer(request):
        page = int(request["query"].get("page", "1"))
        if served["pages"] == 1:  # after the first page, its first folder moves to the end
            folders.append(folders.pop(0))
        served["pages"] += 1
        chunk = folders[(page - 1) * 10 : page * 10]
        following = f"{bm.url}/ws/sav?page={page + 1}" if page * 10 < len(folders) else None
        return 200, {"count": len(folders), "next": following, "previous": None, "results": chunk}

    bm.routes[("GET", "/ws/sav")] = answer
    adapter = make_adapter(bm.url, concurrency=1)
    try:
        received = [c.care_id for page in adapter.iter_care_records(None) for c in page.care]
    finally:
        adapter.close()
    assert set(received) == {str(f["id"]) for f in folders}


def test_refurbed_cursor_paging_cannot_skip_orders_that_change_mid_listing(engine, monkeypatch):
    """Refurbed pages by ``starting_after`` an order id, sorted by id: an order that changes or leaves
    the listing moves no other, so a listing changed at every page still hands out every order."""
    monkeypatch.setenv("SHIFT_TEST_TOKEN", TOKEN)
    with RefurbedSimulator(tokens={TOKEN}, seed=4, orders=0) as simulator:
        market = add_marketplace(engine, simulator, "rf-shift", "SHIFT_TEST_TOKEN", "refurbed", {"rate_limit": None})
        world = simulator.world
        sku = world.catalogue()[0]["sku"]
        new = {str(world.create_order(lines=[{"sku": sku}], state="NEW")) for _ in range(120)}
        simulator.faults.configure(seed=3, change_rate=1.0)

        report = market.sync("new", page_size=10)

        assert simulator.faults.chaos.injected["change"] > 5
        stored = _stored(engine)
        rejected = {ref for ref in new if ref not in stored}  # left the listing before it was read
        assert len(stored) + len(rejected) == len(new) and report.created == len(stored)
        assert all(world.get_order(int(ref))["state"] == "REJECTED" for ref in rejected)
        assert report.accepted == sum(1 for ref in stored if world.get_order(int(ref))["state"] == "ACCEPTED")
        assert not any(world.get_order(int(ref))["state"] == "NEW" for ref in new)  # none left behind
        _assert_one_history_per_order(engine)
