"""The Refurbed adapter's writes (accepting, stock) and its pacing by the rate-limit headers, against
a small local HTTP server serving payloads shaped like the document's."""

from __future__ import annotations

import time

from ordersync_pipeline.marketplaces.base import ListingKind, Status, StockUpdate
from ordersync_pipeline_tests.refurbed_fake import an_order, item, listing, make_adapter, order

# -- accepting ----------------------------------------------------------------------------------------


def test_accepting_is_one_batch_call_with_per_item_results_in_request_order(rf, rf_adapter):
    results = [
        {"status": {"code": 0, "message": "", "details": []}, "order_item": item(state="ACCEPTED")},
        {"status": {"code": 3, "message": "illegal state transition", "details": []}, "order_item": None},
        {"status": {}, "order_item": item(id="9004", state="ACCEPTED")},  # proto3 JSON may leave out code 0
    ]
    rf.routes["OrderItemService/BatchUpdateOrderItemsState"] = [(200, {"results": results})]
    got = rf_adapter.accept_items(an_order(), an_order(item_refs=("9001", "9002", "9004")).items)
    assert [(r.item_reference, r.ok) for r in got] == [("9001", True), ("9002", False), ("9004", True)]
    assert "INVALID_ARGUMENT: illegal state transition" in got[1].error
    assert rf.bodies("OrderItemService/BatchUpdateOrderItemsState") == [
        {"updates": [{"id": ref, "state": "ACCEPTED"} for ref in ("9001", "9002", "9004")]}
    ]


def test_accepting_is_never_resent_and_goes_in_batches_of_fifty(rf, rf_adapter):
    rf.routes["OrderItemService/BatchUpdateOrderItemsState"] = [(503, {"code": 14, "message": "unavailable"})]
    refs = tuple(str(9000 + n) for n in range(120)) + ("not-an-id",)
    got = rf_adapter.accept_items(an_order(), an_order(item_refs=refs).items)
    assert [len(b["updates"]) for b in rf.bodies("OrderItemService/BatchUpdateOrderItemsState")] == [50, 50, 20]
    assert not any(r.ok for r in got) and [r.item_reference for r in got] == list(refs)
    assert "HTTP 503 UNAVAILABLE" in got[0].error and "integers" in got[-1].error


def test_the_items_of_several_orders_share_a_call_and_their_results_go_back_to_each_order(rf, rf_adapter):
    results = [
        {"status": {}, "order_item": item(id="9001", state="ACCEPTED")},
        {"status": {"code": 3, "message": "illegal state transition", "details": []}, "order_item": None},
        {"status": {}, "order_item": item(id="9004", state="ACCEPTED")},
    ]
    rf.routes["OrderItemService/BatchUpdateOrderItemsState"] = [(200, {"results": results})]
    first, second = an_order(item_refs=("9001", "9002")), an_order(item_refs=("9004",))
    got = rf_adapter.accept_orders([(first, first.items), (second, second.items)])
    assert [[(r.item_reference, r.ok) for r in results] for results in got] == [
        [("9001", True), ("9002", False)],
        [("9004", True)],
    ]
    assert len(rf.requests) == 1


def test_refused_credentials_stop_accepting_the_other_batches(rf, rf_adapter):
    rf.routes["OrderItemService/BatchUpdateOrderItemsState"] = [(401, {"code": 16, "message": "bad token"})]
    got = rf_adapter.accept_items(an_order(), an_order(item_refs=tuple(str(n) for n in range(1, 80))).items)
    assert len(rf.requests) == 1 and not any(r.ok for r in got) and "HTTP 401" in got[-1].error


def test_what_accepted_predicts(rf, rf_adapter):
    order_ = an_order(item_refs=("1", "2"))
    partly = rf_adapter.accepted(order_, {"1"})
    assert (partly.status, [i.marketplace_state for i in partly.items]) == (Status.PAID, ["ACCEPTED", "NEW"])
    whole = rf_adapter.accepted(order_, {"1", "2"})
    assert (whole.status, whole.marketplace_state) == (Status.ACCEPTED, "ACCEPTED")


# -- stock --------------------------------------------------------------------------------------------


def test_stock_goes_in_batches_of_fifty_by_offer_id_or_sku(rf, rf_adapter):
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
    got = rf_adapter.push_stock(updates + refused)
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


def test_stock_is_retried_on_5xx(rf, rf_adapter):
    ok = {"results": [{"status": {"code": 0}, "offer": {"id": "1", "stock": 4}}]}
    rf.routes["OfferService/BatchUpdateOffers"] = [(503, {"code": 14, "message": "unavailable"}), (200, ok)]
    [result] = rf_adapter.push_stock([StockUpdate("1", "SKU", 4)])
    assert (result.ok, result.quantity) == (True, 4) and len(rf.requests) == 2


# -- rate limit ---------------------------------------------------------------------------------------


def test_remaining_zero_waits_for_reset_before_the_next_call(rf, rf_adapter):
    reset = int(time.time()) + 2
    spent = {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    rf.routes["OrderService/ListOrders"] = [(*listing([order("1")], True), spent), listing([])]
    list(rf_adapter.iter_new_orders(page_size=10))
    assert rf.requests[1]["at"] >= reset


def test_a_429_is_ridden_out_for_reads_until_reset(rf, rf_adapter):
    reset = int(time.time()) + 1
    limited = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    too_many = (429, {"code": 8, "message": "rate limit exceeded", "details": []}, limited)
    rf.routes["OrderService/ListOrders"] = [too_many, listing([order("1")])]
    [page] = list(rf_adapter.iter_new_orders(page_size=10))
    assert [o.reference for o in page.orders] == ["1"]
    assert len(rf.requests) == 2 and rf.requests[1]["at"] >= reset


def test_a_429_on_accept_is_reported_not_resent(rf, rf_adapter):
    too_many = (429, {"code": 8, "message": "rate limit exceeded", "details": []})
    rf.routes["OrderItemService/BatchUpdateOrderItemsState"] = [too_many]
    [result] = rf_adapter.accept_items(an_order(), an_order().items)
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
