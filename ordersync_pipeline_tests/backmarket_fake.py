"""A small local HTTP server serving payloads shaped like Back Market's document, and the helpers
the Back Market adapter tests build orders and adapters with."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ordersync_pipeline.marketplaces.backmarket.adapter import BackMarketAdapter
from ordersync_pipeline.marketplaces.base import MarketplaceConfig, Order, OrderItem, Status
from ordersync_pipeline_tests.fake_http import QuietHandler, loopback_server, send_json

TOKEN = "s3cr3t-t0k3n-value"
USER_AGENT = "BM-Ordersync-Sync;ops@example.com"
FAST = {"backoff_factor": 0.01, "backoff_jitter": 0, "max_retries": 2, "timeout": [2, 5], "rate_limit_pause": 0.05}


def orderline(**overrides: Any) -> dict[str, Any]:
    """An orderline as the document's example shows it."""
    line = {
        "id": 37195,
        "date_creation": "2022-04-29T09:35:24.123456Z",
        "state": 1,
        "price": "229.0",
        "shipping_price": "0.00",
        "shipping_delay": 48,
        "currency": "EUR",
        "return_reason": 0,
        "return_message": "",
        "listing": "IPHONE416GONLIB0",
        "listing_id": 142,
        "orderline_fee": "22.9",
        "product": "Apple Iphone 4 16 Go - Noir - Débloqué",
        "quantity": 2,
        "brand": "apple",
        "product_id": 141,
        "backcare": True,
        "backcare_price": 500,
        "imei": "011415009346880",
        "serial_number": "",
        "condition": 10,
    }
    return line | overrides


def order(order_id: int = 5978, lines: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    """An order as the document's example shows it."""
    address = {"first_name": "Victor", "last_name": "Hugo", "street": "3, Imaginary Street", "city": "Paris"}
    payload = {
        "order_id": order_id,
        "shipping_address": address,
        "billing_address": address,
        "delivery_note": "https://example.com/delivery_note/1519221434.69.pdf",
        "expected_dispatch_date": "2022-04-29T09:35:24",
        "tracking_number": "my_tracking_number",
        "tracking_url": "http://www.colissimo.fr/my_tracking_url",
        "shipper_display": "Colissimo",
        "is_backship": True,
        "date_creation": "2022-04-29T09:35:24.123456Z",
        "date_modification": "2022-04-29T11:35:24+02:00",
        "date_shipping": "2022-04-29T09:35:24.123456Z",
        "date_payment": "2022-04-29T09:35:24.123Z",
        "state": 1,
        "orderlines": lines if lines is not None else [orderline()],
        "price": "458.00",
        "shipping_price": "5.99",
        "currency": "EUR",
        "country_code": "fr-fr",
        "paypal_reference": None,
        "installment_payment": False,
        "payment_method": "PAYPAL",
        "sales_taxes": "25.8",
        "a_field_added_later": {"anything": 1},
    }
    return payload | overrides


def envelope(results: list[Any], next_url: str | None = None) -> dict[str, Any]:
    return {"count": len(results), "next": next_url, "previous": None, "results": results}


class FakeBackMarket:
    """A real HTTP server on loopback answering from a table of canned responses.

    ``routes`` maps (method, path) to a list of answers (status, body) served in turn (the last one
    repeats) or to a function of the request; every request is recorded.
    """

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Any] = {}
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(QuietHandler):
            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw_body = self.rfile.read(length) if length else b""
                request = {
                    "method": self.command,
                    "path": parts.path,
                    "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                    "headers": dict(self.headers),
                    "body": json.loads(raw_body) if raw_body else None,
                }
                fake.requests.append(request)
                send_json(self, *fake.answer(request))

            do_GET = do_POST = _handle

        self.server, self.url, self.thread = loopback_server(Handler)

    def answer(self, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        route = self.routes.get((request["method"], request["path"]))
        if route is None:
            return 404, {"error": {"code": "not-found", "message": "Webservices unavailable"}}, {}
        answer = route(request) if callable(route) else (route.pop(0) if len(route) > 1 else route[0])
        return answer if len(answer) == 3 else (*answer, {})

    def calls(self, method: str, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]


def make_adapter(url: str, **settings: Any) -> BackMarketAdapter:
    config = MarketplaceConfig(
        id=1,
        code="backmarket-fr",
        kind="backmarket",
        base_url=url,
        token=TOKEN,
        locale="de-de",
        settings={"user_agent": USER_AGENT, **FAST, **settings},
    )
    return BackMarketAdapter(config)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def pages(adapter: BackMarketAdapter, **kwargs: Any) -> list[Any]:
    return list(adapter.iter_new_orders(**kwargs))


def an_order(reference: str = "5978", skus: tuple[str, ...] = ("A",)) -> Order:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    items = tuple(
        OrderItem(str(100 + n), sku, str(n), 1, Decimal("10"), Status.PAID, "1") for n, sku in enumerate(skus)
    )
    return Order(reference, Status.PAID, "1", "EUR", Decimal("10"), now, now, items)
