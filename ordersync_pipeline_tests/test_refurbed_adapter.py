"""The Refurbed adapter against a small local HTTP server serving payloads shaped like the document's."""

from __future__ import annotations

import copy
import json
import logging
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from ordersync_pipeline.marketplaces.base import (
    AuthenticationError,
    ListingKind,
    MarketplaceConfig,
    MarketplaceError,
    Order,
    OrderItem,
    Status,
    StockUpdate,
    SyncType,
)
from ordersync_pipeline.marketplaces.refurbed.adapter import RefurbedAdapter
from ordersync_pipeline.marketplaces.registry import adapter_class
from ordersync_pipeline_tests.fake_http import QuietHandler, loopback_server, send_json

TOKEN = "rf-s3cr3t-t0k3n"
USER_AGENT = "ordersync-tests/1.0 (ops@example.com)"
FAST = {"backoff_factor": 0.01, "backoff_jitter": 0, "max_retries": 2, "timeout": [2, 5]}
PREFIX = "/refb.merchant.v1."


def item(**overrides: Any) -> dict[str, Any]:
    """An order item with the document's fields, as the gateway serves them."""
    payload = {
        "id": "9001",
        "order_id": "5001",
        "name": "iPhone 13 128 GB - Midnight",
        "state": "NEW",
        "sku": "IPH13-128-BLK-A",
        "currency_code": "EUR",
        "settlement_currency_code": "EUR",
        "total_charged": "429.00",
        "total_paid": "429.00",
        "total_refunded": "0.00",
        "offer_data": {"offer_id": "61000001", "offer_version": "3", "offer_grading": "A", "shipping_costs": "0.00"},
        "parcel_tracking_url": "",
        "item_identifiers": [],
        "vat_rate": "0",
        "a_field_added_later": {"anything": 1},
    }
    return payload | overrides


def order(order_id: str = "5001", items: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    payload = {
        "id": order_id,
        "released_at": "2024-05-02T10:15:30.250Z",
        "state": "NEW",
        "labels": ["MISSING_PARCEL_TRACKING_URLS", "MISSING_ITEM_IDENTIFIERS"],
        "customer_email": "camille@example.com",
        "shipping_address": {"first_name": "Camille", "family_name": "Martin", "country_code": "DE"},
        "currency_code": "EUR",
        "settlement_currency_code": "EUR",
        "total_charged": "429.00",
        "total_paid": "429.00",
        "total_refunded": "0.00",
        "items": items if items is not None else [item(order_id=order_id)],
        "payment_method": "STRIPE_CARDS",
    }
    return payload | overrides


class FakeRefurbed:
    """A real HTTP server on loopback answering from canned responses, recording every request.

    ``routes`` maps an RPC name (``OrderService/ListOrders``) to a list of answers served in turn
    (the last one repeats) or to a function of the request; an answer is (status, body[, headers]).
    """

    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = {
                    "rpc": self.path.removeprefix(PREFIX),
                    "headers": dict(self.headers),
                    "body": json.loads(raw) if raw else None,
                    "at": time.time(),
                }
                fake.requests.append(request)
                send_json(self, *fake.answer(request))

        self.server, self.url, self.thread = loopback_server(Handler)

    def answer(self, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        route = self.routes.get(request["rpc"])
        if route is None:
            return 404, {"code": 5, "message": "Not Found", "details": []}, {}
        answer = route(request) if callable(route) else (route.pop(0) if len(route) > 1 else route[0])
        return answer if len(answer) == 3 else (*answer, {})

    def bodies(self, rpc: str) -> list[Any]:
        return [r["body"] for r in self.requests if r["rpc"] == rpc]


@pytest.fixture
def rf():
    fake = FakeRefurbed()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def make_adapter(url: str, **settings: Any) -> RefurbedAdapter:
    settings = {"user_agent": USER_AGENT, **FAST, **settings}
    config = MarketplaceConfig(id=2, code="refurbed-de", kind="refurbed", base_url=url, token=TOKEN, settings=settings)
    return RefurbedAdapter(config)


@pytest.fixture
def adapter(rf):
    adapter = make_adapter(rf.url)
    yield adapter
    adapter.close()


def listing(orders: list[Any], has_more: bool = False) -> tuple[int, dict[str, Any]]:
    return 200, {"orders": orders, "has_more": has_more}


def an_order(reference: str = "5001", item_refs: tuple[str, ...] = ("9001",)) -> Order:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    items = tuple(OrderItem(ref, "SKU", "61000001", 1, Decimal("10"), Status.PAID, "NEW") for ref in item_refs)
    return Order(reference, Status.PAID, "NEW", "EUR", Decimal("10"), now, now, items)


# -- headers, paging, filters -----------------------------------------------------------------------


def test_every_call_is_a_json_post_with_plain_token_and_user_agent(rf, adapter):
    rf.routes["OrderService/ListOrders"] = [listing([])]
    list(adapter.iter_new_orders(page_size=10))
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


def test_pages_follow_starting_after_the_last_id_until_has_more_is_false(rf, adapter):
    answers = {None: listing([order("11"), order("12")], True), "12": listing([order("13")], True), "13": listing([])}
    rf.routes["OrderService/ListOrders"] = lambda req: answers[req["body"]["pagination"].get("starting_after")]
    result = list(adapter.iter_new_orders(page_size=500))
    assert [[o.reference for o in p.orders] for p in result] == [["11", "12"], ["13"], []]
    assert [b["pagination"] for b in rf.bodies("OrderService/ListOrders")] == [
        {"limit": 100},  # the documented maximum
        {"limit": 100, "starting_after": "12"},
        {"limit": 100, "starting_after": "13"},
    ]


def test_a_cursor_that_does_not_move_on_is_an_error_not_a_loop(rf, adapter):
    rf.routes["OrderService/ListOrders"] = [listing([order("11")], True)]
    with pytest.raises(MarketplaceError, match="usable id"):
        list(adapter.iter_new_orders(page_size=10))
    assert len(rf.requests) == 2


def test_modified_rereads_open_orders_then_the_others_released_in_the_window(rf, adapter):
    rf.routes["OrderService/ListOrders"] = [listing([order("21")]), listing([order("7", state="SHIPPED")])]
    since = datetime(2024, 3, 1, 14, 30, 15, 999, tzinfo=timezone(timedelta(hours=2)))
    result = list(adapter.iter_modified_orders(since, page_size=20))
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


def test_a_good_order_becomes_exact_normalised_values(rf, adapter):
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
    [page] = list(adapter.iter_new_orders(page_size=10))
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


def test_tracking_stays_missing_while_an_item_that_can_ship_has_no_url(rf, adapter):
    items = [item(state="SHIPPED", parcel_tracking_url="https://t.example/1"), item(id="9002", state="ACCEPTED")]
    rf.routes["OrderService/GetOrder"] = [(200, {"order": order(items=items, state="ACCEPTED")})]
    docs = adapter.get_documents("5001")
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


def test_every_documented_state_maps(rf, adapter):
    payloads = [
        order(str(100 + n), state=o_state, items=[item(state=i_state)])
        for n, (o_state, i_state) in enumerate(zip(ORDER_STATES, [*ITEM_STATES] * 2, strict=False))
    ]
    rf.routes["OrderService/ListOrders"] = [listing(payloads)]
    [page] = list(adapter.iter_new_orders(page_size=100))
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


def test_an_item_whose_sku_is_empty_or_left_out_is_kept_beside_its_siblings(rf, adapter):
    # The document: the SKU "can be empty string" (an offer made without one); proto3 JSON may
    # leave an empty string out altogether.
    both = order("5001")
    both["items"] = [dict(both["items"][0], id=str(9000 + n)) for n in range(3)]
    both["items"][1]["sku"] = ""
    del both["items"][2]["sku"]
    rf.routes["OrderService/ListOrders"] = [listing([both])]
    [page] = list(adapter.iter_new_orders(page_size=10))
    assert page.errors == []
    assert [(i.sku, i.has_sku) for i in page.orders[0].items] == [("IPH13-128-BLK-A", True), ("", False), ("", False)]


@pytest.mark.parametrize("case", sorted(BAD_ORDERS))
def test_a_malformed_order_is_a_record_error_and_the_rest_of_the_page_parses(rf, adapter, case):
    spoil, field = BAD_ORDERS[case]
    bad = order("5002")
    spoil(bad)
    rf.routes["OrderService/ListOrders"] = [listing([order("5001"), copy.deepcopy(bad), order("5003")])]
    [page] = list(adapter.iter_new_orders(page_size=10))
    assert [o.reference for o in page.orders] == ["5001", "5003"]
    [error] = page.errors
    assert error.reference == str(bad["id"])
    assert field in error.error
    assert error.raw == json.loads(json.dumps(bad), parse_float=Decimal)


# -- errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(401, 16), (403, 7)])
def test_refused_credentials_name_the_code_never_the_token(rf, adapter, status, code):
    body = {"code": code, "message": f"invalid authorization header Plain {TOKEN}", "details": []}
    rf.routes["OrderService/ListOrders"] = [(status, body)]
    with pytest.raises(AuthenticationError) as caught:
        list(adapter.iter_new_orders(page_size=10))
    message = str(caught.value)
    assert f"HTTP {status}" in message and ("UNAUTHENTICATED" if code == 16 else "PERMISSION_DENIED") in message
    assert TOKEN not in message and "refurbed-de" in message
    assert len(rf.requests) == 1  # refused credentials are not retried


def test_an_api_error_names_status_code_and_message(rf, adapter, caplog):
    rf.routes["OrderService/GetOrder"] = [(404, {"code": 5, "message": "order not found", "details": []})]
    with caplog.at_level(logging.DEBUG), pytest.raises(MarketplaceError) as caught:
        adapter.get_order("5001")
    assert str(caught.value) == (
        "refurbed-de: Refurbed answered HTTP 404 NOT_FOUND for OrderService/GetOrder: order not found"
    )
    assert TOKEN not in caplog.text


def test_a_body_that_is_not_json_is_a_clear_error(rf, adapter):
    rf.routes["OrderService/ListOrders"] = [(200, b"<html>maintenance</html>")]
    with pytest.raises(MarketplaceError, match="ListOrders with a body that is not JSON"):
        list(adapter.iter_new_orders(page_size=10))


def test_an_order_reference_that_is_not_an_id_is_refused_before_any_call(rf, adapter):
    with pytest.raises(ValueError, match="integers"):
        adapter.get_order("A-1")
    assert rf.requests == []


# -- accepting ----------------------------------------------------------------------------------------


def test_accepting_is_one_batch_call_with_per_item_results_in_request_order(rf, adapter):
    results = [
        {"status": {"code": 0, "message": "", "details": []}, "order_item": item(state="ACCEPTED")},
        {"status": {"code": 3, "message": "illegal state transition", "details": []}, "order_item": None},
        {"status": {}, "order_item": item(id="9004", state="ACCEPTED")},  # proto3 JSON may leave out code 0
    ]
    rf.routes["OrderItemService/BatchUpdateOrderItemsState"] = [(200, {"results": results})]
    got = adapter.accept_items(an_order(), an_order(item_refs=("9001", "9002", "9004")).items)
    assert [(r.item_reference, r.ok) for r in got] == [("9001", True), ("9002", False), ("9004", True)]
    assert "INVALID_ARGUMENT: illegal state transition" in got[1].error
    assert rf.bodies("OrderItemService/BatchUpdateOrderItemsState") == [
        {"updates": [{"id": ref, "state": "ACCEPTED"} for ref in ("9001", "9002", "9004")]}
    ]


def test_accepting_is_never_resent_and_goes_in_batches_of_fifty(rf, adapter):
    rf.routes["OrderItemService/BatchUpdateOrderItemsState"] = [(503, {"code": 14, "message": "unavailable"})]
    refs = tuple(str(9000 + n) for n in range(120)) + ("not-an-id",)
    got = adapter.accept_items(an_order(), an_order(item_refs=refs).items)
    assert [len(b["updates"]) for b in rf.bodies("OrderItemService/BatchUpdateOrderItemsState")] == [50, 50, 20]
    assert not any(r.ok for r in got) and [r.item_reference for r in got] == list(refs)
    assert "HTTP 503 UNAVAILABLE" in got[0].error and "integers" in got[-1].error


def test_the_items_of_several_orders_share_a_call_and_their_results_go_back_to_each_order(rf, adapter):
    results = [
        {"status": {}, "order_item": item(id="9001", state="ACCEPTED")},
        {"status": {"code": 3, "message": "illegal state transition", "details": []}, "order_item": None},
        {"status": {}, "order_item": item(id="9004", state="ACCEPTED")},
    ]
    rf.routes["OrderItemService/BatchUpdateOrderItemsState"] = [(200, {"results": results})]
    first, second = an_order(item_refs=("9001", "9002")), an_order(item_refs=("9004",))
    got = adapter.accept_orders([(first, first.items), (second, second.items)])
    assert [[(r.item_reference, r.ok) for r in results] for results in got] == [
        [("9001", True), ("9002", False)],
        [("9004", True)],
    ]
    assert len(rf.requests) == 1


def test_refused_credentials_stop_accepting_the_other_batches(rf, adapter):
    rf.routes["OrderItemService/BatchUpdateOrderItemsState"] = [(401, {"code": 16, "message": "bad token"})]
    got = adapter.accept_items(an_order(), an_order(item_refs=tuple(str(n) for n in range(1, 80))).items)
    assert len(rf.requests) == 1 and not any(r.ok for r in got) and "HTTP 401" in got[-1].error


def test_what_accepted_predicts(rf, adapter):
    order_ = an_order(item_refs=("1", "2"))
    partly = adapter.accepted(order_, {"1"})
    assert (partly.status, [i.marketplace_state for i in partly.items]) == (Status.PAID, ["ACCEPTED", "NEW"])
    whole = adapter.accepted(order_, {"1", "2"})
    assert (whole.status, whole.marketplace_state) == (Status.ACCEPTED, "ACCEPTED")


# -- stock --------------------------------------------------------------------------------------------


def test_stock_goes_in_batches_of_fifty_by_offer_id_or_sku(rf, adapter):
    def answer(req):
        results = []
        for update in req["body"]["offers"]:
            ident = update["identifier"]
            if ident.get("id") == "13":
                results.append({"status": {"code": 5, "message": "offer not found", "details": []}})
            else:
                offer = {"id": ident.get("id", "77"), "sku": ident.get("sku", ""), "stock": str(update["stock"])}
                results.append({"status": {"code": 0}, "offer": offer})
        return 200, {"results": results}

    rf.routes["OfferService/BatchUpdateOffers"] = answer
    by_sku = [StockUpdate("RF-SKU-9", "X", 2, ListingKind.SKU), StockUpdate("4006381333931", "Y", 3, ListingKind.SKU)]
    updates = [StockUpdate(str(n), f"SKU-{n}", n % 5) for n in range(1, 119)] + by_sku
    refused = [StockUpdate("14", "S", -1), StockUpdate("RF-SKU-9", "X", 2, ListingKind.ID)]
    got = adapter.push_stock(updates + refused)
    bodies = rf.bodies("OfferService/BatchUpdateOffers")
    assert [len(b["offers"]) for b in bodies] == [50, 50, 20]
    assert bodies[0]["offers"][0] == {"identifier": {"id": "1"}, "stock": 1}
    # Named as the listing says: a SKU of digits is still a SKU.
    assert bodies[2]["offers"][-2:] == [
        {"identifier": {"sku": "RF-SKU-9"}, "stock": 2},
        {"identifier": {"sku": "4006381333931"}, "stock": 3},
    ]
    assert [r.listing_ref for r in got] == [u.listing_ref for u in updates + refused]
    assert [r.ok for r in got].count(False) == 3
    assert "NOT_FOUND: offer not found" in got[12].error and "not sent" in got[-2].error
    assert "offer ids are integers" in got[-1].error
    assert (got[0].ok, got[0].quantity) == (True, 1)


def test_stock_is_retried_on_5xx(rf, adapter):
    ok = {"results": [{"status": {"code": 0}, "offer": {"id": "1", "stock": 4}}]}
    rf.routes["OfferService/BatchUpdateOffers"] = [(503, {"code": 14, "message": "unavailable"}), (200, ok)]
    [result] = adapter.push_stock([StockUpdate("1", "SKU", 4)])
    assert (result.ok, result.quantity) == (True, 4) and len(rf.requests) == 2


# -- rate limit ---------------------------------------------------------------------------------------


def test_remaining_zero_waits_for_reset_before_the_next_call(rf, adapter):
    reset = int(time.time()) + 2
    spent = {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    rf.routes["OrderService/ListOrders"] = [(*listing([order("1")], True), spent), listing([])]
    list(adapter.iter_new_orders(page_size=10))
    assert rf.requests[1]["at"] >= reset


def test_a_429_is_ridden_out_for_reads_until_reset(rf, adapter):
    reset = int(time.time()) + 1
    limited = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    too_many = (429, {"code": 8, "message": "rate limit exceeded", "details": []}, limited)
    rf.routes["OrderService/ListOrders"] = [too_many, listing([order("1")])]
    [page] = list(adapter.iter_new_orders(page_size=10))
    assert [o.reference for o in page.orders] == ["1"]
    assert len(rf.requests) == 2 and rf.requests[1]["at"] >= reset


def test_a_429_on_accept_is_reported_not_resent(rf, adapter):
    too_many = (429, {"code": 8, "message": "rate limit exceeded", "details": []})
    rf.routes["OrderItemService/BatchUpdateOrderItemsState"] = [too_many]
    [result] = adapter.accept_items(an_order(), an_order().items)
    assert not result.ok and "HTTP 429 RESOURCE_EXHAUSTED" in result.error and len(rf.requests) == 1


def test_rate_limit_waits_are_bounded(rf):
    far = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 3600)}
    rf.routes["OrderService/ListOrders"] = [(*listing([order("1")], True), far), listing([])]
    adapter = make_adapter(rf.url, rate_limit_max_wait=0.2)
    started = time.monotonic()
    list(adapter.iter_new_orders(page_size=10))
    adapter.close()
    # The reset is an hour away: a wait bounded by 0.2 s ends within a minute on the busiest machine.
    assert time.monotonic() - started < 60
