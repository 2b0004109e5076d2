"""A small local HTTP server serving payloads shaped like Refurbed's document, and the helpers the
Refurbed adapter tests build orders and adapters with."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ordersync_pipeline.marketplaces.base import MarketplaceConfig, Order, OrderItem, Status
from ordersync_pipeline.marketplaces.refurbed.adapter import RefurbedAdapter
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


def make_adapter(url: str, **settings: Any) -> RefurbedAdapter:
    settings = {"user_agent": USER_AGENT, **FAST, **settings}
    config = MarketplaceConfig(id=2, code="refurbed-de", kind="refurbed", base_url=url, token=TOKEN, settings=settings)
    return RefurbedAdapter(config)


def listing(orders: list[Any], has_more: bool = False) -> tuple[int, dict[str, Any]]:
    return 200, {"orders": orders, "has_more": has_more}


def an_order(reference: str = "5001", item_refs: tuple[str, ...] = ("9001",)) -> Order:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    items = tuple(OrderItem(ref, "SKU", "61000001", 1, Decimal("10"), Status.PAID, "NEW") for ref in item_refs)
    return Order(reference, Status.PAID, "NEW", "EUR", Decimal("10"), now, now, items)
