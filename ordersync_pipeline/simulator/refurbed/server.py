"""The HTTP side: Refurbed's ``/refb.merchant.v1.<Service>/<Method>`` API and its ``/_sim/``
control routes, on ``base.server``.

Every API call is a POST with a JSON body, authenticated with ``Authorization: Plain <token>``,
and every API answer carries the rate-limit headers.
"""

from __future__ import annotations

import re
from typing import Any

from ..base.server import SimulatorHandler
from ..base.values import from_json
from . import offers
from .model import INTERNAL, INVALID_ARGUMENT, NOT_FOUND, UNAUTHENTICATED, UNIMPLEMENTED, ApiError

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


class Handler(SimulatorHandler):
    server_version = "RefurbedSimulator/1.0"
    api_prefix = API_PREFIX

    def authenticate(self) -> None:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme != "Plain" or token.strip() not in self.server.tokens:
            raise ApiError(UNAUTHENTICATED, "authorization header is missing, malformed or invalid")

    def api(self, method: str, path: str, params: dict[str, str], body: Any) -> tuple[int, Any]:
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

    def served(self, path: str, payload: Any) -> list[int] | None:
        if path.endswith("/ListOrders") and isinstance(payload, dict) and payload.get("has_more"):
            return [int(o["id"]) for o in payload.get("orders", []) if isinstance(o, dict)]
        return None

    def not_found(self, message: str) -> ApiError:
        return ApiError(NOT_FOUND, message)

    def invalid_json(self) -> ApiError:
        return ApiError(INVALID_ARGUMENT, "the request body is not valid JSON")

    def invalid_fault(self, message: str) -> ApiError:
        return ApiError(INVALID_ARGUMENT, message)

    def internal_error(self, message: str) -> ApiError:
        return ApiError(INTERNAL, message)

    # -- /_sim/ ---------------------------------------------------------------------------------

    def control(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        try:
            return super().control(method, path, body)
        except KeyError as exc:
            raise ApiError(NOT_FOUND, str(exc).strip("'\"")) from None
        except (TypeError, ValueError) as exc:
            raise ApiError(INVALID_ARGUMENT, str(exc)) from None

    def more_control(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        world = self.server.world
        if (answered := offers.control(world, method, path, body)) is not None:
            return answered
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
        return super().more_control(method, path, body)

    def _control_order(self, method: str, order_id: int, rest: str, body: dict[str, Any]) -> tuple[int, Any]:
        world = self.server.world
        if rest == "" and method == "GET":
            return 200, world.get_order(order_id)  # as it stands, without corruption
        if rest == "/corrupt" and method == "POST":
            world.corrupt_order(order_id, from_json(body.get("overrides")))
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
