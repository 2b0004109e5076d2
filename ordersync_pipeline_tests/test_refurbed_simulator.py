"""The Refurbed simulator, over real HTTP: auth, paging, filters, the item state machine, rate limit, time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import requests

from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.simulator.refurbed import DELETE, RefurbedSimulator, World
from ordersync_pipeline.simulator.refurbed.model import order_state_for

TOKEN = "test-refurbed-token"
HEADERS = {"Authorization": f"Plain {TOKEN}", "User-Agent": "ordersync-tests/1.0"}
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.fixture
def sim():
    simulator = RefurbedSimulator(tokens={TOKEN}, seed=7, orders=150).start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def http():
    with requests.Session() as session:
        session.headers.update(HEADERS)
        yield session


def rpc(http, sim, name, body):
    return http.post(f"{sim.url}/refb.merchant.v1.{name}", json=body, timeout=10)


def list_all(http, sim, filter_=None, limit=100):
    ids, after = [], None
    while True:
        pagination = {"limit": limit} | ({"starting_after": after} if after else {})
        answer = rpc(http, sim, "OrderService/ListOrders", {"filter": filter_ or {}, "pagination": pagination})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        ids += [o["id"] for o in page["orders"]]
        if not page["has_more"]:
            return ids
        after = page["orders"][-1]["id"]


def error_of(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == code and body["details"] == []
    return body["message"]


def test_a_bad_token_is_401_unauthenticated_with_rate_headers(sim):
    for auth in (f"Plain {TOKEN}x", f"Bearer {TOKEN}", f"Basic {TOKEN}", None):
        headers = {"Authorization": auth} if auth else {}
        response = requests.post(f"{sim.url}/refb.merchant.v1.OrderService/ListOrders", json={}, headers=headers)
        error_of(response, 401, 16)
        assert all(name in response.headers for name in RATE_HEADERS)


def test_unknown_routes_and_methods(sim, http):
    error_of(rpc(http, sim, "OrderService/ListShippingLabels", {}), 501, 12)
    error_of(http.get(f"{sim.url}/refb.merchant.v1.OrderService/ListOrders"), 405, 12)
    error_of(http.post(f"{sim.url}/v1/orders", json={}), 404, 5)
    bad_json = http.post(f"{sim.url}/refb.merchant.v1.OrderService/GetOrder", data=b"{", timeout=10)
    error_of(bad_json, 400, 3)


def test_paging_by_id_with_starting_after_and_ending_before(sim, http):
    everything = list_all(http, sim, limit=100)
    assert everything == sorted(everything, key=int) and len(everything) == 150
    assert list_all(http, sim, limit=7) == everything
    before = rpc(http, sim, "OrderService/ListOrders", {"pagination": {"limit": 5, "ending_before": everything[20]}})
    assert [o["id"] for o in before.json()["orders"]] == everything[15:20] and before.json()["has_more"]
    desc = rpc(
        http, sim, "OrderService/ListOrders", {"pagination": {"limit": 3}, "sort": {"by": "ID", "order": "DESC"}}
    )
    assert [o["id"] for o in desc.json()["orders"]] == everything[::-1][:3]
    error_of(rpc(http, sim, "OrderService/ListOrders", {"pagination": {"limit": 101}}), 400, 3)
    both = {"pagination": {"starting_after": everything[0], "ending_before": everything[9]}}
    error_of(rpc(http, sim, "OrderService/ListOrders", both), 400, 3)


def test_filters_on_state_release_and_id(sim, http):
    open_ids = list_all(http, sim, {"state": {"any_of": ["NEW", "ACCEPTED"]}}, limit=10)
    others = list_all(http, sim, {"state": {"none_of": ["NEW", "ACCEPTED"]}}, limit=10)
    assert open_ids and others and sorted(open_ids + others, key=int) == list_all(http, sim)
    states = sim.world.state()["orders_by_state"]
    assert len(open_ids) == states["NEW"] + states["ACCEPTED"]
    since = (sim.world.now() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = list_all(http, sim, {"released_at": {"ge": since}})
    released = [sim.world.get_order(int(i))["released_at"] for i in recent]
    assert recent and all(r >= since for r in released) and len(recent) < 150
    picked = list_all(http, sim, {"id": {"any_of": [open_ids[0], others[0]]}})
    assert picked == sorted([open_ids[0], others[0]], key=int)
    error_of(rpc(http, sim, "OrderService/ListOrders", {"filter": {"state": {"any_of": ["LOST"]}}}), 400, 3)


def test_an_order_is_shaped_like_the_document(sim, http):
    sku = sim.world.catalogue()[0]["sku"]
    order_id = sim.world.create_order(lines=[{"sku": sku, "price": "199.00", "quantity": 2}])
    order = rpc(http, sim, "OrderService/GetOrder", {"id": str(order_id)}).json()["order"]
    assert order["id"] == str(order_id) and order["state"] == "NEW" and order["total_charged"] == "398.00"
    assert order["released_at"].endswith("Z") and order["currency_code"] == "EUR"
    assert "MISSING_PARCEL_TRACKING_URLS" in order["labels"] and "PROCESSING" not in order["labels"]
    assert [(i["sku"], i["state"], i["total_charged"], i["order_id"]) for i in order["items"]] == [
        (sku, "NEW", "199.00", str(order_id))
    ] * 2  # one item per unit
    assert all(isinstance(i["id"], str) and i["offer_data"]["offer_id"] for i in order["items"])
    error_of(rpc(http, sim, "OrderService/GetOrder", {"id": "1"}), 404, 5)
    error_of(rpc(http, sim, "OrderService/GetOrder", {"id": "x"}), 400, 3)


def test_the_item_state_machine(sim, http):
    sku = sim.world.catalogue()[1]["sku"]
    order_id = sim.world.create_order(lines=[{"sku": sku, "quantity": 3}])
    a, b, c = (i["id"] for i in sim.world.get_order(order_id)["items"])

    def update(*updates):
        answer = rpc(http, sim, "OrderItemService/BatchUpdateOrderItemsState", {"updates": list(updates)})
        assert answer.status_code == 200, answer.text
        return [(r["status"]["code"], (r["order_item"] or {}).get("state")) for r in answer.json()["results"]]

    assert update({"id": a, "state": "ACCEPTED"}, {"id": b, "state": "SHIPPED"}, {"id": "1", "state": "ACCEPTED"}) == [
        (0, "ACCEPTED"),
        (3, None),  # NEW cannot ship
        (5, None),
    ]
    assert update({"id": a, "state": "ACCEPTED"}) == [(3, None)]  # never accepted twice
    assert sim.world.accept_calls == {int(a): 2}
    assert update({"id": a, "state": "SHIPPED"}) == [(3, None)]  # no parcel tracking URL yet
    assert update({"id": a, "state": "SHIPPED", "parcel_tracking_url": "not a url"}) == [(3, None)]
    assert update({"id": b, "state": "REJECTED"}, {"id": c, "state": "CANCELLED"}) == [(0, "REJECTED")] + [
        (0, "CANCELLED")
    ]
    assert sim.world.get_order(order_id)["state"] == "ACCEPTED"
    assert update({"id": a, "state": "SHIPPED", "parcel_tracking_url": "https://t.example/1"}) == [(0, "SHIPPED")]
    order = sim.world.get_order(order_id)
    assert order["state"] == "PARTIALLY_FULFILLED"
    assert {"PARTIALLY_SHIPPED", "PARTIALLY_REJECTED", "PARTIALLY_CANCELLED"} <= set(order["labels"])
    assert update({"id": a, "state": "RETURNED"}, {"id": b, "state": "ACCEPTED"}) == [(0, "RETURNED"), (3, None)]
    error_of(rpc(http, sim, "OrderItemService/BatchUpdateOrderItemsState", {"updates": []}), 400, 3)
    too_many = {"updates": [{"id": a, "state": "ACCEPTED"}] * 51}
    error_of(rpc(http, sim, "OrderItemService/BatchUpdateOrderItemsState", too_many), 400, 3)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["NEW", "SHIPPED"], "NEW"),
        (["ACCEPTED", "CANCELLED"], "ACCEPTED"),
        (["REJECTED", "REJECTED"], "REJECTED"),
        (["SHIPPED", "RETURNED"], "FULFILLED"),
        (["REJECTED", "CANCELLED"], "UNFULFILLED"),
        (["SHIPPED", "CANCELLED"], "PARTIALLY_FULFILLED"),
        (["RETURNED"], "RETURNED"),
    ],
)
def test_order_state_is_computed_from_items(states, expected):
    assert order_state_for(states) == expected


def test_offers_take_stock_on_orders_and_take_pushes_by_id_or_sku(sim, http):
    first, second = sim.world.catalogue()[:2]
    before = sim.world.listing_quantity(first["sku"])
    sim.world.create_order(lines=[{"sku": first["sku"], "quantity": 2}])
    assert sim.world.listing_quantity(first["sku"]) == before - 2
    body = {
        "offers": [
            {"identifier": {"id": first["offer_id"]}, "stock": 7},
            {"identifier": {"sku": second["sku"]}, "stock": "3"},
            {"identifier": {"id": "1"}, "stock": 1},
            {"identifier": {"id": first["offer_id"]}, "stock": -1},
        ]
    }
    results = rpc(http, sim, "OfferService/BatchUpdateOffers", body).json()["results"]
    assert [r["status"]["code"] for r in results] == [0, 0, 5, 3]
    assert results[0]["offer"]["stock"] == 7 and results[1]["offer"]["id"] == second["offer_id"]
    assert sim.world.listing_quantity(first["sku"]) == 7 and sim.world.listing_quantity(second["sku"]) == 3
    assert sim.world.pushes == [(int(first["offer_id"]), 7), (int(second["offer_id"]), 3)]
    # the request field is "offers"; anything else is ignored, which leaves no offer to update
    error_of(rpc(http, sim, "OfferService/BatchUpdateOffers", {"updates": body["offers"][:1]}), 400, 3)


def test_the_catalogue_is_the_back_market_simulators(sim):
    bm = BackMarketSimulator(seed=7, orders=0)
    assert [(o["sku"], o["quantity"]) for o in RefurbedSimulator(seed=7, orders=0).world.catalogue()] == [
        (x["sku"], x["quantity"]) for x in bm.world.catalogue()
    ]
    assert [o["sku"] for o in World(orders=0, skus=30).catalogue()][12:14] == [
        "IPH13-128-BLK-V1-A",
        "IPH12-64-BLU-V1-B",
    ]


def test_rate_limit_answers_429_with_headers_past_the_window(http):
    with RefurbedSimulator(tokens={TOKEN}, orders=3, rate_limit=(3, 2.0)) as sim:
        answers = [rpc(http, sim, "OrderService/ListOrders", {}) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
        assert answers[0].headers["X-RateLimit-Limit"] == "3"
        error_of(answers[3], 429, 8)
        reset = int(answers[3].headers["X-RateLimit-Reset"])
        time.sleep(max(0.0, reset - time.time()))
        assert rpc(http, sim, "OrderService/ListOrders", {}).status_code == 200
        assert sim.faults.limited == 1


def test_time_moves_orders_on_deterministically(sim):
    twin = World(seed=7, orders=150)
    assert sim.world.state()["orders_by_state"] == twin.state()["orders_by_state"]
    done = sim.world.advance(minutes=24 * 60, steps=24)
    assert done == twin.advance(minutes=24 * 60, steps=24) and done["arrived"] > 0 and done["shipped"] > 0
    assert sim.world.state()["orders_by_state"] == twin.state()["orders_by_state"]
    assert sim.world.now() - twin.now() < timedelta(seconds=5)


def test_an_accepted_order_gets_tracking_then_ships(sim):
    sku = sim.world.catalogue()[2]["sku"]
    order_id = sim.world.create_order(lines=[{"sku": sku}], state="ACCEPTED")
    sim.world.advance(minutes=24 * 60, steps=48)
    order = sim.world.get_order(order_id)
    assert order["state"] in ("SHIPPED", "CANCELLED", "RETURNED")
    if order["state"] == "SHIPPED":
        assert order["items"][0]["parcel_tracking_url"].startswith("https://")
        assert "MISSING_PARCEL_TRACKING_URLS" not in order["labels"]


def test_control_api(sim, http):
    control = f"{sim.url}/_sim"
    state = http.get(f"{control}/state").json()
    assert state["orders"] == 150 and state["faults"]["rate_limit"] is None
    sku = sim.world.catalogue()[0]["sku"]
    created = http.post(f"{control}/orders", json={"lines": [{"sku": sku, "price": "99.50"}]})
    assert created.status_code == 201 and created.json()["total_charged"] == "99.50"
    order_id = created.json()["id"]
    item_id = created.json()["items"][0]["id"]
    moved = http.post(f"{control}/orders/{order_id}/items/{item_id}/state", json={"state": "ACCEPTED"}).json()
    assert moved["state"] == "ACCEPTED"
    shipped = http.post(f"{control}/orders/{order_id}/ship", json={"tracking_url": "https://t.example/9"}).json()
    assert shipped["state"] == "SHIPPED" and shipped["items"][0]["parcel_tracking_url"] == "https://t.example/9"
    http.post(f"{control}/orders/{order_id}/corrupt", json={"overrides": {"items.0.total_charged": "free"}})
    served = rpc(http, sim, "OrderService/GetOrder", {"id": order_id}).json()["order"]
    assert served["items"][0]["total_charged"] == "free"
    http.post(f"{control}/orders/{order_id}/corrupt", json={"overrides": {"released_at": "__DELETE__"}})
    assert "released_at" not in rpc(http, sim, "OrderService/GetOrder", {"id": order_id}).json()["order"]
    assert http.get(f"{control}/orders/{order_id}").json()["released_at"]  # the control API serves it whole
    advanced = http.post(f"{control}/advance", json={"minutes": 120, "steps": 4}).json()
    assert advanced["elapsed_minutes"] == 120 and "arrived" in advanced["changes"]
    assert http.post(f"{control}/faults", json={"latency": 0.01, "fail_next": 1}).json()["fail_next"] == 1
    error_of(rpc(http, sim, "OrderService/GetOrder", {"id": order_id}), 503, 14)
    assert rpc(http, sim, "OrderService/GetOrder", {"id": order_id}).status_code == 200
    error_of(http.post(f"{control}/orders", json={"lines": [{"sku": "NOPE"}]}), 400, 3)
    error_of(http.post(f"{control}/orders/1/ship", json={}), 404, 5)
    assert http.post(f"{control}/reset").json()["orders"] == 150


def test_world_api_mirrors_back_markets(sim):
    world = sim.world
    sku = world.catalogue()[0]["sku"]
    order_id = world.create_order(lines=[{"sku": sku, "price": "199.00"}], state="NEW")
    world.set_item_state(order_id, sku, "ACCEPTED")
    world.set_documents(order_id, tracking_url=True)
    assert world.get_order(order_id)["items"][0]["parcel_tracking_url"]
    world.ship(order_id)
    assert world.get_order(order_id)["state"] == "SHIPPED"
    world.corrupt_order(order_id, {"state": DELETE})
    assert "state" in world.get_order(order_id)  # get_order shows it uncorrupted
    with pytest.raises(ValueError, match="unknown sku"):
        world.create_order(lines=[{"sku": "NOPE"}])


def test_the_command_runs_the_refurbed_simulator():
    env = os.environ | {"REFURBED_DE_TOKEN": TOKEN}
    args = [sys.executable, "-m", "ordersync_pipeline.simulator", "--kind", "refurbed", "--port", "0", "--orders", "3"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        assert line.startswith("Refurbed simulator on http://127.0.0.1:")
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        answer = requests.post(f"{url}/refb.merchant.v1.OrderService/ListOrders", json={}, headers=HEADERS, timeout=10)
        assert answer.status_code == 200 and len(answer.json()["orders"]) == 3
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
