"""What the HTTP API asks of the world: filtered pages, single records and seller updates.

A mixin of ``World``: it relies on the world's lock, indexes and helpers.
"""

from __future__ import annotations

from bisect import bisect_left
from decimal import Decimal, InvalidOperation
from typing import Any

from .model import (
    LINE_ACCEPTED,
    LINE_CANCELLED,
    LINE_PAID,
    LINE_REFUNDED_AFTER,
    LINE_REFUNDED_BEFORE,
    LINE_SHIPPED,
    LINE_STATES,
    UNLISTED_ORDER_STATES,
    ApiError,
)
from .payloads import care_detail, care_summary, delivery_payload, listing_payload, order_payload

# orderline moves a seller may ask for with one SKU, and the states they start from
LINE_MOVES = {
    LINE_ACCEPTED: (LINE_PAID,),
    LINE_CANCELLED: (LINE_PAID,),
    LINE_REFUNDED_BEFORE: (LINE_ACCEPTED,),
    LINE_REFUNDED_AFTER: (LINE_SHIPPED,),
}
CACHE_SIZE = 16


class WorldQueries:
    lock: Any

    # -- orders -------------------------------------------------------------------------------

    def _listed_ids(
        self, state: int | None, created: int | None, modified: int | None, country: str | None
    ) -> list[int]:
        """Ids of the listed orders matching the filters, ascending. Do not mutate the result."""
        if state is not None and state in UNLISTED_ORDER_STATES:
            return []
        base = self._by_state[state] if state is not None else None
        if base is not None and created is None and modified is None and country is None:
            return base
        key = (state, created, modified, country)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self._version:
            return hit[1]
        candidates = base if base is not None else self._ids
        if modified is not None:
            start = bisect_left(self._by_mod, (modified, -1))
            if len(self._by_mod) - start < len(candidates):
                candidates = sorted(order_id for _, order_id in self._by_mod[start:])
        orders = self._orders
        result = []
        for order_id in candidates:
            order = orders[order_id]
            if (
                order.state not in UNLISTED_ORDER_STATES
                and (state is None or order.state == state)
                and (created is None or order.created >= created)
                and (modified is None or order.modified >= modified)
                and (country is None or order.country == country)
            ):
                result.append(order_id)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (self._version, result)
        return result

    def page_orders(
        self,
        page: int,
        page_size: int,
        *,
        state: int | None = None,
        created: int | None = None,
        modified: int | None = None,
        country: str | None = None,
        base_url: str | None = None,
        order_by: str = "id",
    ) -> tuple[int, list[dict[str, Any]]]:
        """(count, payloads of that page) for ``GET /ws/orders``, ordered by order_id or, with
        ``order_by="date_modification"``, by (date_modification, order_id)."""
        with self.lock:
            ids = self._listed_ids(state, created, modified, country)
            if order_by == "date_modification":
                ids = self._by_modification((state, created, modified, country), ids)
            start = (page - 1) * page_size
            base_url = base_url or self.base_url
            chunk = ids[start : start + page_size]
            return len(ids), [order_payload(self._orders[i], self._by_sku, base_url) for i in chunk]

    def _by_modification(self, filters: tuple, ids: list[int]) -> list[int]:
        """``ids`` in (date_modification, order_id) order; cached per filter like the listing itself."""
        key = ("date_modification", *filters)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self._version:
            return hit[1]
        orders = self._orders
        result = sorted(ids, key=lambda order_id: (orders[order_id].modified, order_id))
        if len(self._cache) >= CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (self._version, result)
        return result

    def order_json(self, order_id: int, base_url: str | None = None) -> dict[str, Any]:
        with self.lock:
            order = self._orders.get(order_id)
            if order is None:
                raise ApiError(404, "order_not_found", f"Order {order_id} does not exist", "order_id")
            return order_payload(order, self._by_sku, base_url or self.base_url)

    def apply_update(self, order_id: int, body: dict[str, Any], base_url: str | None = None) -> dict:
        """``POST /ws/orders/{order_id}``: move one orderline (by SKU), or ship the whole order."""
        with self.lock:
            order = self._orders.get(order_id)
            if order is None:
                raise ApiError(404, "order_not_found", f"Order {order_id} does not exist", "order_id")
            if "order_id" in body and str(body["order_id"]) != str(order_id):
                raise ApiError(400, "invalid_order_id", "order_id differs from the URL", "order_id")
            new_state = body.get("new_state")
            if isinstance(new_state, str) and new_state.isdigit():
                new_state = int(new_state)
            if not isinstance(new_state, int) or isinstance(new_state, bool) or new_state not in LINE_STATES:
                raise ApiError(400, "invalid_new_state", f"new_state {new_state!r} is not valid", "new_state")
            if new_state == LINE_SHIPPED:
                self._ship_by_seller(order, body)
            elif new_state in LINE_MOVES:
                self._move_line(order, new_state, body)
            else:
                raise ApiError(
                    400, "invalid_new_state", f"new_state {new_state} cannot be set by a seller", "new_state"
                )
            return order_payload(order, self._by_sku, base_url or self.base_url)

    def _move_line(self, order: Any, new_state: int, body: dict[str, Any]) -> None:
        sku = body.get("sku")
        if not sku:
            raise ApiError(400, "missing_sku", "sku is required to update an orderline", "sku")
        lines = [line for line in order.lines if line.sku == sku]
        if not lines:
            raise ApiError(404, "orderline_not_found", f"Order {order.order_id} has no orderline {sku}", "sku")
        if new_state == LINE_ACCEPTED:
            self.accept_calls[lines[0].id] = self.accept_calls.get(lines[0].id, 0) + 1
        allowed = LINE_MOVES[new_state]
        line = next((line for line in lines if line.state in allowed), None)
        if line is None:
            current = lines[0]
            raise ApiError(
                400,
                "invalid_orderline_state",
                f"Orderline {current.id} ({sku}) is in state {current.state}, which cannot be moved "
                f"to state {new_state}: expected state {' or '.join(map(str, allowed))}",
                "new_state",
                {"orderline_id": current.id, "state": current.state, "new_state": new_state},
            )
        line.state = new_state
        if new_state != LINE_ACCEPTED:
            reason = body.get("return_reason")
            line.return_reason = int(reason) if reason is not None else 0
            line.return_message = str(body.get("return_message") or "")
        self.touch(order)

    def _ship_by_seller(self, order: Any, body: dict[str, Any]) -> None:
        tracking = body.get("tracking_number")
        if not tracking:
            raise ApiError(400, "missing_tracking_number", "tracking_number is required for state 3", "tracking_number")
        states = {line.state for line in order.lines}
        if LINE_PAID in states or LINE_ACCEPTED not in states:
            raise ApiError(
                400,
                "invalid_order_state",
                f"Order {order.order_id} is in state {order.state}: every orderline must be accepted "
                "(state 2) before shipping",
                "new_state",
            )
        self._ship(order, str(tracking))
        if body.get("tracking_url"):
            order.tracking_url = str(body["tracking_url"])
        if body.get("shipper"):
            order.shipper = str(body["shipper"])

    # -- deliveries -----------------------------------------------------------------------------

    def deliveries(self, order_id: int | None, page: int, page_size: int = 10) -> tuple[int, list[dict]]:
        """Deliveries (BackShip labels): one per order once its label exists."""
        with self.lock:
            base_url = self.base_url
            if order_id is not None:
                order = self._orders.get(order_id)
                found = [order] if order is not None and order.label and page == 1 else []
                return len(found), [delivery_payload(o, base_url) for o in found]
            start = (page - 1) * page_size
            chunk = self._labelled[start : start + page_size]
            return len(self._labelled), [delivery_payload(self._orders[i], base_url) for i in chunk]

    # -- care -----------------------------------------------------------------------------------

    def page_care(
        self,
        page: int,
        page_size: int = 10,
        *,
        state: int | None = None,
        last_id: int | None = None,
        orderline: int | None = None,
        modified: int | None = None,
        last_message: int | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        with self.lock:
            ids = self._care_ids
            if last_id is not None:
                ids = ids[bisect_left(ids, last_id + 1) :]
            if orderline is not None:
                care_id = self._care_by_line.get(orderline)
                ids = [care_id] if care_id is not None and care_id in ids else []
            selected = [
                self._care[i]
                for i in ids
                if (state is None or self._care[i].state == state)
                and (modified is None or self._care[i].modified >= modified)
                and (last_message is None or self._care[i].last_message >= last_message)
            ]
            chunk = selected[(page - 1) * page_size : page * page_size]
            return len(selected), [care_summary(care, self._orders[care.order_id]) for care in chunk]

    def care_json(self, care_id: int) -> dict[str, Any]:
        with self.lock:
            care = self._care.get(care_id)
            if care is None:
                raise ApiError(404, "care_folder_not_found", f"Care Folder {care_id} does not exist")
            line = self._lines[care.orderline_id]
            return care_detail(care, self._orders[care.order_id], line, self._by_sku.get(line.sku))

    # -- listings -------------------------------------------------------------------------------

    def _listing(self, ref: str) -> Any:
        listing = self._by_listing_ref.get(str(ref))
        if listing is None:
            raise ApiError(404, "listing_not_found", f"Listing {ref} not found", "listingId")
        return listing

    def listing_json(self, ref: str | None = None, sku: str | None = None) -> dict[str, Any]:
        with self.lock:
            if sku is not None:
                listing = self._by_sku.get(sku)
                if listing is None:
                    raise ApiError(404, "listing_not_found", f"No listing with sku {sku}", "sku")
                return listing_payload(listing)
            return listing_payload(self._listing(str(ref)))

    def update_listing(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /ws/listings/{listingId}``: quantity (and price) change at once; pushes are recorded."""
        with self.lock:
            listing = self._listing(ref)
            if "quantity" in body:
                try:
                    quantity = int(str(body["quantity"]))
                except ValueError:
                    quantity = -1
                if quantity < 0:
                    raise ApiError(400, "invalid_quantity", "quantity must be a non-negative integer", string_body=True)
                listing.quantity = quantity
                self.pushes.append((listing.listing_id, quantity))
            if "price" in body:
                try:
                    listing.price = Decimal(str(body["price"])).quantize(Decimal("0.01"))
                except InvalidOperation as exc:
                    raise ApiError(400, "invalid_price", "price must be a decimal", string_body=True) from exc
            payload = listing_payload(listing)
            payload["shippings_response"] = []
            return payload
