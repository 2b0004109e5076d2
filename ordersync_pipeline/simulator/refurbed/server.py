"""The HTTP side: Refurbed's ``/refb.merchant.v1.<Service>/<Method>`` API and a ``/_sim/`` control API.

Standard library only. Every API call is a POST with a JSON body, authenticated with
``Authorization: Plain <token>``, and every API answer carries the rate-limit headers.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from ..chaos import MALFORMED_BODY, truncated
from ..wire import json_body
from . import offers
from .model import (
    DELETE,
    DELETE_JSON,
    INTERNAL,
    INVALID_ARGUMENT,
    NOT_FOUND,
    UNAUTHENTICATED,
    UNIMPLEMENTED,
    ApiError,
)

if TYPE_CHECKING:
    from .faults import Faults
    from .world import World

API_PREFIX = "/refb.merchant.v1."
RPC_RE = re.compile(r"^/refb\.merchant\.v1\.(?P<service>\w+)/(?P<method>\w+)$")
ORDER_RE = re.compile(r"^/_sim/orders/(?P<id>\d+)(?P<rest>/.*)?$")
ITEM_STATE_RE = re.compile(r"^/items/(?P<item>[^/]+)/state$")

# (service, method) -> World method answering it
RPCS = {
    ("OrderService", "ListOrders"): "list_orders",
    ("OrderService", "GetOrder"): "order_json",
    ("OrderItemService", "BatchUpdateOrderItemsState"): "update_item_states",
    ("OrderItemService", "UpdateOrderItemState"): "update_item_state",
    ("OfferService", "BatchUpdateOffers"): "update_offers",
    ("OfferService", "UpdateOffer"): "update_offer",
}


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], world: World, faults: Faults, tokens: set[str]) -> None:
        super().__init__(address, Handler)
        self.world = world
        self.faults = faults
        self.tokens = set(tokens)
        self.verbose = False


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
    server_version = "RefurbedSimulator/1.0"

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

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

    def _send(
        self, status: int, payload: Any, headers: dict[str, str] | None = None, content_type: str = "application/json"
    ) -> None:
        body = payload if isinstance(payload, bytes) else json_body(payload)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
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
            raise ApiError(INVALID_ARGUMENT, "the request body is not valid JSON") from None

    def _handle(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        headers: dict[str, str] = {}
        fault = None
        try:
            body = self._body() if method in ("POST", "PUT") else {}
            if path.startswith("/_sim"):
                status, payload = self._control(method, path, body)
            elif path.startswith(API_PREFIX):
                try:
                    headers, fault = self.server.faults.before_request(path)
                except ApiError as exc:
                    headers = exc.headers
                    raise
                self._authenticate()
                status, payload = self._rpc(method, path, body)
                if path.endswith("/ListOrders") and isinstance(payload, dict) and payload.get("has_more"):
                    served = [int(o["id"]) for o in payload.get("orders", []) if isinstance(o, dict)]
                    self.server.faults.between_pages(self.server.world, path, served)
            else:
                raise ApiError(NOT_FOUND, f"no route for {path}")
        except ApiError as exc:
            status, payload = exc.status, exc.body()
        except Exception as exc:  # a simulator bug answers like a server error, with the trace on stderr
            traceback.print_exc()
            status, payload = 500, ApiError(INTERNAL, str(exc)).body()
        if fault is None:
            self._send(status, payload, headers)
        else:
            self._send_spoiled(fault, status, payload, headers)

    def _send_spoiled(self, fault: str, status: int, payload: Any, headers: dict[str, str]) -> None:
        """The answer as the fault spoils it: late, never, cut short or not JSON."""
        if fault in ("timeout", "hang"):
            time.sleep(self.server.faults.chaos.timeout_seconds)
        if fault == "hang":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "truncate":
            self._send(status, truncated(json_body(payload)), headers)
        elif fault == "malformed":
            self._send(status, MALFORMED_BODY, headers, "text/html")
        else:
            self._send(status, payload, headers)

    def _authenticate(self) -> None:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme != "Plain" or token.strip() not in self.server.tokens:
            raise ApiError(UNAUTHENTICATED, "authorization header is missing, malformed or invalid")

    def _rpc(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        match = RPC_RE.match(path)
        if match is None:
            raise ApiError(NOT_FOUND, f"no route for {path}")
        if method != "POST":
            raise ApiError(UNIMPLEMENTED, "Method Not Allowed", status=405)
        if isinstance(body, dict):
            answered = offers.rpc(self.server.world, match["service"], match["method"], body)
            if answered is not None:
                return 200, answered
        handler = RPCS.get((match["service"], match["method"]))
        if handler is None:
            raise ApiError(UNIMPLEMENTED, f"{match['service']}/{match['method']} is not simulated")
        if not isinstance(body, dict):
            raise ApiError(INVALID_ARGUMENT, "the request body must be a JSON object")
        return 200, getattr(self.server.world, handler)(body)

    # -- /_sim/ ---------------------------------------------------------------------------------

    def _control(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        world, faults = self.server.world, self.server.faults
        body = body if isinstance(body, dict) else {}
        try:
            if (answered := offers.control(world, method, path, body)) is not None:
                return answered
            if path == "/_sim/state" and method == "GET":
                return 200, {**world.state(), "faults": faults.describe()}
            if path == "/_sim/advance" and method == "POST":
                done = world.advance(minutes=float(body.get("minutes", 60)), steps=int(body.get("steps", 1)))
                return 200, {"changes": done, **world.state()}
            if path == "/_sim/reset" and method == "POST":
                world.reset()
                return 200, world.state()
            if path == "/_sim/faults" and method in ("GET", "POST"):
                if method == "POST":
                    faults.configure(**body)
                return 200, faults.describe()
            if path == "/_sim/catalogue" and method == "GET":
                return 200, {"offers": world.catalogue()}
            if path == "/_sim/orders" and method == "POST":
                order_id = world.create_order(
                    body.get("lines") or [],
                    str(body.get("state", "NEW")),
                    country_code=str(body.get("country_code", "DE")),
                    released_at=body.get("released_at"),
                )
                return 201, world.get_order(order_id)
            if match := ORDER_RE.match(path):
                return self._control_order(method, int(match["id"]), match["rest"] or "", body)
        except KeyError as exc:
            raise ApiError(NOT_FOUND, str(exc).strip("'\"")) from None
        except (TypeError, ValueError) as exc:
            raise ApiError(INVALID_ARGUMENT, str(exc)) from None
        raise ApiError(NOT_FOUND, f"no control route for {method} {path}")

    def _control_order(self, method: str, order_id: int, rest: str, body: dict[str, Any]) -> tuple[int, Any]:
        world = self.server.world
        if rest == "" and method == "GET":
            return 200, world.get_order(order_id)  # as it stands, without corruption
        if rest == "/corrupt" and method == "POST":
            world.corrupt_order(order_id, _from_json(body.get("overrides")))
            return 200, {"id": str(order_id), "overrides": body.get("overrides")}
        if rest == "/ship" and method == "POST":
            world.ship(order_id, body.get("tracking_url"))
            return 200, world.get_order(order_id)
        if rest == "/documents" and method == "POST":
            world.set_documents(order_id, body.get("tracking_url", True))
            return 200, world.get_order(order_id)
        if (match := ITEM_STATE_RE.match(rest)) and method == "POST":
            world.set_item_state(order_id, match["item"], str(body.get("state")))
            return 200, world.get_order(order_id)
        raise ApiError(NOT_FOUND, f"no control route for {method} /_sim/orders/{order_id}{rest}")
