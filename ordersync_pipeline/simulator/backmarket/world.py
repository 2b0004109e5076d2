"""The simulated Back Market seller account: listings, orders, care folders, on the shared base.

Orders live in a dict keyed by id, with sorted id lists per order state and a list sorted by
(date_modification, id), so that listing a page never walks every order.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left, insort
from dataclasses import astuple
from datetime import datetime
from typing import Any

from ..base.catalogue import Product
from ..base.values import to_ts
from ..base.world import SimulatedWorld
from .catalog import ListingDrift
from .data import RESOLUTIONS, carrier
from .lifecycle import BackMarketLifecycle
from .model import (
    LINE_ACCEPTED,
    LINE_CANCELLED,
    LINE_PAID,
    LINE_REFUNDED_AFTER,
    LINE_SHIPPED,
    LINE_STATES,
    ORDER_PAID,
    ORDER_STATES,
    CareFolder,
    Line,
    Listing,
    Order,
    order_state_for,
)
from .payloads import order_payload
from .queries import WorldQueries

FIRST_ORDER_ID = 100001
FIRST_LINE_ID = 700001
FIRST_CARE_ID = 50001


class World(WorldQueries, SimulatedWorld):
    lifecycle_class = BackMarketLifecycle
    ORDER_STATES = ORDER_STATES
    NEXT_STATE = {LINE_PAID: LINE_CANCELLED, LINE_ACCEPTED: LINE_SHIPPED, LINE_SHIPPED: LINE_REFUNDED_AFTER}

    def __init__(
        self, seed: int = 7, orders: int = 20, skus: Any = None, *, lines_per_order: int | None = None, **options: Any
    ) -> None:
        #: every order gets exactly this many lines (None: one, sometimes two, like a real account)
        self.lines_per_order = lines_per_order
        #: the listing's ``next`` links are absolute: the simulator sets its own address here
        self.base_url = "http://127.0.0.1"
        super().__init__(seed, orders, skus, **options)

    def _index_listing(self, listing: Listing) -> None:
        self._by_listing_ref[str(listing.listing_id)] = listing
        self._by_listing_ref[listing.uuid] = listing

    def _unindex_listing(self, listing: Listing) -> None:
        self._by_listing_ref.pop(str(listing.listing_id), None)
        self._by_listing_ref.pop(listing.uuid, None)

    # -- set-up -------------------------------------------------------------------------------

    def _listings_of(self, products: list[Product]) -> list[Listing]:
        # a Listing is a Product with ids: the product's fields first, in their order
        return [
            Listing(*astuple(product), listing_id=4001 + i, backmarket_id=900 + i) for i, product in enumerate(products)
        ]

    def _reset(self) -> None:
        self._by_listing_ref: dict[str, Listing] = {}
        for listing in self._listings:
            self._index_listing(listing)
        self._by_mod: list[tuple[int, int]] = []
        self._lines: dict[int, Line] = {}
        self._labelled: list[int] = []
        self._care: dict[int, CareFolder] = {}
        self._care_ids: list[int] = []
        self._care_by_line: dict[int, int] = {}
        self._next_order_id = FIRST_ORDER_ID
        self._next_line_id = FIRST_LINE_ID
        self._next_care_id = FIRST_CARE_ID
        self._version = 0
        self._cache: dict[tuple, tuple[int, list[int]]] = {}
        self.listing_drift = ListingDrift()

    def _seeded(self) -> None:
        self._by_mod = sorted((order.modified, order.order_id) for order in self._orders.values())
        self._labelled.sort()
        self._care_ids.sort()
        self._version += 1

    # -- orders: creation and index upkeep ----------------------------------------------------

    def new_order(
        self,
        lines: list[tuple[str, int, int, int]],
        created: int,
        *,
        country: str,
        customer: int,
        modified: int | None = None,
    ) -> Order:
        """Build and index an order from (sku, quantity, price cents, line state) tuples."""
        with self.lock:
            order_id = self._next_order_id
            self._next_order_id += 1
            records = []
            for sku, quantity, price_cents, state in lines:
                records.append(Line(self._next_line_id, order_id, sku, quantity, price_cents, state, created))
                self._next_line_id += 1
            state = order_state_for([line.state for line in records])
            order = Order(order_id, state, created, modified or created, country, customer, records)
            self._index(order_id, order, state)
            if not self.seeding:  # seeding sorts this index once at the end
                insort(self._by_mod, (order.modified, order_id))
            for line in records:
                self._lines[line.id] = line
            self._version += 1
            return order

    def touch(self, order: Order, ts: int | None = None) -> None:
        """Recompute the order state from its lines and stamp ``date_modification``."""
        with self.lock:
            ts = self.clock.now_ts() if ts is None else ts
            state = order_state_for([line.state for line in order.lines])
            if state != order.state:
                self._restate(order.order_id, order.state, state)
                if state == ORDER_PAID and order.paid is None:
                    order.paid = ts
                order.state = state
            if ts != order.modified:
                index = bisect_left(self._by_mod, (order.modified, order.order_id))
                del self._by_mod[index]
                order.modified = ts
                insort(self._by_mod, (ts, order.order_id))
            self.lifecycle.order_changed(order)
            self._version += 1

    def create_order(
        self,
        lines: list[dict[str, Any]],
        state: int = LINE_PAID,
        *,
        country_code: str = "fr-fr",
        date_creation: datetime | str | None = None,
        date_shipping: datetime | str | None = None,
        customer: int | None = None,
        take_stock: bool = True,
    ) -> int:
        """Create an order whose lines are all in orderline ``state`` (a line may give its own
        ``state``). Lines: ``{"sku", "quantity" (1), "price" (the listing price)}``. Lowers the
        listings' quantities as Back Market does when an order arrives. An order with shipped
        lines shipped at ``date_shipping`` (default now)."""
        with self.lock:
            now = self.clock.now_ts()
            created = to_ts(date_creation) if date_creation is not None else now
            specs = self._ordered(lines, state, LINE_STATES, "orderline")
            if not specs:
                raise ValueError("an order needs at least one line")
            if customer is None:
                customer = self.rng.randrange(1, 10**7)
            order = self.new_order(specs, created, country=country_code, customer=customer, modified=now)
            if order.state not in (0, 10, 8):
                order.paid = created
            if take_stock:
                for sku, quantity, _, _ in specs:
                    self.take_stock(sku, quantity)
            if any(line.state == LINE_SHIPPED for line in order.lines):
                self.mark_shipped(order, to_ts(date_shipping) if date_shipping is not None else now)
                self.issue_documents(order)
            self.lifecycle.order_created(order)
            return order.order_id

    # -- orders: changes ------------------------------------------------------------------------

    def _find_line(self, order: Order, line_ref: int | str) -> Line:
        for line in order.lines:
            if line.id == line_ref or line.sku == line_ref or str(line.id) == str(line_ref):
                return line
        raise KeyError(f"order {order.order_id} has no line {line_ref!r}")

    def set_line_state(self, order_id: int, line_ref: int | str, state: int) -> None:
        """Force one line (by orderline id or SKU) into ``state``; the order state follows."""
        with self.lock:
            order = self.order(order_id)
            line = self._find_line(order, line_ref)
            line.state = int(state)
            if state == LINE_SHIPPED:
                self.mark_shipped(order, self.clock.now_ts())
            self.touch(order)

    def mark_shipped(self, order: Order, ts: int, tracking_number: str | None = None) -> None:
        """Give the order its parcel (carrier, tracking number) and, the first time, its shipping date."""
        with self.lock:
            shipper, _, tracking_base = carrier(order.order_id)
            order.tracking_number = tracking_number or order.tracking_number or f"6A{order.order_id:011d}"
            order.tracking_url = f"{tracking_base}{order.tracking_number}"
            order.shipper = order.shipper or shipper
            if order.shipped is None:
                order.shipped = ts

    def _ship(self, order: Order, tracking_number: str | None, include_paid: bool = False) -> None:
        movable = {LINE_ACCEPTED, LINE_PAID} if include_paid else {LINE_ACCEPTED}
        for line in order.lines:
            if line.state in movable:
                line.state = LINE_SHIPPED
                if not line.imei and line.quantity == 1:
                    line.imei = f"35{line.id:013d}"
        ts = self.clock.now_ts()
        self.mark_shipped(order, ts, tracking_number)
        self.touch(order, ts)

    def ship(self, order_id: int, tracking_number: str | None = None, *, paid_lines_too: bool = True) -> None:
        """Ship every accepted (and, unless told otherwise, every still paid) line of the order:
        state 3, order state 9."""
        with self.lock:
            self._ship(self.order(order_id), tracking_number, include_paid=paid_lines_too)

    def _label_url(self, order_id: int) -> str:
        token = uuid.uuid5(uuid.NAMESPACE_URL, f"backmarket-simulator/label/{order_id}")
        return f"/static/shipment_labels/eu-{token}-1.pdf"

    def issue_documents(self, order: Order) -> None:
        """Give the order its delivery note and its label at once (without stamping it)."""
        with self.lock:
            order.delivery_note = f"/static/delivery_notes/{order.order_id}.pdf"
            order.label = self._label_url(order.order_id)
            if self.seeding:  # seeding sorts this index once at the end
                self._labelled.append(order.order_id)
            else:
                insort(self._labelled, order.order_id)

    def _set_documents(self, order: Order, delivery_note: Any, label: Any) -> None:
        if delivery_note is not None:
            if delivery_note is True:
                delivery_note = f"/static/delivery_notes/{order.order_id}.pdf"
            order.delivery_note = delivery_note or ""
        if label is not None:
            had = bool(order.label)
            order.label = (self._label_url(order.order_id) if label is True else label) or ""
            if order.label and not had:
                insort(self._labelled, order.order_id)
            elif had and not order.label:
                del self._labelled[bisect_left(self._labelled, order.order_id)]
        self.touch(order)

    def set_documents(self, order_id: int, delivery_note: Any = None, label: Any = None) -> None:
        """None leaves a document as it is, True makes one, False removes it, a string sets the URL."""
        with self.lock:
            self._set_documents(self.order(order_id), delivery_note, label)

    def _payload(self, order: Order) -> dict[str, Any]:
        return order_payload(order, self._by_sku, self.base_url)

    # -- an order that changes between two listing pages -----------------------------------------

    def lines_of(self, order: Order) -> list[Line]:
        return order.lines

    def _set_state(self, order_id: int, line_id: int, state: int) -> None:
        self.set_line_state(order_id, line_id, state)

    # -- care -----------------------------------------------------------------------------------

    def open_care(self, orderline_id: int, *, resolution: str | None = None, at: int | None = None) -> int:
        """Open a care folder on an orderline (now, or at epoch second ``at``); returns its id.
        A line has one folder at most: a second call returns the first one's id."""
        with self.lock:
            line = self._lines.get(int(orderline_id))
            if line is None:
                raise KeyError(f"no orderline {orderline_id}")
            existing = self._care_by_line.get(line.id)
            if existing is not None:
                return existing
            ts = self.clock.now_ts() if at is None else at
            care_id = self._next_care_id
            self._next_care_id += 1
            self._care[care_id] = CareFolder(
                id=care_id,
                orderline_id=line.id,
                order_id=line.order_id,
                state=0,
                created=ts,
                modified=ts,
                last_message=ts,
                closed=None,
                claim_id=care_id + 30000,
                resolution=resolution or self.rng.choice(RESOLUTIONS),
                issue="",
                messages=[(care_id * 10, ts, "Customer", "The device does not work as expected.")],
            )
            self._care_ids.append(care_id)
            self._care_by_line[line.id] = care_id
            return care_id

    def has_care(self, orderline_id: int) -> bool:
        with self.lock:
            return orderline_id in self._care_by_line

    def care_ids(self) -> list[int]:
        """Every care folder's id, open or closed. Do not mutate the result."""
        with self.lock:
            return self._care_ids

    def care_is_open(self, care_id: int) -> bool:
        with self.lock:
            return self._care[care_id].state == 0

    def close_care(self, care_id: int, *, at: int | None = None) -> None:
        """Close a care folder (now, or at epoch second ``at``)."""
        with self.lock:
            care = self._care[int(care_id)]
            care.state, care.closed = 9, self.clock.now_ts() if at is None else at
            care.modified = care.closed

    # -- summary ----------------------------------------------------------------------------------

    def _summary(self) -> dict[str, Any]:
        return {
            "care_folders": len(self._care),
            "care_open": sum(1 for care in self._care.values() if care.state == 0),
        }
