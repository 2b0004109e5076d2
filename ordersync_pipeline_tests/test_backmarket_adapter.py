"""The Back Market adapter against a small local HTTP server serving payloads shaped like the document's."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ordersync_pipeline.marketplaces.backmarket.adapter import BackMarketAdapter
from ordersync_pipeline.marketplaces.base import (
    ALL_SYNC_TYPES,
    AuthenticationError,
    ListingKind,
    MarketplaceConfig,
    MarketplaceError,
    Order,
    OrderItem,
    Status,
    StockUpdate,
)
from ordersync_pipeline_tests.backmarket_fake import (
    FAST,
    TOKEN,
    USER_AGENT,
    an_order,
    closed_port_url,
    envelope,
    make_adapter,
    order,
    orderline,
    pages,
)

# -- headers, paging ----------------------------------------------------------------------------------


def test_every_call_sends_the_documented_headers(bm, adapter):
    bm.routes[("GET", "/ws/orders")] = [(200, envelope([]))]
    pages(adapter, page_size=10)
    headers = bm.requests[0]["headers"]
    assert headers["Authorization"] == f"Basic {TOKEN}"
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept-Language"] == "de-de"
    assert headers["User-Agent"] == USER_AGENT


def test_user_agent_has_a_default_in_back_markets_format(bm):
    bm.routes[("GET", "/ws/orders")] = [(200, envelope([]))]
    config = MarketplaceConfig(id=1, code="bm", kind="backmarket", base_url=bm.url, token=TOKEN, settings=FAST)
    adapter = BackMarketAdapter(config)
    pages(adapter, page_size=10)
    adapter.close()
    assert bm.requests[0]["headers"]["User-Agent"] == "BM-Ordersync-Sync;ops@example.com"
    assert bm.requests[0]["headers"]["Accept-Language"] == "fr-fr"


def test_new_orders_follow_next_until_null_and_cap_the_page_size(bm, adapter):
    answers = {
        "1": envelope([order(1)], f"{bm.url}/ws/orders?state=1&page-size=50&page=2"),
        # A next link naming another host is followed on the configured host, never elsewhere.
        "2": envelope([order(2)], "https://www.backmarket.fr/ws/orders?state=1&page-size=50&page=3"),
        "3": envelope([order(3)]),
    }
    bm.routes[("GET", "/ws/orders")] = lambda req: (200, answers[req["query"].get("page", "1")])
    result = pages(adapter, page_size=500)
    assert [[o.reference for o in p.orders] for p in result] == [["1"], ["2"], ["3"]]
    assert [r["query"] for r in bm.requests] == [
        {"state": "1", "page-size": "50"},
        {"state": "1", "page-size": "50", "page": "2"},
        {"state": "1", "page-size": "50", "page": "3"},
    ]


def test_modified_orders_ask_from_an_rfc3339_utc_moment(bm, adapter):
    bm.routes[("GET", "/ws/orders")] = [(200, envelope([order()]))]
    since = datetime(2024, 3, 1, 14, 30, 15, 999, tzinfo=timezone(timedelta(hours=2)))
    result = list(adapter.iter_modified_orders(since, page_size=20))
    assert [o.reference for o in result[0].orders] == ["5978"]
    assert bm.requests[0]["query"] == {"date_modification": "2024-03-01T12:30:15Z", "page-size": "20"}


# -- parsing ------------------------------------------------------------------------------------------


def test_a_good_order_becomes_exact_normalised_values(bm, adapter):
    second = orderline(id=37196, state=2, listing="PIXEL7-128-BLK", listing_id=143, quantity=1, price="199.99")
    bm.routes[("GET", "/ws/orders")] = [(200, envelope([order(lines=[orderline(), second])]))]
    [page] = pages(adapter, page_size=10)
    assert page.errors == []
    [got] = page.orders
    assert got == Order(
        reference="5978",
        status=Status.PAID,
        marketplace_state="1",
        currency="EUR",
        total_price=Decimal("463.99"),  # price without shipping + shipping
        created_at=datetime(2022, 4, 29, 9, 35, 24, 123456, tzinfo=UTC),
        modified_at=datetime(2022, 4, 29, 9, 35, 24, tzinfo=UTC),
        items=(
            OrderItem("37195", "IPHONE416GONLIB0", "142", 2, Decimal("229.0"), Status.PAID, "1"),
            OrderItem("37196", "PIXEL7-128-BLK", "143", 1, Decimal("199.99"), Status.ACCEPTED, "2"),
        ),
        delivery_note_url="https://example.com/delivery_note/1519221434.69.pdf",
        label_url=None,
        tracking_number="my_tracking_number",
    )
    assert got.created_at.tzinfo is UTC and got.modified_at.utcoffset() == timedelta(0)
    assert isinstance(got.items[0].unit_price, Decimal)


def test_money_in_json_numbers_stays_exact(bm, adapter):
    payload = order(lines=[orderline(price=229.10)], price=0.1, shipping_price=0.2, delivery_note="")
    bm.routes[("GET", "/ws/orders")] = [(200, envelope([payload]))]
    [page] = pages(adapter, page_size=10)
    [got] = page.orders
    assert got.total_price == Decimal("0.3") and got.items[0].unit_price == Decimal("229.10")
    assert got.delivery_note_url is None


BAD_ORDERS = {
    "missing date_creation": (lambda o: o.pop("date_creation"), "date_creation"),
    "non-numeric price": (lambda o: o.update(price="12,50 EUR"), "price"),
    "non-numeric line price": (lambda o: o["orderlines"][0].update(price="free"), "orderlines[0].price"),
    "unknown order state": (lambda o: o.update(state=42), "state"),
    "unknown line state": (lambda o: o["orderlines"][0].update(state=11), "orderlines[0].state"),
    "quantity 0": (lambda o: o["orderlines"][0].update(quantity=0), "orderlines[0].quantity"),
    "order id of the wrong type": (lambda o: o.update(order_id="A-5978"), "order_id"),
    "line id of the wrong type": (lambda o: o["orderlines"][0].update(id=[1]), "orderlines[0].id"),
    "no orderlines": (lambda o: o.update(orderlines=[]), "orderlines"),
    "sku of the wrong type": (lambda o: o["orderlines"][0].update(listing=["A"]), "orderlines[0].listing"),
}


@pytest.mark.parametrize("case", sorted(BAD_ORDERS))
def test_a_malformed_order_is_a_record_error_and_the_rest_of_the_page_parses(bm, adapter, case):
    spoil, field = BAD_ORDERS[case]
    bad = order(2)
    spoil(bad)
    bm.routes[("GET", "/ws/orders")] = [(200, envelope([order(1), copy.deepcopy(bad), order(3)]))]
    [page] = pages(adapter, page_size=10)
    assert [o.reference for o in page.orders] == ["1", "3"]
    [error] = page.errors
    assert error.reference == str(bad["order_id"])
    assert field in error.error
    assert error.raw == json.loads(json.dumps(bad), parse_float=Decimal)


def test_a_line_without_a_sku_is_kept_with_an_empty_one_beside_its_siblings(bm, adapter):
    lines = [orderline(id=1), orderline(id=2, listing=""), orderline(id=3)]
    del lines[2]["listing"]
    bm.routes[("GET", "/ws/orders")] = [(200, envelope([order(1, lines=lines)]))]
    [page] = pages(adapter, page_size=10)
    assert page.errors == []
    [got] = page.orders
    assert [(i.reference, i.sku, i.has_sku) for i in got.items] == [
        ("1", "IPHONE416GONLIB0", True),
        ("2", "", False),
        ("3", "", False),
    ]


def test_a_line_that_left_carries_its_orders_shipping_date(bm, adapter):
    lines = [orderline(id=1, state=3), orderline(id=2, state=6), orderline(id=3, state=2)]
    payload = order(1, lines=lines, state=9, date_shipping="2022-05-02T10:00:00+02:00")
    bm.routes[("GET", "/ws/orders")] = [(200, envelope([payload]))]
    [page] = pages(adapter, page_size=10)
    shipped = datetime(2022, 5, 2, 8, 0, tzinfo=UTC)
    assert [i.shipped_at for i in page.orders[0].items] == [shipped, shipped, None]


def test_a_listing_named_by_sku_is_not_sent_since_back_market_sets_listings_by_id(bm, adapter):
    [got] = adapter.push_stock([StockUpdate("4006381333931", "4006381333931", 3, ListingKind.SKU)])
    assert not got.ok and "named by its id, not by its sku" in got.error
    assert bm.requests == []


def test_a_page_that_is_not_json_names_the_path(bm, adapter):
    bm.routes[("GET", "/ws/orders")] = [(200, b"<html>maintenance</html>")]
    with pytest.raises(MarketplaceError, match=r"/ws/orders\?state=1&page-size=10.*not JSON"):
        pages(adapter, page_size=10)


LINE_STATES = {
    0: Status.PENDING_PAYMENT,
    8: Status.PENDING_PAYMENT,
    9: Status.PENDING_PAYMENT,
    1: Status.PAID,
    2: Status.ACCEPTED,
    3: Status.SHIPPED,
    4: Status.CANCELLED,
    7: Status.CANCELLED,
    5: Status.REFUNDED,
    6: Status.RETURNED,
}


@pytest.mark.parametrize(("order_state", "line_states", "expected"), [
    (1, [1, 2], Status.PAID),
    (0, [0], Status.PENDING_PAYMENT),
    (10, [8], Status.PENDING_PAYMENT),
    (3, [2, 4], Status.ACCEPTED),
    (9, [3, 3], Status.SHIPPED),
    (8, [7], Status.CANCELLED),
    (1, [4, 4], Status.CANCELLED),
    (3, [5], Status.REFUNDED),
    (9, [6, 6], Status.RETURNED),
    (9, [4, 6], Status.RETURNED),
    (3, [4, 5], Status.REFUNDED),
    (9, [3, 6], Status.SHIPPED),
])  # fmt: skip
def test_states_map_to_normalised_statuses(bm, adapter, order_state, line_states, expected):
    lines = [orderline(id=n, state=s, listing=f"SKU{n}") for n, s in enumerate(line_states)]
    bm.routes[("GET", "/ws/orders")] = [(200, envelope([order(state=order_state, lines=lines)]))]
    [got] = pages(adapter, page_size=10)[0].orders
    assert (got.status, got.marketplace_state) == (expected, str(order_state))
    assert [i.status for i in got.items] == [LINE_STATES[s] for s in line_states]
    assert [i.marketplace_state for i in got.items] == [str(s) for s in line_states]


# -- errors and the token -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_raise_an_authentication_error_without_the_token(bm, adapter, caplog, status):
    body = {"error": {"code": "unauthorized", "message": f"bad token {TOKEN}"}}
    bm.routes[("GET", "/ws/orders")] = [(status, body)]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationError) as caught:
        pages(adapter, page_size=10)
    message = str(caught.value)
    assert "backmarket-fr" in message and f"HTTP {status}" in message and "\n" not in message
    assert TOKEN not in message and TOKEN not in repr(caught.value)
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(adapter) and TOKEN not in repr(adapter.client) and TOKEN not in repr(adapter.config)


def test_a_cloudflare_html_403_is_an_authentication_error(bm, adapter):
    bm.routes[("GET", "/ws/orders")] = [(403, b"<html>Attention required</html>")]
    with pytest.raises(AuthenticationError, match="HTTP 403"):
        pages(adapter, page_size=10)


def test_an_unreachable_host_is_a_marketplace_error():
    adapter = make_adapter(closed_port_url(), max_retries=1)
    with pytest.raises(MarketplaceError, match="cannot reach Back Market") as caught:
        pages(adapter, page_size=10)
    assert TOKEN not in str(caught.value)
    adapter.close()


def test_reads_are_retried_on_5xx_and_429_then_succeed(bm, adapter):
    bm.routes[("GET", "/ws/orders")] = [
        (503, {"error": {"code": "unavailable", "message": "try later"}}),
        (429, {"error": {"code": "rate-limited", "message": "slow down"}}, {"Retry-After": "0"}),
        (200, envelope([order()])),
    ]
    [page] = pages(adapter, page_size=10)
    assert [o.reference for o in page.orders] == ["5978"]
    assert len(bm.calls("GET", "/ws/orders")) == 3


def test_a_read_follows_a_redirect_on_the_same_host_with_the_token(bm, adapter):
    bm.routes[("GET", "/ws/orders/5978")] = [(301, {}, {"Location": f"{bm.url}/ws/orders/v2/5978"})]
    bm.routes[("GET", "/ws/orders/v2/5978")] = [(200, order())]
    assert adapter.get_order("5978").reference == "5978"
    [moved] = bm.calls("GET", "/ws/orders/v2/5978")
    assert moved["headers"]["Authorization"] == f"Basic {TOKEN}"


def test_an_accept_is_not_sent_again_to_where_a_redirect_points(bm, adapter):
    bm.routes[("POST", "/ws/orders/5978")] = [(307, {}, {"Location": f"{bm.url}/ws/orders/v2/5978"})]
    [result] = adapter.accept_items(an_order(), an_order().items[:1])
    assert not result.ok and "HTTP 307" in result.error
    assert bm.calls("POST", "/ws/orders/v2/5978") == []


def test_retries_are_bounded(bm, adapter):
    body = {"error": {"code": "boom", "message": f"internal error with {TOKEN}"}}
    bm.routes[("GET", "/ws/orders")] = [(500, body)]
    with pytest.raises(MarketplaceError, match="HTTP 500.*internal error") as caught:
        pages(adapter, page_size=10)
    assert TOKEN not in str(caught.value)
    assert len(bm.calls("GET", "/ws/orders")) == FAST["max_retries"] + 1


def test_get_order(bm, adapter):
    bm.routes[("GET", "/ws/orders/5978")] = [(200, order())]
    assert adapter.get_order("5978").reference == "5978"
    bm.routes[("GET", "/ws/orders/5979")] = [(200, order(5979, price="n/a"))]
    with pytest.raises(ValueError, match="order 5979: price"):
        adapter.get_order("5979")
    with pytest.raises(MarketplaceError, match="HTTP 404"):
        adapter.get_order("1")


# -- documents ----------------------------------------------------------------------------------------


def test_documents_come_from_the_order_and_its_first_delivery_with_a_label(bm, adapter):
    bm.routes[("GET", "/ws/orders/5978")] = [(200, order(delivery_note="", tracking_number=""))]
    deliveries = [
        {"order": 5978, "orderlines": [37195], "labelUrl": "", "trackingNumber": ""},
        {"order": 5978, "labelUrl": "/static/shipment_labels/eu-1.pdf", "trackingNumber": "Jc2rnTAc4L"},
        {"order": 5978, "labelUrl": "https://labels.example/2.pdf", "trackingNumber": "OTHER"},
    ]
    bm.routes[("GET", "/ws/shipping/v1/deliveries")] = [(200, envelope(deliveries))]
    docs = adapter.get_documents("5978")
    assert docs.delivery_note_url is None
    assert docs.label_url == f"{bm.url}/static/shipment_labels/eu-1.pdf"
    assert docs.tracking_number == "Jc2rnTAc4L"
    assert bm.calls("GET", "/ws/shipping/v1/deliveries")[0]["query"] == {"order_id": "5978"}


def test_documents_of_an_order_that_is_not_backship_skip_deliveries(bm, adapter):
    bm.routes[("GET", "/ws/orders/5978")] = [(200, order(is_backship=False))]
    docs = adapter.get_documents("5978")
    assert docs.delivery_note_url == "https://example.com/delivery_note/1519221434.69.pdf"
    assert (docs.label_url, docs.tracking_number) == (None, "my_tracking_number")
    assert bm.calls("GET", "/ws/shipping/v1/deliveries") == []


# -- accepting lines ----------------------------------------------------------------------------------


def test_accept_posts_once_per_item_and_reports_each_line(bm, adapter):
    def answer(req):
        if req["body"]["sku"] == "B":
            return 400, {"error": {"code": "invalid-state", "message": "orderline is not paid"}}
        if req["body"]["sku"] == "C":
            return 500, {"error": {"code": "boom", "message": "internal error"}}
        return 200, order()

    bm.routes[("POST", "/ws/orders/5978")] = answer
    results = adapter.accept_items(an_order(skus=("A", "B", "C", "D")), an_order(skus=("A", "B", "C", "D")).items)
    assert [(r.item_reference, r.ok) for r in results] == [("100", True), ("101", False), ("102", False), ("103", True)]
    assert "HTTP 400" in results[1].error and "orderline is not paid" in results[1].error
    assert "HTTP 500" in results[2].error
    # Never retried: one POST per item, even for the one that failed with a 500.
    assert [r["body"] for r in bm.calls("POST", "/ws/orders/5978")] == [
        {"order_id": 5978, "new_state": 2, "sku": sku} for sku in "ABCD"
    ]
    assert (adapter.accepted_state, adapter.accepted_order_state) == ("2", "3")


def test_accept_stops_sending_once_credentials_are_refused(bm, adapter):
    bm.routes[("POST", "/ws/orders/5978")] = [(401, {"error": {"code": "unauthorized", "message": "no"}})]
    results = adapter.accept_items(an_order(), an_order(skus=("A", "B")).items)
    assert [r.ok for r in results] == [False, False]
    assert all("HTTP 401" in r.error and TOKEN not in r.error for r in results)
    assert len(bm.calls("POST", "/ws/orders/5978")) == 1


def test_accept_on_an_unreachable_host_is_a_failed_result():
    adapter = make_adapter(closed_port_url())
    [result] = adapter.accept_items(an_order(), an_order().items)
    assert not result.ok and "cannot reach" in result.error
    adapter.close()


# -- stock --------------------------------------------------------------------------------------------


def test_push_stock_sets_each_quantity_retrying_when_safe(bm, adapter):
    bm.routes[("POST", "/ws/listings/142")] = [(503, {}), (200, {"sku": "A", "quantity": 3})]
    bm.routes[("POST", "/ws/listings/da72cf47-1b1f-434a-9224-1f8684ac1bd4")] = [(200, {"quantity": 0})]
    updates = [
        StockUpdate("142", "A", 3),
        StockUpdate("404", "B", 1),
        StockUpdate("da72cf47-1b1f-434a-9224-1f8684ac1bd4", "C", 0),
    ]
    results = adapter.push_stock(updates)
    assert [(r.listing_ref, r.ok, r.quantity) for r in results] == [
        ("142", True, 3),
        ("404", False, None),
        ("da72cf47-1b1f-434a-9224-1f8684ac1bd4", True, 0),
    ]
    assert "HTTP 404" in results[1].error
    assert [r["body"] for r in bm.calls("POST", "/ws/listings/142")] == [{"quantity": 3}, {"quantity": 3}]


# -- care ---------------------------------------------------------------------------------------------


def test_care_folders_name_the_orderline_and_page_through_next(bm, adapter):
    first = [
        {"id": 123, "orderline": 37195, "state": 0, "date_modification": "2024-02-01T10:00:00+01:00", "x": 1.5},
        {"id": 124, "state": 0},  # no orderline: cannot be attached to an item
    ]
    detail = {"id": 125, "state": 9, "orderline": {"id": 37196, "order": {"order_id": 5978}}}
    bm.routes[("GET", "/ws/sav")] = lambda req: (
        (200, {**envelope([detail]), "count": 3})
        if req["query"].get("page") == "2"
        else (200, {**envelope(first, f"{bm.url}/ws/sav/?page=2"), "count": 3})
    )
    bm.routes[("GET", "/ws/sav/")] = bm.routes[("GET", "/ws/sav")]
    since = datetime(2024, 2, 1, 8, 5, 59, tzinfo=UTC)
    result = list(adapter.iter_care_records(since))
    assert bm.requests[0]["query"] == {"last_modification_date": "2024-02-01-08-05"}
    assert [(c.care_id, c.item_reference, c.order_reference, c.state) for p in result for c in p.care] == [
        ("123", "37195", None, "0"),
        ("125", "37196", "5978", "9"),
    ]
    assert result[0].care[0].modified_at == datetime(2024, 2, 1, 9, 0, tzinfo=UTC)
    json.dumps(result[0].care[0].raw)  # kept in a JSON column: no Decimal left in it
    [error] = result[0].errors
    assert error.reference == "124" and "orderline" in error.error


def test_every_sync_type_is_supported():
    adapter = make_adapter("http://127.0.0.1:9")
    assert all(adapter.supports(t) for t in ALL_SYNC_TYPES)
    adapter.close()
