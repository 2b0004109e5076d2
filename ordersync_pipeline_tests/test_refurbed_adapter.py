"""The Refurbed adapter's reads (headers, paging, parsing, errors) against a small local HTTP server
serving payloads shaped like the document's."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ordersync_pipeline.marketplaces.base import (
    AuthenticationError,
    MarketplaceConfig,
    MarketplaceError,
    Order,
    OrderItem,
    Status,
    SyncType,
)
from ordersync_pipeline.marketplaces.refurbed.adapter import RefurbedAdapter
from ordersync_pipeline.marketplaces.registry import adapter_class
from ordersync_pipeline_tests.refurbed_fake import TOKEN, USER_AGENT, item, listing, make_adapter, order

# -- headers, paging, filters -----------------------------------------------------------------------


def test_every_call_is_a_json_post_with_plain_token_and_user_agent(rf, rf_adapter):
    rf.routes["OrderService/ListOrders"] = [listing([])]
    list(rf_adapter.iter_new_orders(page_size=10))
    [request] = rf.requests
    assert request["rpc"] == "OrderService/ListOrders"
    assert request["headers"]["Authorization"] == f"Plain {TOKEN}"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["User-Agent"] == USER_AGENT
    assert request["body"] == {
        "filter": {"state": {"any_of": ["NEW"]}},
        "pagination": {"limit": 10},
        "sort": {"by": "ID", "order": "ASC"},
    }


def test_the_default_user_agent_names_this_integration_not_back_markets(rf):
    rf.routes["OrderService/ListOrders"] = [listing([])]
    adapter = RefurbedAdapter(MarketplaceConfig(id=2, code="rf", kind="refurbed", base_url=rf.url, token=TOKEN))
    list(adapter.iter_new_orders(page_size=10))
    adapter.close()
    assert rf.requests[0]["headers"]["User-Agent"].startswith("ordersync/")


def test_pages_follow_starting_after_the_last_id_until_has_more_is_false(rf, rf_adapter):
    answers = {None: listing([order("11"), order("12")], True), "12": listing([order("13")], True), "13": listing([])}
    rf.routes["OrderService/ListOrders"] = lambda req: answers[req["body"]["pagination"].get("starting_after")]
    result = list(rf_adapter.iter_new_orders(page_size=500))
    assert [[o.reference for o in p.orders] for p in result] == [["11", "12"], ["13"], []]
    assert [b["pagination"] for b in rf.bodies("OrderService/ListOrders")] == [
        {"limit": 100},  # the documented maximum
        {"limit": 100, "starting_after": "12"},
        {"limit": 100, "starting_after": "13"},
    ]


def test_a_cursor_that_does_not_move_on_is_an_error_not_a_loop(rf, rf_adapter):
    rf.routes["OrderService/ListOrders"] = [listing([order("11")], True)]
    with pytest.raises(MarketplaceError, match="usable id"):
        list(rf_adapter.iter_new_orders(page_size=10))
    assert len(rf.requests) == 2


def test_modified_rereads_open_orders_then_the_others_released_in_the_window(rf, rf_adapter):
    rf.routes["OrderService/ListOrders"] = [listing([order("21")]), listing([order("7", state="SHIPPED")])]
    since = datetime(2024, 3, 1, 14, 30, 15, 999, tzinfo=timezone(timedelta(hours=2)))
    result = list(rf_adapter.iter_modified_orders(since, page_size=20))
    assert [o.reference for p in result for o in p.orders] == ["21", "7"]
    first, second = (b["filter"] for b in rf.bodies("OrderService/ListOrders"))
    assert first == {"state": {"any_of": ["NEW", "ACCEPTED"]}}
    assert second == {"state": {"none_of": ["NEW", "ACCEPTED"]}, "released_at": {"ge": "2024-03-01T12:30:15Z"}}


def test_modified_rechecks_recently_closed_orders_even_from_a_recent_cursor(rf):
    rf.routes["OrderService/ListOrders"] = [listing([])]
    adapter = make_adapter(rf.url, recheck_days=3)
    list(adapter.iter_modified_orders(datetime.now(UTC) - timedelta(minutes=10), page_size=20))
    adapter.close()
    ge = rf.bodies("OrderService/ListOrders")[1]["filter"]["released_at"]["ge"]
    age = datetime.now(UTC) - datetime.fromisoformat(ge)
    assert timedelta(days=3) <= age < timedelta(days=3, minutes=1)


def test_care_is_not_supported_and_tracking_is_the_document_chased():
    adapter = make_adapter("http://127.0.0.1:9")
    assert not adapter.supports(SyncType.CARE)
    assert {SyncType.NEW, SyncType.MODIFIED, SyncType.INCOMPLETE} == set(adapter.supported_sync_types)
    assert adapter.document_fields == ("tracking_number",)
    assert adapter_class("refurbed") is RefurbedAdapter
    adapter.close()


# -- parsing ------------------------------------------------------------------------------------------


def test_a_good_order_becomes_exact_normalised_values(rf, rf_adapter):
    shipped = item(
        id="9002",
        state="SHIPPED",
        sku="PIX7-128-WHT-A",
        total_charged="329.90",
        offer_data={"offer_id": "61000007"},
        parcel_tracking_url="https://track.example/00340434",
    )
    cancelled = item(id="9003", state="CANCELLED", total_charged="10.05", offer_data=None)
    payload = order(items=[item(state="ACCEPTED", parcel_tracking_url="https://track.example/1"), shipped, cancelled])
    rf.routes["OrderService/ListOrders"] = [listing([payload | {"state": "ACCEPTED", "total_charged": "768.95"}])]
    [page] = list(rf_adapter.iter_new_orders(page_size=10))
    assert page.errors == []
    [got] = page.orders
    released = datetime(2024, 5, 2, 10, 15, 30, 250000, tzinfo=UTC)
    assert got == Order(
        reference="5001",
        status=Status.ACCEPTED,
        marketplace_state="ACCEPTED",
        currency="EUR",
        total_price=Decimal("768.95"),
        created_at=released,
        modified_at=released,
        items=(
            OrderItem("9001", "IPH13-128-BLK-A", "61000001", 1, Decimal("429.00"), Status.ACCEPTED, "ACCEPTED"),
            OrderItem("9002", "PIX7-128-WHT-A", "61000007", 1, Decimal("329.90"), Status.SHIPPED, "SHIPPED"),
            OrderItem("9003", "IPH13-128-BLK-A", None, 1, Decimal("10.05"), Status.CANCELLED, "CANCELLED"),
        ),
        delivery_note_url=None,
        label_url=None,
        # every item that can ship has a URL (the cancelled one never will): the first is kept
        tracking_number="https://track.example/1",
    )
    assert isinstance(got.total_price, Decimal) and got.created_at.tzinfo is UTC


def test_tracking_stays_missing_while_an_item_that_can_ship_has_no_url(rf, rf_adapter):
    items = [item(state="SHIPPED", parcel_tracking_url="https://t.example/1"), item(id="9002", state="ACCEPTED")]
    rf.routes["OrderService/GetOrder"] = [(200, {"order": order(items=items, state="ACCEPTED")})]
    docs = rf_adapter.get_documents("5001")
    assert (docs.delivery_note_url, docs.label_url, docs.tracking_number) == (None, None, None)
    assert rf.bodies("OrderService/GetOrder") == [{"id": "5001"}]


ITEM_STATES = {
    "NEW": Status.PAID,
    "ACCEPTED": Status.ACCEPTED,
    "REJECTED": Status.CANCELLED,
    "CANCELLED": Status.CANCELLED,
    "SHIPPED": Status.SHIPPED,
    "RETURNED": Status.RETURNED,
}
ORDER_STATES = {
    "NEW": Status.PAID,
    "ACCEPTED": Status.ACCEPTED,
    "SHIPPED": Status.SHIPPED,
    "FULFILLED": Status.SHIPPED,
    "PARTIALLY_FULFILLED": Status.SHIPPED,
    "REJECTED": Status.CANCELLED,
    "CANCELLED": Status.CANCELLED,
    "UNFULFILLED": Status.CANCELLED,
    "RETURNED": Status.RETURNED,
}


def test_every_documented_state_maps(rf, rf_adapter):
    payloads = [
        order(str(100 + n), state=o_state, items=[item(state=i_state)])
        for n, (o_state, i_state) in enumerate(zip(ORDER_STATES, [*ITEM_STATES] * 2, strict=False))
    ]
    rf.routes["OrderService/ListOrders"] = [listing(payloads)]
    [page] = list(rf_adapter.iter_new_orders(page_size=100))
    assert [(o.marketplace_state, o.status) for o in page.orders] == list(ORDER_STATES.items())
    got = {o.items[0].marketplace_state: o.items[0].status for o in page.orders}
    assert got == ITEM_STATES


BAD_ORDERS = {
    "missing released_at": (lambda o: o.pop("released_at"), "released_at"),
    "order id as a number": (lambda o: o.update(id=5001), "id"),
    "order id not an integer": (lambda o: o.update(id="A-5001"), "id"),
    "item id as a number": (lambda o: o["items"][0].update(id=9001), "items[0].id"),
    "money with a comma": (lambda o: o.update(total_charged="12,50"), "total_charged"),
    "item money as a JSON number": (lambda o: o["items"][0].update(total_charged=429.0), "items[0].total_charged"),
    "item money missing": (lambda o: o["items"][0].pop("total_charged"), "items[0].total_charged"),
    "unknown order state": (lambda o: o.update(state="LOST"), "state"),
    "unspecified item state": (lambda o: o["items"][0].update(state="UNSPECIFIED"), "items[0].state"),
    "no items": (lambda o: o.update(items=[]), "items"),
    "sku not a string": (lambda o: o["items"][0].update(sku=42), "items[0].sku"),
    "unspecified currency": (lambda o: o.update(currency_code="UNSPECIFIED"), "currency_code"),
}


def test_an_item_whose_sku_is_empty_or_left_out_is_kept_beside_its_siblings(rf, rf_adapter):
    # The document: the SKU "can be empty string" (an offer made without one); proto3 JSON may
    # leave an empty string out altogether.
    both = order("5001")
    both["items"] = [dict(both["items"][0], id=str(9000 + n)) for n in range(3)]
    both["items"][1]["sku"] = ""
    del both["items"][2]["sku"]
    rf.routes["OrderService/ListOrders"] = [listing([both])]
    [page] = list(rf_adapter.iter_new_orders(page_size=10))
    assert page.errors == []
    assert [(i.sku, i.has_sku) for i in page.orders[0].items] == [("IPH13-128-BLK-A", True), ("", False), ("", False)]


@pytest.mark.parametrize("case", sorted(BAD_ORDERS))
def test_a_malformed_order_is_a_record_error_and_the_rest_of_the_page_parses(rf, rf_adapter, case):
    spoil, field = BAD_ORDERS[case]
    bad = order("5002")
    spoil(bad)
    rf.routes["OrderService/ListOrders"] = [listing([order("5001"), copy.deepcopy(bad), order("5003")])]
    [page] = list(rf_adapter.iter_new_orders(page_size=10))
    assert [o.reference for o in page.orders] == ["5001", "5003"]
    [error] = page.errors
    assert error.reference == str(bad["id"])
    assert field in error.error
    assert error.raw == json.loads(json.dumps(bad), parse_float=Decimal)


# -- errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(401, 16), (403, 7)])
def test_refused_credentials_name_the_code_never_the_token(rf, rf_adapter, status, code):
    body = {"code": code, "message": f"invalid authorization header Plain {TOKEN}", "details": []}
    rf.routes["OrderService/ListOrders"] = [(status, body)]
    with pytest.raises(AuthenticationError) as caught:
        list(rf_adapter.iter_new_orders(page_size=10))
    message = str(caught.value)
    assert f"HTTP {status}" in message and ("UNAUTHENTICATED" if code == 16 else "PERMISSION_DENIED") in message
    assert TOKEN not in message and "refurbed-de" in message
    assert len(rf.requests) == 1  # refused credentials are not retried


def test_an_api_error_names_status_code_and_message(rf, rf_adapter, caplog):
    rf.routes["OrderService/GetOrder"] = [(404, {"code": 5, "message": "order not found", "details": []})]
    with caplog.at_level(logging.DEBUG), pytest.raises(MarketplaceError) as caught:
        rf_adapter.get_order("5001")
    assert str(caught.value) == (
        "refurbed-de: Refurbed answered HTTP 404 NOT_FOUND for OrderService/GetOrder: order not found"
    )
    assert TOKEN not in caplog.text


def test_a_body_that_is_not_json_is_a_clear_error(rf, rf_adapter):
    rf.routes["OrderService/ListOrders"] = [(200, b"<html>maintenance</html>")]
    with pytest.raises(MarketplaceError, match="ListOrders with a body that is not JSON"):
        list(rf_adapter.iter_new_orders(page_size=10))


def test_an_order_reference_that_is_not_an_id_is_refused_before_any_call(rf, rf_adapter):
    with pytest.raises(ValueError, match="integers"):
        rf_adapter.get_order("A-1")
    assert rf.requests == []
