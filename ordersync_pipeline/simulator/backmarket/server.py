"""The HTTP side: Back Market's ``/ws/`` seller API and a ``/_sim/`` control API, standard library only."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..chaos import MALFORMED_BODY, truncated
from ..wire import json_body
from . import catalog
from .model import COUNTRY_CODES, DELETE, DELETE_JSON, ORDER_STATES, ApiError, parse_datetime, to_ts
from .payloads import error_body

if TYPE_CHECKING:
    from .faults import Faults
    from .world import World

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50
CARE_PAGE_SIZE = 10
FAKE_PDF = b"%PDF-1.4\n% simulated document\n%%EOF\n"

#: listings whose pages an order may change between (the fault mode "change")
LISTINGS = frozenset({"/ws/orders"})
ORDER_RE = re.compile(r"^/ws/orders/(?P<id>[^/]+)$")
CARE_RE = re.compile(r"^/ws/sav/(?P<id>[^/]+)$")
LISTING_RE = re.compile(r"^/ws/listings/(?P<id>[^/]+)$")


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], world: World, faults: Faults, tokens: set[str]) -> None:
        super().__init__(address, Handler)
        self.world = world
        self.faults = faults
        self.tokens = set(tokens)
        self.verbose = False


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


def _from_json(value: Any) -> Any:
    """Control-API bodies spell the DELETE sentinel as a string."""
    if isinstance(value, dict):
        return {key: _from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    return DELETE if value == DELETE_JSON else value


class Handler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    server_version = "BackMarketSimulator/1.0"

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def setup(self) -> None:
        super().setup()
        # small JSON answers: send them at once instead of waiting on delayed acknowledgements
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # -- plumbing -------------------------------------------------------------------------------

    def _base_url(self) -> str:
        host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        return f"http://{host}"

    def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        body = payload if isinstance(payload, bytes) else json_body(payload)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.append(b"\r\n")  # headers and body leave in one write
        self._headers_buffer.append(body)
        self.flush_headers()

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "invalid_json", "The request body is not valid JSON") from None

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        fault = None
        try:
            body = self._body() if method in ("POST", "PUT", "PATCH") else {}
            if path.startswith("/_sim"):
                status, payload = self._control(method, path, body)
            elif path.startswith("/ws/"):
                if not self.headers.get("User-Agent"):
                    status, payload = (
                        403,
                        {"errors": [{"code": "bot-need-challenge", "message": "A User-Agent header is required"}]},
                    )
                else:
                    fault = self.server.faults.before_request(method, path, self.path)
                    self._authenticate()
                    status, payload = self._ws(method, path, params, body)
                    if path in LISTINGS and isinstance(payload, dict) and payload.get("next"):
                        served = [r["order_id"] for r in payload.get("results", []) if isinstance(r, dict)]
                        self.server.faults.between_pages(self.server.world, self.path, served)
            elif path.startswith("/static/") and method == "GET":
                self._send(200, FAKE_PDF, "application/pdf")
                return
            else:
                raise ApiError(404, "not_found", f"No route for {path}")
        except ApiError as exc:
            status = exc.status
            payload = exc.message if exc.string_body else error_body(exc)
        except Exception as exc:  # a simulator bug answers like a server error, with the trace on stderr
            traceback.print_exc()
            status, payload = 500, error_body(ApiError(500, "internal_error", str(exc)))
        if fault is None:
            self._send(status, payload)
        else:
            self._send_spoiled(fault, status, payload)

    def _send_spoiled(self, fault: str, status: int, payload: Any) -> None:
        """The answer as the fault spoils it: late, never, cut short or not JSON."""
        if fault in ("timeout", "hang"):
            time.sleep(self.server.faults.chaos.timeout_seconds)
        if fault == "hang":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = payload if isinstance(payload, bytes) else json_body(payload)
        if fault == "truncate":
            self._send(status, truncated(body))
        elif fault == "malformed":
            self._send(status, MALFORMED_BODY, "text/html")
        else:
            self._send(status, body)

    def _authenticate(self) -> None:
        header = self.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic" or token.strip() not in self.server.tokens:
            raise ApiError(401, "unauthenticated", "Invalid or missing credentials", "Authorization")

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

    def _ws(self, method: str, path: str, params: dict[str, str], body: Any) -> tuple[int, Any]:
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

    def _control(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        world, faults = self.server.world, self.server.faults
        body = body if isinstance(body, dict) else {}
        if (answered := catalog.control(world, method, path, body)) is not None:
            return answered
        if path == "/_sim/state" and method == "GET":
            return 200, {**world.state(), "faults": faults.describe()}
        if path == "/_sim/advance" and method == "POST":
            done = world.advance(minutes=float(body.get("minutes", 60)), steps=int(body.get("steps", 1)))
            return 200, {"changes": done, **world.state()}
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
        if path == "/_sim/reset" and method == "POST":
            world.reset()
            return 200, world.state()
        if path == "/_sim/faults" and method in ("GET", "POST"):
            if method == "POST":
                try:
                    faults.configure(**body)
                except (TypeError, ValueError) as exc:
                    raise ApiError(400, "invalid_fault", str(exc)) from None
            return 200, faults.describe()
        if (match := re.fullmatch(r"/_sim/orders/(\d+)/corrupt", path)) and method == "POST":
            try:
                world.corrupt_order(int(match[1]), _from_json(body.get("overrides")))
            except KeyError as exc:
                raise ApiError(404, "order_not_found", str(exc)) from None
            return 200, {"order_id": int(match[1]), "overrides": body.get("overrides")}
        raise ApiError(404, "not_found", f"No control route for {method} {path}")
