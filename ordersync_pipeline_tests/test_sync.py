"""The four sync types against the Back Market simulator over real HTTP, on SQLite and on Postgres."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from ordersync_pipeline.db import tables
from ordersync_pipeline.marketplaces.base import AuthenticationError
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline_tests.sync_helpers import TOKEN, add_marketplace, events, order, snapshot

PHONE = {"sku": "IPH13-128-BLK-A", "quantity": 1, "price": "389.00"}
LAPTOP = {"sku": "MBA-M1-256-SLV-A", "quantity": 2, "price": "640.00"}


@pytest.fixture
def bm(engine, monkeypatch):
    monkeypatch.setenv("BM_TEST_TOKEN", TOKEN)
    with BackMarketSimulator(tokens={TOKEN}, seed=3, orders=0, port=0) as simulator:
        yield add_marketplace(engine, simulator, "backmarket-fr", "BM_TEST_TOKEN")


def line_ids(world, order_id) -> list[int]:
    return [line["id"] for line in world.get_order(order_id)["orderlines"]]


def test_new_sync_stores_paid_orders_accepts_their_lines_once_and_writes_events(bm, engine):
    first = bm.world.create_order(lines=[PHONE, LAPTOP], state=1)
    second = bm.world.create_order(lines=[PHONE], state=1)

    report = bm.sync("new")

    assert (report.fetched, report.created, report.failed, report.accepted) == (2, 2, 0, 3)
    head, items = order(engine, first)
    assert head.status == "accepted" and head.marketplace_state == "3"
    assert {(i.sku, i.quantity, i.status, i.marketplace_state) for i in items} == {
        ("IPH13-128-BLK-A", 1, "accepted", "2"),
        ("MBA-M1-256-SLV-A", 2, "accepted", "2"),
    }
    assert all(i.accepted_at is not None for i in items)
    assert str(head.total_price) == bm.world.get_order(first)["price"]
    assert [(e.reference, e.type, e.from_status, e.to_status) for e in events(engine)] == [
        (str(first), "OrderCreated", None, "paid"),
        (str(second), "OrderCreated", None, "paid"),
        (str(first), "OrderStatusChanged", "paid", "accepted"),
        (str(second), "OrderStatusChanged", "paid", "accepted"),
    ]
    assert all(bm.world.accept_calls[line] == 1 for line in line_ids(bm.world, first) + line_ids(bm.world, second))


def test_running_every_sync_twice_changes_nothing_and_never_accepts_twice(bm, engine):
    ordered = bm.world.create_order(lines=[PHONE], state=1)
    for sync_type in ("new", "modified", "care", "incomplete"):
        bm.sync(sync_type)
    before = snapshot(engine)

    for sync_type in ("new", "modified", "care", "incomplete"):
        report = bm.sync(sync_type)
        assert (report.created, report.updated, report.events) == (0, 0, 0), sync_type

    assert snapshot(engine) == before
    assert bm.world.accept_calls[line_ids(bm.world, ordered)[0]] == 1


def test_an_order_first_seen_by_the_modified_sync_gets_created_then_status_changed(bm, engine):
    shipped = bm.world.create_order(lines=[PHONE], state=2)
    bm.world.ship(shipped, tracking_number="TRK123")

    report = bm.sync("modified")

    assert report.created == 1 and report.cursor
    assert [(e.type, e.from_status, e.to_status) for e in events(engine)] == [
        ("OrderCreated", None, "paid"),
        ("OrderStatusChanged", "paid", "shipped"),
    ]
    head, items = order(engine, shipped)
    assert (head.status, head.tracking_number, items[0].status) == ("shipped", "TRK123", "shipped")


def test_modified_sync_writes_one_event_per_status_change(bm, engine):
    ordered = bm.world.create_order(lines=[PHONE, PHONE | {"sku": "SGS21-256-GRY-B"}], state=1)
    bm.sync("new")
    bm.world.set_line_state(ordered, "SGS21-256-GRY-B", 5)  # refunded before shipping
    bm.sync("modified")
    bm.world.ship(ordered, tracking_number="TRK9")
    bm.sync("modified")
    bm.sync("modified")

    changes = [(e.type, e.from_status, e.to_status) for e in events(engine) if e.type == "OrderStatusChanged"]
    assert changes == [("OrderStatusChanged", "paid", "accepted"), *changes[1:]]
    assert len(changes) == 3  # accepted; one line refunded; shipped
    items = {i.sku: i.status for i in order(engine, ordered)[1]}
    assert items == {"IPH13-128-BLK-A": "shipped", "SGS21-256-GRY-B": "refunded"}


def test_care_sync_sets_the_care_id_on_the_item_the_folder_names(bm, engine):
    ordered = bm.world.create_order(lines=[PHONE, LAPTOP], state=2)
    bm.world.ship(ordered, tracking_number="TRK1")
    bm.sync("modified")
    phone_line = line_ids(bm.world, ordered)[0]
    care_id = bm.world.open_care(phone_line)

    report = bm.sync("care")

    assert (report.fetched, report.updated) == (1, 1)
    items = {i.reference: i.care_id for i in order(engine, ordered)[1]}
    assert items == {str(phone_line): str(care_id), str(line_ids(bm.world, ordered)[1]): None}
    with engine.connect() as conn:
        assert conn.execute(select(tables.care_folders.c.care_id)).scalars().all() == [str(care_id)]


def test_incomplete_sync_fills_documents_and_tracking_only(bm, engine):
    ordered = bm.world.create_order(lines=[PHONE], state=1)
    bm.sync("new")
    events_before = len(events(engine))
    bm.world.set_documents(ordered, delivery_note="https://notes.example/dn.pdf", label="https://labels.example/l.pdf")

    report = bm.sync("incomplete")

    assert (report.fetched, report.updated) == (1, 1)
    head, _ = order(engine, ordered)
    assert (head.delivery_note_url, head.label_url, head.status) == (
        "https://notes.example/dn.pdf",
        "https://labels.example/l.pdf",
        "accepted",
    )
    assert len(events(engine)) == events_before
    assert bm.sync("incomplete").fetched == 0  # complete orders are not asked again


def test_a_malformed_order_lands_in_sync_errors_and_the_rest_of_its_page_syncs(bm, engine):
    good = [bm.world.create_order(lines=[PHONE], state=1) for _ in range(3)]
    bad = bm.world.create_order(lines=[PHONE], state=1)
    bm.world.corrupt_order(bad, {"price": "twelve euros"})

    report = bm.sync("new", page_size=10)

    assert (report.created, report.failed) == (3, 1)
    with engine.connect() as conn:
        (error,) = conn.execute(select(tables.sync_errors)).all()
        synced = conn.execute(select(tables.orders.c.reference)).scalars().all()
    assert sorted(synced) == sorted(str(g) for g in good)
    assert error.reference == str(bad) and error.sync_type == "new"
    assert "price" in error.error and "twelve euros" in error.payload

    bm.world.corrupt_order(bad, {})
    bm.sync("new")
    with engine.connect() as conn:
        assert conn.execute(select(tables.sync_errors)).all() == []
        assert str(bad) in conn.execute(select(tables.orders.c.reference)).scalars().all()


def test_a_bad_token_fails_with_a_clear_message_without_the_token(bm, monkeypatch):
    wrong = "wrong-token-a81b7"
    monkeypatch.setenv("BM_TEST_TOKEN", wrong)
    with pytest.raises(AuthenticationError) as failure:
        bm.sync("new")
    assert "backmarket-fr" in str(failure.value) and "401" in str(failure.value)
    assert wrong not in str(failure.value) and wrong not in repr(failure.value)


def test_statements_per_batch_do_not_grow_with_the_number_of_orders(bm, engine):
    def statements_for(count: int) -> int:
        for _ in range(count):
            bm.world.create_order(lines=[PHONE, LAPTOP], state=1)
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            report = bm.sync("modified", page_size=50, batch_orders=1000)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert report.created == count
        return len(seen)

    bm.world.create_order(lines=[PHONE], state=1)
    bm.sync("modified")  # so that both measured syncs update known orders as well as create new ones
    assert statements_for(5) == statements_for(300)
