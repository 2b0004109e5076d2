"""The Back Market simulator, over real HTTP: auth, paging, filters, the orderline state machine, time."""

from __future__ import annotations

from datetime import timedelta
from http.client import HTTPConnection

import pytest
import requests

from ordersync_pipeline.simulator.backmarket import DELETE, BackMarketSimulator, World

TOKEN = "test-backmarket-token"
HEADERS = {"Authorization": f"Basic {TOKEN}", "User-Agent": "BM-Ordersync-Tests;ops@example.com"}


@pytest.fixture
def sim():
    simulator = BackMarketSimulator(tokens={TOKEN}, seed=7, orders=60).start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def http():
    with requests.Session() as session:
        session.headers.update(HEADERS)
        yield session


def _all_pages(http, url, params=None):
    pages = []
    while url:
        response = http.get(url, params=params, timeout=10)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url, params = pages[-1]["next"], None
    return pages


def _assert_error_body(body):
    assert set(body) == {"error", "requestId"}
    assert {"code", "message", "target", "data", "docLink"} <= set(body["error"])
    assert body["error"]["code"] and body["error"]["message"]


def test_bad_token_is_401_with_back_markets_error_body(sim):
    for auth in ("Basic wrong-token", "Bearer " + TOKEN, None):
        headers = {"User-Agent": HEADERS["User-Agent"]}
        if auth:
            headers["Authorization"] = auth
        response = requests.get(f"{sim.url}/ws/orders", headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.headers["Content-Type"] == "application/json"
        _assert_error_body(response.json())
    # urllib3 adds a User-Agent of its own: http.client sends only what it is given
    connection = HTTPConnection("127.0.0.1", int(sim.url.rsplit(":", 1)[1]), timeout=10)
    connection.request("GET", "/ws/orders", headers={"Authorization": f"Basic {TOKEN}"})
    assert connection.getresponse().status == 403
    connection.close()


def test_paging_follows_next_links_and_caps_page_size(sim, http):
    first = http.get(f"{sim.url}/ws/orders", timeout=10).json()
    assert len(first["results"]) == 10 and first["previous"] is None  # default page size
    pages = _all_pages(http, f"{sim.url}/ws/orders", {"page-size": 25, "state": 9})
    ids = [order["order_id"] for page in pages for order in page["results"]]
    assert ids == sorted(set(ids)) and len(ids) == pages[0]["count"] > 25
    assert all(order["state"] == 9 for page in pages for order in page["results"])
    assert "state=9" in pages[0]["next"] and "page-size=25" in pages[0]["next"]
    assert pages[0]["next"].startswith(sim.url + "/ws/orders?")
    assert pages[1]["previous"].endswith("page=1")
    too_big = http.get(f"{sim.url}/ws/orders", params={"page-size": 51}, timeout=10)
    assert too_big.status_code == 400
    _assert_error_body(too_big.json())


def test_state_filter_never_lists_new_or_unpaid_orders(sim, http):
    world = sim.world
    pending = world.create_order([{"sku": "IPH13-128-BLK-A"}], state=8)  # order state 10
    unpaid = world.create_order([{"sku": "IPH13-128-BLK-A"}], state=7)  # order state 8
    new = world.create_order([{"sku": "IPH13-128-BLK-A"}], state=0)  # order state 0
    listed = {o["order_id"] for p in _all_pages(http, f"{sim.url}/ws/orders", {"page-size": 50}) for o in p["results"]}
    assert pending in listed and unpaid not in listed and new not in listed
    for state in (0, 8):
        assert http.get(f"{sim.url}/ws/orders", params={"state": state}, timeout=10).json()["count"] == 0
    assert http.get(f"{sim.url}/ws/orders/{unpaid}", timeout=10).json()["state"] == 8
    pending_page = _all_pages(http, f"{sim.url}/ws/orders", {"state": 10, "page-size": 50})
    assert pending in {o["order_id"] for p in pending_page for o in p["results"]}
    missing = http.get(f"{sim.url}/ws/orders/999999", timeout=10)
    assert missing.status_code == 404
    _assert_error_body(missing.json())


def test_date_modification_filter_is_on_or_after(sim, http):
    world = sim.world
    world.advance(minutes=30)
    since = world.now()
    world.advance(minutes=30)
    changed = world.create_order([{"sku": "PIX7-128-WHT-A", "price": "299.00"}])
    for stamp in (since.isoformat(), since.strftime("%Y-%m-%dT%H:%M:%SZ")):
        pages = _all_pages(http, f"{sim.url}/ws/orders", {"date_modification": stamp, "page-size": 50})
        orders = [o for p in pages for o in p["results"]]
        assert changed in {o["order_id"] for o in orders}
        assert all(o["date_modification"] >= since.isoformat() for o in orders)
    everything = http.get(f"{sim.url}/ws/orders", timeout=10).json()["count"]
    assert len(orders) < everything
    later = (world.now() + timedelta(minutes=1)).isoformat()
    assert http.get(f"{sim.url}/ws/orders", params={"date_modification": later}, timeout=10).json()["count"] == 0


def test_a_paid_line_is_accepted_once(sim, http):
    world = sim.world
    order_id = world.create_order([{"sku": "SGS22-128-GRN-A", "quantity": 1, "price": "349.00"}], state=1)
    line_id = world.get_order(order_id)["orderlines"][0]["id"]
    body = {"order_id": order_id, "new_state": 2, "sku": "SGS22-128-GRN-A"}
    first = http.post(f"{sim.url}/ws/orders/{order_id}", json=body, timeout=10)
    assert first.status_code == 200
    assert first.json()["orderlines"][0]["state"] == 2 and first.json()["state"] == 3
    second = http.post(f"{sim.url}/ws/orders/{order_id}", json=body, timeout=10)
    assert second.status_code == 400
    _assert_error_body(second.json())
    assert "state 2" in second.json()["error"]["message"]
    assert world.accept_calls[line_id] == 2
    assert world.get_order(order_id)["orderlines"][0]["state"] == 2


def test_ship_and_cancel_through_the_api(sim, http):
    world = sim.world
    order_id = world.create_order([{"sku": "IPH12-64-BLU-B"}, {"sku": "MBA-M1-256-SLV-A"}], state=1)
    url = f"{sim.url}/ws/orders/{order_id}"
    assert http.post(url, json={"new_state": 3, "tracking_number": "X1"}, timeout=10).status_code == 400
    assert http.post(url, json={"new_state": 4, "sku": "IPH12-64-BLU-B"}, timeout=10).status_code == 200
    assert http.post(url, json={"new_state": 2, "sku": "MBA-M1-256-SLV-A"}, timeout=10).json()["state"] == 3
    assert http.post(url, json={"new_state": 3}, timeout=10).status_code == 400  # tracking number required
    shipped = http.post(url, json={"new_state": 3, "tracking_number": "TRK42"}, timeout=10).json()
    assert shipped["state"] == 9 and shipped["tracking_number"] == "TRK42"
    assert [line["state"] for line in shipped["orderlines"]] == [4, 3]


def test_documents_deliveries_and_care(sim, http):
    world = sim.world
    order_id = world.create_order([{"sku": "IPAD9-64-GRY-A"}], state=2)
    order = http.get(f"{sim.url}/ws/orders/{order_id}", timeout=10).json()
    assert order["delivery_note"] == "" and order["state"] == 3
    deliveries = f"{sim.url}/ws/shipping/v1/deliveries"
    assert http.get(deliveries, params={"order_id": order_id}, timeout=10).json()["results"] == []
    world.set_documents(order_id, delivery_note=True, label=True)
    assert http.get(f"{sim.url}/ws/orders/{order_id}", timeout=10).json()["delivery_note"].endswith(".pdf")
    (delivery,) = http.get(deliveries, params={"order_id": order_id}, timeout=10).json()["results"]
    assert delivery["order"] == order_id and delivery["labelUrl"].endswith(".pdf")
    assert {"trackingNumber", "trackingUrl", "carrierName", "orderlines"} <= set(delivery)
    world.ship(order_id)
    line_id = world.get_order(order_id)["orderlines"][0]["id"]
    care_id = world.open_care(line_id)
    listed = http.get(f"{sim.url}/ws/sav", params={"orderline": line_id}, timeout=10).json()
    assert [folder["id"] for folder in listed["results"]] == [care_id]
    assert listed["results"][0]["orderline"] == line_id
    detail = http.get(f"{sim.url}/ws/sav/{care_id}", timeout=10).json()
    assert detail["orderline"]["id"] == line_id and detail["orderline"]["order"]["order_id"] == order_id
    stamp = world.now().strftime("%Y-%m-%d-%H-%M")
    recent = http.get(f"{sim.url}/ws/sav", params={"last_modification_date": stamp}, timeout=10).json()
    assert care_id in {folder["id"] for folder in recent["results"]}
    assert http.get(f"{sim.url}/ws/sav", params={"last_modification_date": "yesterday"}, timeout=10).status_code == 400


def test_a_corrupted_order_is_served_among_good_ones(sim, http):
    world = sim.world
    bad = world.create_order([{"sku": "IPH13-128-BLK-A"}])
    good = world.create_order([{"sku": "IPH13-128-BLK-A"}])
    world.corrupt_order(bad, {"date_creation": DELETE, "orderlines": {0: {"price": "abc", "state": 77}}})
    pages = _all_pages(http, f"{sim.url}/ws/orders", {"state": 1, "page-size": 50})
    results = {order["order_id"]: order for page in pages for order in page["results"]}
    assert bad in results and good in results  # the bad one does not hide the others
    assert "date_creation" not in results[bad]
    assert results[bad]["orderlines"][0]["price"] == "abc" and results[bad]["orderlines"][0]["state"] == 77
    assert "date_creation" in results[good] and results[good]["orderlines"][0]["state"] == 1


def test_listing_quantity_lowered_on_arrival_and_set_by_post(sim, http):
    world = sim.world
    sku = "MBP14-512-GRY-B"
    before = world.listing_quantity(sku)
    world.create_order([{"sku": sku, "quantity": 2}])
    assert world.listing_quantity(sku) == before - 2
    listing = http.get(f"{sim.url}/ws/listings/detail", params={"sku": sku}, timeout=10).json()
    assert listing["quantity"] == before - 2 and listing["sku"] == sku
    answer = http.post(f"{sim.url}/ws/listings/{listing['listing_id']}", json={"quantity": 5}, timeout=10)
    assert answer.status_code == 200 and answer.json()["quantity"] == 5
    by_uuid = http.post(f"{sim.url}/ws/listings/{listing['id']}", json={"quantity": "6"}, timeout=10)
    assert by_uuid.json()["quantity"] == 6
    assert world.listing_quantity(sku) == 6
    assert world.pushes[-2:] == [(listing["listing_id"], 5), (listing["listing_id"], 6)]
    assert (
        http.post(f"{sim.url}/ws/listings/{listing['listing_id']}", json={"quantity": -1}, timeout=10).status_code
        == 400
    )
    assert http.get(f"{sim.url}/ws/listings/detail", params={"sku": "NOPE"}, timeout=10).status_code == 404


def test_arrivals_lower_listing_quantities():
    world = World(seed=11, orders=0)
    before = {item["sku"]: item["quantity"] for item in world.catalogue()}
    done = world.advance(minutes=240, steps=8)
    assert done["arrived"] > 0
    ordered: dict[str, int] = {}
    for order_id in range(100001, 100001 + done["arrived"]):
        for line in world.get_order(order_id)["orderlines"]:
            ordered[line["listing"]] = ordered.get(line["listing"], 0) + line["quantity"]
    after = {item["sku"]: item["quantity"] for item in world.catalogue()}
    assert {sku: before[sku] - after[sku] for sku in before if before[sku] != after[sku]} == ordered


def _snapshot(world: World) -> list[tuple]:
    count, _ = world.page_orders(1, 1)
    orders = [world.get_order(order_id) for order_id in world._ids]
    return [(o["order_id"], o["state"], tuple(line["state"] for line in o["orderlines"])) for o in orders] + [count]


def test_advance_is_deterministic_for_a_seed():
    one, two, other = World(seed=3, orders=200), World(seed=3, orders=200), World(seed=4, orders=200)
    assert _snapshot(one) == _snapshot(two)
    for world in (one, two, other):
        world.advance(minutes=60 * 12, steps=12)
    assert _snapshot(one) == _snapshot(two)
    assert one.catalogue() == two.catalogue()
    assert _snapshot(one) != _snapshot(other)
    states = one.state()["orders_by_state"]
    assert states["1"] > 0 and states["9"] > 0


def test_time_moves_orders_on_and_only_forward(sim, http):
    world = sim.world
    start = world.now()
    order_id = world.create_order([{"sku": "XPS13-I7-512-SLV-B"}], state=1)
    url = f"{sim.url}/ws/orders/{order_id}"
    http.post(url, json={"order_id": order_id, "new_state": 2, "sku": "XPS13-I7-512-SLV-B"}, timeout=10)
    answer = http.post(f"{sim.url}/_sim/advance", json={"minutes": 60 * 24, "steps": 24}, timeout=30).json()
    assert answer["changes"]["shipped"] >= 1
    order = http.get(url, timeout=10).json()
    assert order["state"] == 9 and order["tracking_number"] and order["delivery_note"]
    assert order["date_modification"] > start.isoformat()
    assert world.now() - start >= timedelta(hours=24)


def test_control_api(sim, http):
    created = requests.post(
        f"{sim.url}/_sim/orders", json={"lines": [{"sku": "IPHSE-64-RED-C", "quantity": 1}], "state": 1}, timeout=10
    )
    assert created.status_code == 201 and created.json()["state"] == 1
    state = requests.get(f"{sim.url}/_sim/state", timeout=10).json()
    assert state["orders"] == 61 and "IPHSE-64-RED-C" in state["listings"]
    reset = requests.post(f"{sim.url}/_sim/reset", timeout=10).json()
    assert reset["orders"] == 60


def test_rate_limit_answers_429():
    with BackMarketSimulator(tokens={TOKEN}, orders=5, rate_limit=(5, 10.0)) as limited:
        codes = [requests.get(f"{limited.url}/ws/orders", headers=HEADERS, timeout=10).status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2


def test_a_hundred_thousand_orders_seed_and_page_without_gaps():
    # How fast is the throughput benchmark's to measure (it seeds this world); here: that it is right.
    world = World(seed=1, orders=100_000)
    seen: list[int] = []
    for page in range(1, 21):
        count, results = world.page_orders(page, 50)
        assert len(results) == 50
        seen += [order["order_id"] for order in results]
    assert count > 90_000
    assert len(set(seen)) == len(seen) == 1000
