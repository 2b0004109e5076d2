"""The simulated Back Market seller account: listings, orders, care folders, a clock, one lock.

Orders live in a dict keyed by id, with sorted id lists per order state and a list sorted by
(date_modification, id), so that listing a page never walks every order.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
import uuid
from bisect import bisect_left, insort
from datetime import UTC, datetime
from typing import Any

from . import lifecycle
from .data import build_catalogue, carrier
from .model import (
    LINE_ACCEPTED,
    LINE_PAID,
    LINE_SHIPPED,
    LINE_STATES,
    ORDER_PAID,
    ORDER_STATES,
    ORDER_TO_SHIP,
    CareFolder,
    Line,
    Listing,
    Order,
    order_state_for,
    to_cents,
    to_ts,
)
from .payloads import order_payload
from .queries import WorldQueries

FIRST_ORDER_ID = 100001
FIRST_LINE_ID = 700001
FIRST_CARE_ID = 50001


class World(WorldQueries):
    """Thread-safe state of the simulator. Every public method takes ``self.lock``."""

    def __init__(
        self,
        seed: int = 7,
        orders: int = 20,
        skus: Any = None,
        *,
        arrivals_per_hour: float = 6.0,
        history_days: int = 42,
        clock_start: datetime | None = None,
        lines_per_order: int | None = None,
    ) -> None:
        self.seed = seed
        self.initial_orders = orders
        #: every order gets exactly this many lines (None: one, sometimes two, like a real account)
        self.lines_per_order = lines_per_order
        self.skus = skus
        self.arrivals_per_hour = arrivals_per_hour
        self.history_days = history_days
        #: where the clock starts (default: now); a start in the past runs it behind the real time
        self.clock_start = clock_start
        self.base_url = "http://127.0.0.1"
        self.lock = threading.RLock()
        self.reset()

    # -- set-up -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seeded start: same catalogue, same history, the clock at its start."""
        with self.lock:
            self.rng = random.Random(self.seed)
            self._offset = 0 if self.clock_start is None else int(self.clock_start.timestamp() - time.time())
            self._last_ts = 0
            self._elapsed = 0
            self._listings: list[Listing] = build_catalogue(self.rng, self.skus)
            self._by_sku = {listing.sku: listing for listing in self._listings}
            self._by_listing_ref: dict[str, Listing] = {}
            for listing in self._listings:
                self._by_listing_ref[str(listing.listing_id)] = listing
                self._by_listing_ref[listing.uuid] = listing
            self._orders: dict[int, Order] = {}
            self._ids: list[int] = []
            self._by_state: dict[int, list[int]] = {state: [] for state in ORDER_STATES}
            self._by_mod: list[tuple[int, int]] = []
            self._lines: dict[int, Line] = {}
            self._labelled: list[int] = []
            self._care: dict[int, CareFolder] = {}
            self._care_ids: list[int] = []
            self._care_by_line: dict[int, int] = {}
            self._events: list[tuple[int, int, str, int]] = []
            self._seq = 0
            self._next_order_id = FIRST_ORDER_ID
            self._next_line_id = FIRST_LINE_ID
            self._next_care_id = FIRST_CARE_ID
            self._version = 0
            self._cache: dict[tuple, tuple[int, list[int]]] = {}
            self.accept_calls: dict[int, int] = {}
            self.pushes: list[tuple[int, int]] = []
            lifecycle.seed_history(self, self.initial_orders)

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

    # -- listings -------------------------------------------------------------------------------

    def catalogue(self) -> list[dict[str, Any]]:
        with self.lock:
            return [listing.as_dict() for listing in self._listings]

    def listing_quantity(self, sku: str) -> int:
        with self.lock:
            return self._by_sku[sku].quantity

    def set_listing_quantity(self, sku: str, quantity: int) -> None:
        """Set a quantity directly (not recorded as a push)."""
        with self.lock:
            self._by_sku[sku].quantity = max(0, int(quantity))

    def _take_stock(self, sku: str, quantity: int) -> None:
        listing = self._by_sku.get(sku)
        if listing is not None:
            listing.quantity = max(0, listing.quantity - quantity)

    # -- orders: creation and index upkeep ----------------------------------------------------

    def _new_order(
        self,
        lines: list[tuple[str, int, int, int]],
        created: int,
        *,
        country: str,
        customer: int,
        modified: int | None = None,
        bulk: bool = False,
    ) -> Order:
        """Build and index an order from (sku, quantity, price cents, line state) tuples."""
        order_id = self._next_order_id
        self._next_order_id += 1
        records = []
        for sku, quantity, price_cents, state in lines:
            records.append(Line(self._next_line_id, order_id, sku, quantity, price_cents, state, created))
            self._next_line_id += 1
        state = order_state_for([line.state for line in records])
        order = Order(order_id, state, created, modified or created, country, customer, records)
        self._orders[order_id] = order
        if self._ids and order_id < self._ids[-1]:
            insort(self._ids, order_id)
        else:
            self._ids.append(order_id)
        insort(self._by_state[state], order_id)
        if not bulk:  # seeding sorts this index once at the end
            insort(self._by_mod, (order.modified, order_id))
        for line in records:
            self._lines[line.id] = line
        self._version += 1
        return order

    def _touch(self, order: Order, ts: int | None = None) -> None:
        """Recompute the order state from its lines and stamp ``date_modification``."""
        ts = self._now_ts() if ts is None else ts
        state = order_state_for([line.state for line in order.lines])
        if state != order.state:
            old = self._by_state[order.state]
            del old[bisect_left(old, order.order_id)]
            insort(self._by_state[state], order.order_id)
            if state == ORDER_PAID and order.paid is None:
                order.paid = ts
            order.state = state
        if ts != order.modified:
            index = bisect_left(self._by_mod, (order.modified, order.order_id))
            del self._by_mod[index]
            order.modified = ts
            insort(self._by_mod, (ts, order.order_id))
        if order.state == ORDER_TO_SHIP and not order.docs_scheduled:
            lifecycle.schedule_documents(self, order)
        self._version += 1

    def _order(self, order_id: int) -> Order:
        order = self._orders.get(int(order_id))
        if order is None:
            raise KeyError(f"no order {order_id}")
        return order

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
            now = self._now_ts()
            created = to_ts(date_creation) if date_creation is not None else now
            specs = []
            for spec in lines:
                sku = spec["sku"]
                if sku not in self._by_sku:
                    raise ValueError(f"unknown sku {sku!r}")
                line_state = int(spec.get("state", state))
                if line_state not in LINE_STATES:
                    raise ValueError(f"unknown orderline state {line_state}")
                price = spec.get("price", self._by_sku[sku].price)
                specs.append((sku, int(spec.get("quantity", 1)), to_cents(price), line_state))
            if not specs:
                raise ValueError("an order needs at least one line")
            if customer is None:
                customer = self.rng.randrange(1, 10**7)
            order = self._new_order(specs, created, country=country_code, customer=customer, modified=now)
            if order.state not in (0, 10, 8):
                order.paid = created
            if take_stock:
                for sku, quantity, _, _ in specs:
                    self._take_stock(sku, quantity)
            if any(line.state == LINE_SHIPPED for line in order.lines):
                self._mark_shipped(order, None, to_ts(date_shipping) if date_shipping is not None else now)
                order.delivery_note = f"/static/delivery_notes/{order.order_id}.pdf"
                order.label = self._label_url(order.order_id)
                insort(self._labelled, order.order_id)
            lifecycle.on_created(self, order)
            if order.state == ORDER_TO_SHIP:
                lifecycle.schedule_documents(self, order)
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
            order = self._order(order_id)
            line = self._find_line(order, line_ref)
            line.state = int(state)
            if state == LINE_SHIPPED:
                self._mark_shipped(order, None, self._now_ts())
            self._touch(order)

    def _mark_shipped(self, order: Order, tracking_number: str | None, ts: int) -> None:
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
        ts = self._now_ts()
        self._mark_shipped(order, tracking_number, ts)
        self._touch(order, ts)

    def ship(self, order_id: int, tracking_number: str | None = None) -> None:
        """Ship every accepted (or still paid) line of the order: state 3, order state 9."""
        with self.lock:
            self._ship(self._order(order_id), tracking_number, include_paid=True)

    def _label_url(self, order_id: int) -> str:
        token = uuid.uuid5(uuid.NAMESPACE_URL, f"backmarket-simulator/label/{order_id}")
        return f"/static/shipment_labels/eu-{token}-1.pdf"

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
        self._touch(order)

    def set_documents(self, order_id: int, delivery_note: Any = None, label: Any = None) -> None:
        """None leaves a document as it is, True makes one, False removes it, a string sets the URL."""
        with self.lock:
            self._set_documents(self._order(order_id), delivery_note, label)

    def corrupt_order(self, order_id: int, overrides: dict[str, Any] | None) -> None:
        """Serve this order with ``overrides`` applied (``DELETE`` removes a key); None restores it."""
        with self.lock:
            self._order(order_id).overrides = dict(overrides) if overrides else None

    def get_order(self, order_id: int) -> dict[str, Any]:
        """The order as served (without corruption overrides), a fresh dict."""
        with self.lock:
            order = self._order(order_id)
            overrides, order.overrides = order.overrides, None
            try:
                return order_payload(order, self._by_sku, self.base_url)
            finally:
                order.overrides = overrides

    # -- care -----------------------------------------------------------------------------------

    def open_care(self, orderline_id: int, *, resolution: str | None = None) -> int:
        """Open a care folder on an orderline; returns its id."""
        with self.lock:
            line = self._lines.get(int(orderline_id))
            if line is None:
                raise KeyError(f"no orderline {orderline_id}")
            return lifecycle.open_care(self, line, resolution).id

    def close_care(self, care_id: int) -> None:
        with self.lock:
            care = self._care[int(care_id)]
            care.state, care.closed = 9, self._now_ts()
            care.modified = care.closed

    # -- summary ----------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "now": self.now().isoformat(),
                "elapsed_minutes": self._elapsed // 60,
                "orders": len(self._orders),
                "orders_by_state": {str(s): len(ids) for s, ids in self._by_state.items()},
                "listings": {listing.sku: listing.quantity for listing in self._listings},
                "accept_calls": {str(k): v for k, v in self.accept_calls.items()},
                "pushes": len(self.pushes),
                "care_folders": len(self._care),
                "care_open": sum(1 for care in self._care.values() if care.state == 0),
            }
