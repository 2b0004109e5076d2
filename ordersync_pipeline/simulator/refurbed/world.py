"""The simulated Refurbed merchant account: offers, orders and their items, on the shared base.

Orders live in a dict keyed by id, with a sorted id list and sorted id lists per order state, so
that a ListOrders page never walks every order. The Python API mirrors the Back Market world's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..base.catalogue import Product
from ..base.values import to_ts
from ..base.world import SimulatedWorld
from .api import WorldApi
from .lifecycle import RefurbedLifecycle
from .model import ACCEPTED, ITEM_STATES, ORDER_STATES, SHIPPED, Item, Offer, Order, order_state_for
from .offers import OfferDrift
from .payloads import order_payload

FIRST_ORDER_ID = 5_000_001
FIRST_ITEM_ID = 9_000_001
FIRST_OFFER_ID = 61_000_001
TRACKING_BASE = "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode="


class World(WorldApi, SimulatedWorld):
    lifecycle_class = RefurbedLifecycle
    ORDER_STATES = ORDER_STATES
    NEXT_STATE = {"NEW": "REJECTED", "ACCEPTED": "SHIPPED", "SHIPPED": "RETURNED"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        #: called with each new order's id (the order notifications), never for the seeded history
        self.order_listeners: list[Any] = []
        super().__init__(*args, **kwargs)

    # -- set-up -------------------------------------------------------------------------------

    def _listings_of(self, products: list[Product]) -> list[Offer]:
        created = self.clock.now_ts() - 90 * 86400
        return [
            Offer(FIRST_OFFER_ID + i, p.sku, p.title, p.grade, p.price, p.quantity, created=created)
            for i, p in enumerate(products)
        ]

    def _index_listing(self, offer: Offer) -> None:
        self._by_offer_id[offer.id] = offer

    def _unindex_listing(self, offer: Offer) -> None:
        self._by_offer_id.pop(offer.id, None)

    def _reset(self) -> None:
        self._by_offer_id = {offer.id: offer for offer in self._listings}
        self._items: dict[int, Item] = {}
        self._next_order_id = FIRST_ORDER_ID
        self._next_item_id = FIRST_ITEM_ID
        self.listing_drift = OfferDrift()

    # -- orders: creation and index upkeep ----------------------------------------------------

    def new_order(self, items: list[tuple[str, int, str]], released: int, *, country: str, customer: int) -> Order:
        """Build and index an order from (sku, price cents, item state) tuples: one item per unit.
        An item shipped (or returned) has its parcel; one that ended unshipped, its money back."""
        with self.lock:
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
            self._index(order.id, order, order.state)
            for item in order.items:
                self._settle(order, item)
            if not self.seeding:
                for listener in self.order_listeners:
                    listener(order.id)
            return order

    def _settle(self, order: Order, item: Item) -> None:
        """What an item's state implies: a parcel once shipped, its money back once it ended unshipped."""
        if item.state in (SHIPPED, "RETURNED"):
            self._mark_shipped(order, item, None)
        if item.state in ("CANCELLED", "REJECTED", "RETURNED"):
            item.refunded_cents = item.price_cents

    def touch(self, order: Order) -> None:
        """Recompute the order state from its items, and plan the parcel once it is accepted."""
        with self.lock:
            state = order_state_for([item.state for item in order.items])
            if state != order.state:
                self._restate(order.id, order.state, state)
                order.state = state
            self.lifecycle.order_changed(order)

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
            now = self.clock.now_ts()
            released = to_ts(released_at) if released_at is not None else now
            ordered = self._ordered(lines, state, ITEM_STATES, "order item")
            specs = [(sku, price, item_state) for sku, quantity, price, item_state in ordered for _ in range(quantity)]
            if not specs:
                raise ValueError("an order needs at least one item")
            customer = self.rng.randrange(1, 10**7) if customer is None else customer
            order = self.new_order(specs, released, country=country_code, customer=customer)
            if take_stock:
                for sku, _, _ in specs:
                    self.take_stock(sku)
            self.lifecycle.order_created(order)
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
            order = self.order(order_id)
            item = self._find_item(order, item_ref)
            item.state = state
            self._settle(order, item)
            self.touch(order)

    def _mark_shipped(self, order: Order, item: Item, tracking_url: str | None) -> None:
        item.tracking_url = tracking_url or item.tracking_url or self.tracking_url(order.id)
        item.identifier = item.identifier or f"35{item.id:013d}"

    def tracking_url(self, order_id: int) -> str:
        return f"{TRACKING_BASE}00340434{order_id:012d}"

    def ship(self, order_id: int, tracking_url: str | None = None, *, new_items_too: bool = True) -> int:
        """Ship every accepted (and, unless told otherwise, every still new) item of the order,
        with a parcel tracking URL; returns how many items shipped."""
        with self.lock:
            order = self.order(order_id)
            movable = {ACCEPTED, "NEW"} if new_items_too else {ACCEPTED}
            shipped = 0
            for item in order.items:
                if item.state in movable:
                    item.state = SHIPPED
                    self._mark_shipped(order, item, tracking_url)
                    shipped += 1
            self.touch(order)
            return shipped

    def set_documents(self, order_id: int, tracking_url: Any = True) -> None:
        """Set the parcel tracking URL of every item that can still ship or has shipped:
        True makes one, False removes it, a string sets it."""
        with self.lock:
            order = self.order(order_id)
            url = self.tracking_url(order.id) if tracking_url is True else (tracking_url or "")
            for item in order.items:
                if item.state not in ("REJECTED", "CANCELLED"):
                    item.tracking_url = url

    def _payload(self, order: Order) -> dict[str, Any]:
        return order_payload(order)

    # -- an order that changes between two listing pages -----------------------------------------

    def lines_of(self, order: Order) -> list[Item]:
        return order.items

    def _set_state(self, order_id: int, line_id: int, state: str) -> None:
        self.set_item_state(order_id, line_id, state)
