"""The HTTP side: Back Market's ``/ws/`` seller API and its ``/_sim/`` control routes, on ``base.server``."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from ..base.server import SimulatorHandler
from ..base.values import from_json, parse_datetime, to_ts
from . import catalog
from .model import COUNTRY_CODES, ORDER_STATES, ApiError

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50
CARE_PAGE_SIZE = 10
FAKE_PDF = b"%PDF-1.4\n% simulated document\n%%EOF\n"

#: listings whose pages an order may change between (the fault mode "change")
LISTINGS = frozenset({"/ws/orders"})
ORDER_RE = re.compile(r"^/ws/orders/(?P<id>[^/]+)$")
CARE_RE = re.compile(r"^/ws/sav/(?P<id>[^/]+)$")
LISTING_RE = re.compile(r"^/ws/listings/(?P<id>[^/]+)$")


def _int(params: dict[str, str], name: str, default: int | None = None, minimum: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer", name) from None
    if minimum is not None and value < minimum:
        raise ApiError(400, "invalid_parameter", f"{name} must be at least {minimum}", name)
    return value


def _date(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return to_ts(parse_datetime(raw))
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be an RFC 3339 date-time", name) from None


def _minute_date(params: dict[str, str], name: str) -> int | None:
    """The care API's ``YYYY-MM-DD-hh-mm`` dates (UTC)."""
    raw = params.get(name)
    if not raw:
        return None
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})", raw.strip())
    if match is None:
        raise ApiError(400, "invalid_parameter", f"{name} must be formatted YYYY-MM-DD-hh-mm", name)
    y, mo, d, h, mi = match.groups()
    try:
        return to_ts(f"{y}-{mo}-{d}T{h}:{mi}:00+00:00")
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} is not a valid date", name) from None


class Handler(SimulatorHandler):
    server_version = "BackMarketSimulator/1.0"
    api_prefix = "/ws/"
    #: the only answers given as bytes are the documents behind ``/static/``
    binary_type = "application/pdf"

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def refused(self) -> tuple[int, Any] | None:
        if not self.headers.get("User-Agent"):
            return 403, {"errors": [{"code": "bot-need-challenge", "message": "A User-Agent header is required"}]}
        return None

    def authenticate(self) -> None:
        header = self.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic" or token.strip() not in self.server.tokens:
            raise ApiError(401, "unauthenticated", "Invalid or missing credentials", "Authorization")

    def served(self, path: str, payload: Any) -> list[int] | None:
        if path in LISTINGS and isinstance(payload, dict) and payload.get("next"):
            return [r["order_id"] for r in payload.get("results", []) if isinstance(r, dict)]
        return None

    def other_route(self, method: str, path: str) -> tuple[int, Any]:
        if path.startswith("/static/") and method == "GET":
            return 200, FAKE_PDF
        raise self.not_found(f"No route for {path}")

    def not_found(self, message: str) -> ApiError:
        return ApiError(404, "not_found", message)

    def invalid_json(self) -> ApiError:
        return ApiError(400, "invalid_json", "The request body is not valid JSON")

    def invalid_fault(self, message: str) -> ApiError:
        return ApiError(400, "invalid_fault", message)

    def internal_error(self, message: str) -> ApiError:
        return ApiError(500, "internal_error", message)

    def _base_url(self) -> str:
        host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        return f"http://{host}"

    def _page_links(self, path: str, params: dict[str, str], page: int, count: int, size: int) -> dict:
        def link(number: int) -> str:
            query = dict(params)
            query["page"] = str(number)
            return f"{self._base_url()}{path}?{urlencode(query)}"

        last = max(1, -(-count // size))
        return {
            "count": count,
            "next": link(page + 1) if page < last else None,
            "previous": link(min(page - 1, last)) if page > 1 else None,
        }

    # -- /ws/ -----------------------------------------------------------------------------------

    def api(self, method: str, path: str, params: dict[str, str], body: Any) -> tuple[int, Any]:
        world = self.server.world
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_body", "The request body must be a JSON object")
        if (answered := catalog.answer(world, method, path, params, self._page_links)) is not None:
            return answered
        if path == "/ws/orders" and method == "GET":
            return 200, self._orders(path, params)
        if match := ORDER_RE.match(path):
            order_id = _int({"order_id": match["id"]}, "order_id")
            if method == "GET":
                return 200, world.order_json(order_id, self._base_url())
            if method == "POST":
                return 200, world.apply_update(order_id, body, self._base_url())
        if path == "/ws/shipping/v1/deliveries" and method == "GET":
            try:
                order_id = _int(params, "order_id")
            except ApiError:
                return 422, {
                    "error": {"code": "E009", "message": "Validation error"},
                    "data": {"fields": {"orderId": ["An integer is needed."]}},
                }
            page = _int(params, "page", 1, minimum=1)
            count, results = world.deliveries(order_id, page)
            return 200, {**self._page_links(path, params, page, count, DEFAULT_PAGE_SIZE), "results": results}
        if path == "/ws/sav" and method == "GET":
            return 200, self._care(path, params)
        if (match := CARE_RE.match(path)) and method == "GET":
            return 200, world.care_json(_int({"careFolderId": match["id"]}, "careFolderId"))
        if path == "/ws/listings/detail" and method == "GET":
            if params.get("sku"):
                return 200, world.listing_json(sku=params["sku"])
            ref = params.get("listing_id") or params.get("id")
            if not ref:
                raise ApiError(400, "missing_parameter", "One of sku, listing_id or id is required", "sku")
            return 200, world.listing_json(ref)
        if match := LISTING_RE.match(path):
            if method == "GET":
                return 200, world.listing_json(match["id"])
            if method == "POST":
                return 200, world.update_listing(match["id"], body)
        raise ApiError(404, "not_found", f"No route for {method} {path}")

    def _orders(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        page = _int(params, "page", 1, minimum=1)
        size = _int(params, "page-size", DEFAULT_PAGE_SIZE, minimum=1)
        if size > MAX_PAGE_SIZE:
            raise ApiError(400, "invalid_page_size", f"page-size must be at most {MAX_PAGE_SIZE}", "page-size")
        state = _int(params, "state")
        if state is not None and state not in ORDER_STATES:
            raise ApiError(400, "invalid_parameter", f"state {state} is not an order state", "state")
        country = params.get("country_code") or None
        if country is not None and country not in COUNTRY_CODES:
            raise ApiError(400, "invalid_parameter", f"country_code {country} is not valid", "country_code")
        count, results = self.server.world.page_orders(
            page,
            size,
            state=state,
            created=_date(params, "date_creation"),
            modified=_date(params, "date_modification"),
            country=country,
            base_url=self._base_url(),
            order_by=self.server.faults.order_by,
        )
        return {**self._page_links(path, params, page, count, size), "results": results}

    def _care(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        page = _int(params, "page", 1, minimum=1)
        state = _int(params, "state")
        if state is not None and state not in (0, 9):
            raise ApiError(400, "invalid_parameter", "state must be 0 or 9", "state")
        count, results = self.server.world.page_care(
            page,
            CARE_PAGE_SIZE,
            state=state,
            last_id=_int(params, "last_id"),
            orderline=_int(params, "orderline"),
            modified=_minute_date(params, "last_modification_date"),
            last_message=_minute_date(params, "last_message_date"),
        )
        return {**self._page_links(path, params, page, count, CARE_PAGE_SIZE), "results": results}

    # -- /_sim/ ---------------------------------------------------------------------------------

    def more_control(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        world = self.server.world
        if (answered := catalog.control(world, method, path, body)) is not None:
            return answered
        if path == "/_sim/orders" and method == "POST":
            try:
                order_id = world.create_order(
                    body.get("lines") or [],
                    int(body.get("state", 1)),
                    country_code=body.get("country_code", "fr-fr"),
                    date_creation=body.get("date_creation"),
                )
            except (ValueError, KeyError) as exc:
                raise ApiError(400, "invalid_order", str(exc)) from None
            return 201, world.order_json(order_id, self._base_url())
        if (match := re.fullmatch(r"/_sim/orders/(\d+)/corrupt", path)) and method == "POST":
            try:
                world.corrupt_order(int(match[1]), from_json(body.get("overrides")))
            except KeyError as exc:
                raise ApiError(404, "order_not_found", str(exc)) from None
            return 200, {"order_id": int(match[1]), "overrides": body.get("overrides")}
        raise self.not_found(f"No control route for {method} {path}")
