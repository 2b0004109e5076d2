"""The simulated Refurbed merchant account: offers, orders and their items, a clock, one lock.

Orders live in a dict keyed by id, with a sorted id list and sorted id lists per order state, so
that a ListOrders page never walks every order. The Python API mirrors the Back Market world's.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from bisect import bisect_left, insort
from datetime import UTC, datetime
from typing import Any

from ordersync_pipeline.simulator.backmarket.data import build_catalogue

from . import lifecycle
from .api import WorldApi
from .model import ACCEPTED, ITEM_STATES, ORDER_STATES, SHIPPED, Item, Offer, Order, order_state_for, to_cents, to_ts
from .payloads import order_payload

FIRST_ORDER_ID = 5_000_001
FIRST_ITEM_ID = 9_000_001
FIRST_OFFER_ID = 61_000_001
TRACKING_BASE = "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode="


class World(WorldApi):
    """Thread-safe state of the simulator. Every public method takes ``self.lock``."""

    def __init__(
        self,
        seed: int = 7,
        orders: int = 20,
        skus: Any = None,
        *,
        arrivals_per_hour: float = 6.0,
        history_days: int = 42,
    ) -> None:
        self.seed = seed
        self.initial_orders = orders
        self.skus = skus
        self.arrivals_per_hour = arrivals_per_hour
        self.history_days = history_days
        self.lock = threading.RLock()
        #: called with each new order's id (the notifications), never for the seeded history
        self.order_listeners: list[Any] = []
        self.reset()

    # -- set-up -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seeded start: same offers, same history, clock offset zero."""
        with self.lock:
            self.rng = random.Random(self.seed)
            self._offset = 0
            self._last_ts = 0
            self._elapsed = 0
            # The Back Market simulator's catalogue, drawn from the same seed: both marketplaces
            # sell the same SKUs with the same stock, under their own offer ids.
            listings = build_catalogue(self.rng, self.skus)
            now = self._now_ts()
            self._offers = [
                Offer(FIRST_OFFER_ID + i, x.sku, x.title, x.grade, x.price, x.quantity, created=now - 90 * 86400)
                for i, x in enumerate(listings)
            ]
            self._by_sku = {offer.sku: offer for offer in self._offers}
            self._by_offer_id = {offer.id: offer for offer in self._offers}
            self._orders: dict[int, Order] = {}
            self._ids: list[int] = []
            self._by_state: dict[str, list[int]] = {state: [] for state in ORDER_STATES}
            self._items: dict[int, Item] = {}
            self._events: list[tuple[int, int, str, int]] = []
            self._seq = 0
            self._next_order_id = FIRST_ORDER_ID
            self._next_item_id = FIRST_ITEM_ID
            #: item id -> how many times the merchant asked to move it to ACCEPTED
            self.accept_calls: dict[int, int] = {}
            #: (offer id, stock) for every stock update the merchant sent, in order
            self.pushes: list[tuple[int, int]] = []
            listeners, self.order_listeners = self.order_listeners, []
            lifecycle.seed_history(self, self.initial_orders)
            self.order_listeners = listeners

    # -- clock ----------------------------------------------------------------------------------

    def _now_ts(self) -> int:
        ts = int(time.time()) + self._offset
        if ts < self._last_ts:
            ts = self._last_ts
        self._last_ts = ts
        return ts

    def now(self) -> datetime:
        """Simulated now: real UTC now plus every minute ``advance`` added."""
        with self.lock:
            return datetime.fromtimestamp(self._now_ts(), UTC)

    def advance(self, minutes: float = 60, steps: int = 1) -> dict[str, int]:
        """Move the clock on by ``minutes`` in all, in ``steps`` equal steps, applying the lifecycle."""
        steps = max(1, int(steps))
        total = int(round(float(minutes) * 60))
        done: dict[str, int] = {}
        with self.lock:
            for i in range(steps):
                seconds = total * (i + 1) // steps - total * i // steps
                self._offset += seconds
                self._elapsed += seconds
                for key, value in lifecycle.step(self, seconds).items():
                    done[key] = done.get(key, 0) + value
        return done

    def _schedule(self, delay: int, kind: str, order_id: int) -> None:
        self._seq += 1
        heapq.heappush(self._events, (self._elapsed + delay, self._seq, kind, order_id))

    # -- offers ---------------------------------------------------------------------------------

    def catalogue(self) -> list[dict[str, Any]]:
        with self.lock:
            return [offer.as_dict() for offer in self._offers]

    def listing_quantity(self, sku: str) -> int:
        with self.lock:
            return self._by_sku[sku].stock

    def set_listing_quantity(self, sku: str, quantity: int) -> None:
        """Set a stock directly (not recorded as a push)."""
        with self.lock:
            self._by_sku[sku].stock = max(0, int(quantity))

    def _take_stock(self, sku: str) -> None:
        offer = self._by_sku.get(sku)
        if offer is not None:
            offer.stock = max(0, offer.stock - 1)

    # -- orders: creation and index upkeep ----------------------------------------------------

    def _new_order(self, items: list[tuple[str, int, str]], released: int, *, country: str, customer: int) -> Order:
        """Build and index an order from (sku, price cents, item state) tuples: one item per unit."""
        order = Order(self._next_order_id, released, country, customer, [])
        self._next_order_id += 1
        for sku, price_cents, state in items:
            offer = self._by_sku.get(sku)
            name = offer.title if offer else f"Refurbished device {sku}"
            grading = offer.grading if offer else "A"
            item = Item(
                self._next_item_id, order.id, sku, offer.id if offer else None, name, grading, price_cents, state
            )
            self._next_item_id += 1
            order.items.append(item)
            self._items[item.id] = item
        order.state = order_state_for([item.state for item in order.items])
        self._orders[order.id] = order
        self._ids.append(order.id)  # ids only grow
        insort(self._by_state[order.state], order.id)
        for listener in self.order_listeners:
            listener(order.id)
        return order

    def _touch(self, order: Order) -> None:
        """Recompute the order state from its items, and plan the parcel once it is accepted."""
        state = order_state_for([item.state for item in order.items])
        if state != order.state:
            old = self._by_state[order.state]
            del old[bisect_left(old, order.id)]
            insort(self._by_state[state], order.id)
            order.state = state
        if state == "ACCEPTED" and not order.ship_scheduled:
            lifecycle.schedule_shipping(self, order)

    def _order(self, order_id: int | str) -> Order:
        order = self._orders.get(int(order_id))
        if order is None:
            raise KeyError(f"no order {order_id}")
        return order

    def create_order(
        self,
        lines: list[dict[str, Any]],
        state: str = "NEW",
        *,
        country_code: str = "DE",
        released_at: datetime | str | None = None,
        customer: int | None = None,
        take_stock: bool = True,
    ) -> int:
        """Create an order released now (or at ``released_at``) whose items are in item ``state``.

        Lines: ``{"sku", "price" (the offer's), "quantity" (1), "state" (the order's)}``; a line of
        quantity n makes n items, since a Refurbed item is one unit. Lowers each offer's stock by
        one per item, as Refurbed does when an order arrives. Returns the order id.
        """
        with self.lock:
            now = self._now_ts()
            released = to_ts(released_at) if released_at is not None else now
            specs = []
            for line in lines:
                sku = line["sku"]
                if sku not in self._by_sku:
                    raise ValueError(f"unknown sku {sku!r}")
                item_state = str(line.get("state", state))
                if item_state not in ITEM_STATES:
                    raise ValueError(f"unknown order item state {item_state!r}")
                price = to_cents(line.get("price", self._by_sku[sku].price))
                specs.extend([(sku, price, item_state)] * int(line.get("quantity", 1)))
            if not specs:
                raise ValueError("an order needs at least one item")
            customer = self.rng.randrange(1, 10**7) if customer is None else customer
            order = self._new_order(specs, released, country=country_code, customer=customer)
            if take_stock:
                for sku, _, _ in specs:
                    self._take_stock(sku)
            for item in order.items:
                if item.state in (SHIPPED, "RETURNED"):
                    self._mark_shipped(order, item, None)
                if item.state in ("CANCELLED", "REJECTED", "RETURNED"):
                    item.refunded_cents = item.price_cents
            self._touch(order)
            return order.id

    # -- orders: changes ------------------------------------------------------------------------

    def _find_item(self, order: Order, item_ref: int | str) -> Item:
        for item in order.items:
            if str(item.id) == str(item_ref):
                return item
        for item in order.items:  # by SKU: the first item of that SKU not yet in a final state
            if item.sku == item_ref and item.state in ("NEW", ACCEPTED):
                return item
        for item in order.items:
            if item.sku == item_ref:
                return item
        raise KeyError(f"order {order.id} has no item {item_ref!r}")

    def set_item_state(self, order_id: int, item_ref: int | str, state: str) -> None:
        """Force one item (by id or SKU) into ``state``, whatever the state machine says."""
        with self.lock:
            if state not in ITEM_STATES:
                raise ValueError(f"unknown order item state {state!r}")
            order = self._order(order_id)
            item = self._find_item(order, item_ref)
            item.state = state
            if state in (SHIPPED, "RETURNED"):
                self._mark_shipped(order, item, None)
            if state in ("CANCELLED", "REJECTED", "RETURNED"):
                item.refunded_cents = item.price_cents
            self._touch(order)

    def _mark_shipped(self, order: Order, item: Item, tracking_url: str | None) -> None:
        item.tracking_url = tracking_url or item.tracking_url or self.tracking_url(order.id)
        item.identifier = item.identifier or f"35{item.id:013d}"

    def tracking_url(self, order_id: int) -> str:
        return f"{TRACKING_BASE}00340434{order_id:012d}"

    def _ship(self, order: Order, tracking_url: str | None, include_new: bool = False) -> int:
        movable = {ACCEPTED, "NEW"} if include_new else {ACCEPTED}
        shipped = 0
        for item in order.items:
            if item.state in movable:
                item.state = SHIPPED
                self._mark_shipped(order, item, tracking_url)
                shipped += 1
        self._touch(order)
        return shipped

    def ship(self, order_id: int, tracking_url: str | None = None) -> None:
        """Ship every accepted (or still new) item of the order, with a parcel tracking URL."""
        with self.lock:
            self._ship(self._order(order_id), tracking_url, include_new=True)

    def set_documents(self, order_id: int, tracking_url: Any = True) -> None:
        """Set the parcel tracking URL of every item that can still ship or has shipped:
        True makes one, False removes it, a string sets it."""
        with self.lock:
            order = self._order(order_id)
            url = self.tracking_url(order.id) if tracking_url is True else (tracking_url or "")
            for item in order.items:
                if item.state not in ("REJECTED", "CANCELLED"):
                    item.tracking_url = url

    def corrupt_order(self, order_id: int, overrides: dict[str, Any] | None) -> None:
        """Serve this order with ``overrides`` applied (dotted paths such as ``items.0.state``;
        ``DELETE`` removes a key); None restores it."""
        with self.lock:
            self._order(order_id).overrides = dict(overrides) if overrides else None

    def get_order(self, order_id: int) -> dict[str, Any]:
        """The order as served (without corruption overrides), a fresh dict."""
        with self.lock:
            order = self._order(order_id)
            overrides, order.overrides = order.overrides, None
            try:
                return order_payload(order)
            finally:
                order.overrides = overrides

    # -- summary ----------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "now": self.now().isoformat(),
                "elapsed_minutes": self._elapsed // 60,
                "orders": len(self._orders),
                "orders_by_state": {state: len(ids) for state, ids in self._by_state.items()},
                "listings": {offer.sku: offer.stock for offer in self._offers},
                "accept_calls": {str(k): v for k, v in self.accept_calls.items()},
                "pushes": len(self.pushes),
            }
