"""The sync types against each marketplace's simulator over real HTTP, on SQLite and on Postgres."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from ordersync_pipeline.db import tables
from ordersync_pipeline.marketplaces.base import AuthenticationError
from ordersync_pipeline_tests.marketplace_drivers import DRIVERS
from ordersync_pipeline_tests.sync_helpers import TOKEN, add_marketplace, events, order, snapshot

PHONE = {"sku": "IPH13-128-BLK-A", "quantity": 1, "price": "389.00"}
LAPTOP = {"sku": "MBA-M1-256-SLV-A", "quantity": 2, "price": "640.00"}
GALAXY = {"sku": "SGS21-256-GRY-B", "quantity": 1, "price": "249.00"}


@pytest.fixture(params=sorted(DRIVERS))
def market(request, engine, monkeypatch):
    driver = DRIVERS[request.param]
    monkeypatch.setenv("MARKET_TEST_TOKEN", TOKEN)
    with driver.simulator(TOKEN, seed=3) as simulator:
        yield add_marketplace(engine, simulator, f"{driver.kind}-test", "MARKET_TEST_TOKEN", driver.kind)


def test_new_sync_stores_paid_orders_accepts_their_items_once_and_writes_events(market, engine):
    world, driver = market.world, market.driver
    first = driver.paid_order(world, [PHONE, LAPTOP])
    second = driver.paid_order(world, [PHONE])

    report = market.sync("new")

    units = driver.units([PHONE, LAPTOP]) + driver.units([PHONE])
    assert (report.fetched, report.created, report.failed, report.accepted) == (2, 2, 0, units)
    head, items = order(engine, first)
    assert head.status == "accepted"
    assert {(i.sku, i.status, i.marketplace_state) for i in items} == {
        ("IPH13-128-BLK-A", "accepted", driver.accepted_item_state),
        ("MBA-M1-256-SLV-A", "accepted", driver.accepted_item_state),
    }
    assert sum(i.quantity for i in items) == 3
    assert all(i.accepted_at is not None for i in items)
    assert str(head.total_price) == "1669.00"  # 389 + 2 x 640
    assert [(e.reference, e.type, e.from_status, e.to_status) for e in events(engine)] == [
        (str(first), "OrderCreated", None, "paid"),
        (str(second), "OrderCreated", None, "paid"),
        (str(first), "OrderStatusChanged", "paid", "accepted"),
        (str(second), "OrderStatusChanged", "paid", "accepted"),
    ]
    refs = driver.item_refs(world, first) + driver.item_refs(world, second)
    assert all(world.accept_calls[int(ref)] == 1 for ref in refs)


def test_running_every_sync_twice_changes_nothing_and_never_accepts_twice(market, engine):
    world, driver = market.world, market.driver
    ordered = driver.paid_order(world, [PHONE])
    for sync_type in ("new", "modified", "care", "incomplete"):
        market.sync(sync_type)
    before = snapshot(engine)

    for sync_type in ("new", "modified", "care", "incomplete"):
        report = market.sync(sync_type)
        assert (report.created, report.updated, report.events) == (0, 0, 0), sync_type

    assert snapshot(engine) == before
    assert world.accept_calls[int(driver.item_refs(world, ordered)[0])] == 1


def test_an_order_first_seen_by_the_modified_sync_gets_created_then_status_changed(market, engine):
    world, driver = market.world, market.driver
    shipped = driver.accepted_order(world, [PHONE])
    driver.ship(world, shipped)

    report = market.sync("modified")

    assert report.created == 1 and report.cursor
    assert [(e.type, e.from_status, e.to_status) for e in events(engine)] == [
        ("OrderCreated", None, "paid"),
        ("OrderStatusChanged", "paid", "shipped"),
    ]
    head, items = order(engine, shipped)
    assert (head.status, items[0].status) == ("shipped", "shipped")
    assert head.tracking_number


def test_modified_sync_writes_one_event_per_status_change(market, engine):
    world, driver = market.world, market.driver
    ordered = driver.paid_order(world, [PHONE, GALAXY])
    market.sync("new")
    driver.release_item(world, ordered, GALAXY["sku"])
    market.sync("modified")
    driver.ship(world, ordered)
    market.sync("modified")
    market.sync("modified")

    changes = [(e.from_status, e.to_status) for e in events(engine) if e.type == "OrderStatusChanged"]
    assert changes[0] == ("paid", "accepted")
    assert len(changes) == 3  # accepted; one item released; shipped
    items = {i.sku: i.status for i in order(engine, ordered)[1]}
    assert items == {PHONE["sku"]: "shipped", GALAXY["sku"]: driver.released_status}


def test_care_sync_sets_the_care_id_on_the_item_the_folder_names_or_is_not_supported(market, engine):
    world, driver = market.world, market.driver
    ordered = driver.accepted_order(world, [PHONE, GALAXY])
    driver.ship(world, ordered)
    market.sync("modified")

    if not driver.supports_care:
        report = market.sync("care")
        assert not report.supported and report.fetched == 0
        return
    phone_item, other_item = driver.item_refs(world, ordered)
    care_id = driver.open_care(world, phone_item)

    report = market.sync("care")

    assert (report.fetched, report.updated) == (1, 1)
    assert {i.reference: i.care_id for i in order(engine, ordered)[1]} == {phone_item: care_id, other_item: None}
    with engine.connect() as conn:
        assert conn.execute(select(tables.care_folders.c.care_id)).scalars().all() == [care_id]


def test_incomplete_sync_fills_documents_and_tracking_only(market, engine):
    world, driver = market.world, market.driver
    ordered = driver.paid_order(world, [PHONE])
    market.sync("new")
    events_before = len(events(engine))
    documents = driver.complete_documents(world, ordered)

    report = market.sync("incomplete")

    assert (report.fetched, report.updated) == (1, 1)
    head, _ = order(engine, ordered)
    assert {name: getattr(head, name) for name in documents} == documents
    assert head.status == "accepted"
    assert len(events(engine)) == events_before
    assert market.sync("incomplete").fetched == 0  # complete orders are not asked again


def test_a_malformed_order_lands_in_sync_errors_and_the_rest_of_its_page_syncs(market, engine):
    world, driver = market.world, market.driver
    good = [driver.paid_order(world, [PHONE]) for _ in range(3)]
    bad = driver.paid_order(world, [PHONE])
    driver.corrupt_price(world, bad)

    report = market.sync("new", page_size=10)

    assert (report.created, report.failed) == (3, 1)
    with engine.connect() as conn:
        (error,) = conn.execute(select(tables.sync_errors)).all()
        synced = conn.execute(select(tables.orders.c.reference)).scalars().all()
    assert sorted(synced) == sorted(str(g) for g in good)
    assert error.reference == str(bad) and error.sync_type == "new"
    assert "twelve euros" in error.payload and ("price" in error.error or "charged" in error.error)

    driver.repair(world, bad)
    market.sync("new")
    with engine.connect() as conn:
        assert conn.execute(select(tables.sync_errors)).all() == []
        assert str(bad) in conn.execute(select(tables.orders.c.reference)).scalars().all()


def test_a_bad_token_fails_with_a_clear_message_without_the_token(market, monkeypatch):
    wrong = "wrong-token-a81b7"
    monkeypatch.setenv("MARKET_TEST_TOKEN", wrong)
    with pytest.raises(AuthenticationError) as failure:
        market.sync("new")
    assert market.code in str(failure.value) and "401" in str(failure.value)
    assert wrong not in str(failure.value) and wrong not in repr(failure.value)


def test_statements_per_batch_do_not_grow_with_the_number_of_orders(market, engine):
    world, driver = market.world, market.driver

    def statements_for(count: int) -> int:
        for _ in range(count):
            driver.paid_order(world, [PHONE, LAPTOP])
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            report = market.sync("modified", page_size=50, batch_orders=1000)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert report.created == count
        return len(seen)

    driver.paid_order(world, [PHONE])
    market.sync("modified")  # so that both measured syncs update known orders as well as create new ones
    assert statements_for(5) == statements_for(300)


def test_two_syncs_of_one_partition_at_once_leave_what_one_leaves(market, engine):
    """Two runs around Dagster's queue (say a schedule and a backfill): one waits for the other."""
    world, driver = market.world, market.driver
    ordered = [driver.paid_order(world, [PHONE, LAPTOP]) for _ in range(12)]
    market.simulator.faults.latency = 0.02  # long enough for the two to overlap
    reports, failures = [], []

    def sync():
        try:
            reports.append(market.sync("new", page_size=5))
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=sync) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    assert sorted(r.accepted for r in reports) == [0, 12 * driver.units([PHONE, LAPTOP])]
    assert all(world.accept_calls[int(ref)] == 1 for o in ordered for ref in driver.item_refs(world, o))
    kinds = [e.type for e in events(engine)]
    assert kinds.count("OrderCreated") == 12 and kinds.count("OrderStatusChanged") == 12
    with engine.connect() as conn:
        assert conn.execute(select(tables.sync_errors)).all() == []


def test_an_order_that_closes_long_after_it_was_released_is_still_seen(market, engine):
    """Refurbed has no "modified since": the orders still open in the database are read again."""
    world, driver = market.world, market.driver
    ordered = driver.paid_order(world, [PHONE], created=datetime.now(UTC) - timedelta(days=40))
    market.sync("new")
    market.sync("modified")  # the cursor is now; the order was released long before any window
    driver.ship(world, ordered)

    market.sync("modified")

    assert order(engine, ordered)[0].status == "shipped"
