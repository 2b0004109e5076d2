"""The notification receiver over real HTTP, on both databases: who may notify, what a notification
may be, that it is stored before it is answered and taken in once, however often it comes."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from ordersync_pipeline.db import tables
from ordersync_pipeline.realtime.receiver import MAX_BODY, Endpoint, Receiver
from ordersync_pipeline.simulator.refurbed.notifications import Notifier
from ordersync_pipeline_tests.realtime_helpers import LINE, SECRET, notify, open_shop, post, wait_for


@pytest.fixture
def shop(engine, monkeypatch):
    shop = open_shop(engine, monkeypatch)
    with shop.stack:
        yield shop


@pytest.fixture
def receiver(shop):
    """A bare receiver: stores notifications, processes none."""
    row = shop.rb.row()
    receiver = Receiver(shop.engine, [Endpoint(row.id, row.code, SECRET)], port=0).start()
    yield receiver
    receiver.stop()


def _json(body) -> bytes:
    return json.dumps(body).encode()


def test_a_notification_without_the_secret_is_refused_and_nothing_is_stored(shop, receiver, caplog):
    caplog.set_level(logging.DEBUG)
    body = _json({"order_id": 5000001})
    assert post(receiver.url, "/notifications/refurbed-de", body)[0] == 401
    wrong = {"Authorization": "Bearer not-the-secret"}
    assert post(receiver.url, "/notifications/refurbed-de", body, wrong)[0] == 401
    assert post(receiver.url, "/notifications/refurbed-de", body, {"Authorization": SECRET})[0] == 401
    # A path secret that is not the one, an unknown marketplace, another path: nothing there.
    assert post(receiver.url, "/notifications/refurbed-de/not-the-secret", body)[0] == 404
    assert notify(receiver.url, 5000001, code="backmarket-fr")[0] == 404
    assert post(receiver.url, "/orders", body, {"Authorization": f"Bearer {SECRET}"})[0] == 404
    assert shop.inbox() == []
    # The secret itself, in the header or as the path's last segment, is let in.
    assert notify(receiver.url, 5000001)[0] == 200
    assert post(receiver.url, f"/notifications/refurbed-de/{SECRET}", _json({"order_id": 5000002}))[0] == 200
    assert [row.order_reference for row in shop.inbox()] == ["5000001", "5000002"]
    assert SECRET not in caplog.text and SECRET not in repr(receiver.server.endpoints)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        _json([5000001]),
        _json({"order": 5000001}),
        _json({"order_id": "five"}),
        _json({"order_id": True}),
        _json({"order_id": 1.5}),
        _json({"order_id": -3}),
        _json({"order_id": 2**64}),
        b"\xff\xfe{}",
    ],
)
def test_a_body_not_shaped_as_a_notification_is_a_400_naming_the_problem(shop, receiver, body):
    headers = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
    status, answer = post(receiver.url, "/notifications/refurbed-de", body, headers)
    assert status == 400
    assert "order_id" in answer["error"] or "JSON" in answer["error"]
    assert shop.inbox() == []


def test_an_oversized_body_is_refused_unread(shop, receiver):
    headers = {"Authorization": f"Bearer {SECRET}"}
    big = _json({"order_id": 5000001, "padding": "x" * MAX_BODY})
    assert post(receiver.url, "/notifications/refurbed-de", big, headers)[0] == 413
    assert shop.inbox() == []


def test_an_order_notified_is_taken_in_accepted_and_lowers_the_other_marketplace(shop):
    service = shop.service(watch=False)
    order = shop.rb.world.create_order(lines=[LINE], state="NEW")
    assert shop.listed() == (3, 2)  # Refurbed lowered its own listing; Back Market does not know yet

    assert notify(service.url, order) == (200, {"stored": True})

    wait_for(lambda: shop.listed() == (2, 2), what="Back Market's listing lowered")
    wait_for(lambda: all(row.processed_at for row in shop.inbox()), what="the notification processed")
    item = shop.rb.world.get_order(order)["items"][0]
    assert item["state"] == "ACCEPTED"
    assert shop.rb.world.accept_calls == {int(item["id"]): 1}
    assert shop.events() == [(str(order), "OrderCreated"), (str(order), "OrderStatusChanged")]
    assert shop.locks() == {str(item["id"]): "locked"}

    # The scheduled syncs find nothing left to do.
    service.stop()
    for sync_type in ("new", "modified"):
        report = shop.rb.sync(sync_type)
        assert (report.created, report.events, report.accepted) == (0, 0, 0)
    assert len(shop.events()) == 2


def test_a_notification_delivered_many_times_is_taken_in_once(shop):
    service = shop.service(watch=False)
    order = shop.rb.world.create_order(lines=[LINE], state="NEW")
    answers = [notify(service.url, order) for _ in range(5)]
    assert answers[0] == (200, {"stored": True})
    assert answers[1:] == [(200, {"stored": False})] * 4
    wait_for(lambda: shop.listed() == (2, 2), what="Back Market's listing lowered")
    wait_for(lambda: all(row.processed_at for row in shop.inbox()), what="the notification processed")
    # Delivered again after it was processed: still nothing new.
    assert notify(service.url, order) == (200, {"stored": False})
    wait_for(lambda: shop.inbox()[0].deliveries == 6, what="the sixth delivery counted")

    assert len(shop.inbox()) == 1
    assert shop.events() == [(str(order), "OrderCreated"), (str(order), "OrderStatusChanged")]
    assert list(shop.rb.world.accept_calls.values()) == [1]
    assert shop.count(tables.marketplace_stock_locks) == 1
    assert shop.listed() == (2, 2)


def test_the_simulator_retries_while_the_receiver_is_down_and_nothing_is_lost(shop):
    # Where the receiver will listen, before it does: the simulator's deliveries fail meanwhile.
    probe = Receiver(shop.engine, [], port=0)
    port = probe.server.server_address[1]
    probe.server.server_close()
    url = f"http://127.0.0.1:{port}/notifications/refurbed-de"
    notifier = Notifier(url, SECRET, delay=(0.0, 0.1), duplicate_rate=1.0, first_backoff=0.2, max_backoff=0.5)
    try:
        notifier.attach(shop.rb.world)
        orders = [shop.rb.world.create_order(lines=[LINE], state="NEW") for _ in range(2)]
        wait_for(lambda: notifier.stats.failed >= 4, what="deliveries failing while the receiver is down")
        assert notifier.stats.delivered == 0 and shop.inbox() == []

        shop.service(watch=False, port=port)
        wait_for(lambda: len(notifier.delivered_at) == 2, what="both notifications delivered")
        wait_for(lambda: notifier.stats.delivered >= 4 and notifier.pending() == 0, what="the duplicates delivered")
        wait_for(lambda: shop.listed()[0] == 1, what="Back Market's listing lowered by both orders")
    finally:
        notifier.stop()
    wait_for(lambda: all(row.processed_at for row in shop.inbox()), what="the notifications processed")
    assert sorted(row.order_reference for row in shop.inbox()) == sorted(str(o) for o in orders)
    assert [row.deliveries for row in shop.inbox()] == [2, 2]
    assert sorted(t for _, t in shop.events()) == ["OrderCreated"] * 2 + ["OrderStatusChanged"] * 2
    assert sorted(shop.rb.world.accept_calls.values()) == [1, 1]


def test_an_order_the_marketplace_does_not_know_is_set_aside_and_the_others_go_on(shop):
    service = shop.service(watch=False)
    order = shop.rb.world.create_order(lines=[LINE], state="NEW")
    assert notify(service.url, 4_999_999)[0] == 200  # no such order at Refurbed
    assert notify(service.url, order)[0] == 200
    wait_for(lambda: shop.listed() == (2, 2), what="Back Market's listing lowered")

    def rows():
        return {row.order_reference: row for row in shop.inbox()}

    wait_for(lambda: rows()[str(order)].processed_at, what="the known order processed")
    unknown = wait_for(lambda: rows()["4999999"].last_error and rows()["4999999"], what="the unknown order tried")
    assert "does not know this order" in unknown.last_error
    assert unknown.attempts >= 1
    assert [reference for reference, _ in shop.events()] == [str(order)] * 2


@pytest.fixture
def stocked_shop(engine, monkeypatch):
    shop = open_shop(engine, monkeypatch, on_hand=100)
    with shop.stack:
        yield shop


def test_a_flood_of_notifications_is_coalesced_paced_and_never_loses_one(stocked_shop):
    shop = stocked_shop
    faults = shop.rb.simulator.faults
    faults.configure(rate_limit=[20, 10])  # a tight budget: a request per notification would overrun it
    orders = [shop.rb.world.create_order(lines=[LINE], state="NEW") for _ in range(60)]
    service = shop.service(watch=False)
    answers: list[int] = []
    senders = [
        threading.Thread(target=lambda chunk=orders[n::6]: answers.extend(notify(service.url, o)[0] for o in chunk))
        for n in range(6)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert answers == [200] * 60

    wait_for(lambda: all(row.processed_at for row in shop.inbox()), timeout=120, what="every notification processed")
    wait_for(lambda: shop.listed() == (40, 40), timeout=60, what="both listings lowered by the 60 orders")
    assert len(shop.inbox()) == 60 and faults.limited == 0
    reads = faults.requests["/refb.merchant.v1.OrderService/ListOrders"]
    assert reads <= 20, f"{reads} ListOrders for 60 notifications: not coalesced"
    assert sorted(shop.rb.world.accept_calls.values()) == [1] * 60
    assert shop.count(tables.order_events, tables.order_events.c.type == "OrderCreated") == 60
