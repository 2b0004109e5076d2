"""The state every simulated account has, behind one lock: a seed, a clock, listings by SKU,
orders by id and by state, what the seller sent; and the lifecycle that moves it on.

A marketplace's world builds its listings (``_listings_of``), its own records and indexes
(``_reset``, ``_seeded``), and serves its orders (``_payload``); its lifecycle class says what
time brings. The lifecycle and the fault modes change the world through its methods only.
"""

from __future__ import annotations

import random
import threading
from bisect import bisect_left, insort
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .catalogue import Product, build_catalogue
from .clock import Clock
from .values import to_cents


class SimulatedWorld:
    """Thread-safe state of a simulator. Every public method takes ``self.lock``."""

    #: the lifecycle class that moves this world on (a ``lifecycle.Lifecycle``)
    lifecycle_class: Any = None
    #: every order state, for the index of orders by state
    ORDER_STATES: tuple = ()
    #: how a line moves on when its order changes between two listing pages (fault mode "change")
    NEXT_STATE: dict = {}

    def __init__(
        self,
        seed: int = 7,
        orders: int = 20,
        skus: Any = None,
        *,
        arrivals_per_hour: float = 6.0,
        history_days: int = 42,
        clock_start: datetime | None = None,
    ) -> None:
        self.seed = seed
        #: where the clock starts (default: now); a start in the past runs it behind the real time
        self.clock_start = clock_start
        self.initial_orders = orders
        self.skus = skus
        self.arrivals_per_hour = arrivals_per_hour
        self.history_days = history_days
        self.lock = threading.RLock()
        self.lifecycle = self.lifecycle_class(self)
        self.reset()

    # -- set-up ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seeded start: same catalogue, same history, the clock at its start."""
        with self.lock:
            self.rng = random.Random(self.seed)
            self.clock = Clock(self.clock_start)
            self._listings = self._listings_of(build_catalogue(self.rng, self.skus))
            self._by_sku = {listing.sku: listing for listing in self._listings}
            self._orders: dict[int, Any] = {}
            self._ids: list[int] = []
            self._by_state: dict[Any, list[int]] = {state: [] for state in self.ORDER_STATES}
            #: line id -> how many times the seller asked to accept it
            self.accept_calls: dict[int, int] = {}
            #: (listing id, quantity) of every stock update the seller sent, in order
            self.pushes: list[tuple[int, int]] = []
            self._reset()
            #: while the history is seeded, indexes that are sorted once at the end are not kept up
            self.seeding = True
            try:
                self.lifecycle.seed_history(self.initial_orders)
            finally:
                self.seeding = False
            self._seeded()

    def _listings_of(self, products: list[Product]) -> list[Any]:
        """The marketplace's listing records of the catalogue's products, in the same order."""
        raise NotImplementedError

    def _reset(self) -> None:
        """Empty the marketplace's own records and indexes."""

    def _seeded(self) -> None:
        """Sort what seeding left unsorted."""

    # -- clock ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        """Simulated now: real UTC now plus every minute ``advance`` added."""
        with self.lock:
            return self.clock.now()

    def now_ts(self) -> int:
        with self.lock:
            return self.clock.now_ts()

    def advance(self, minutes: float = 60, steps: int = 1) -> dict[str, int]:
        """Move the clock on by ``minutes`` in all, in ``steps`` equal steps, applying the lifecycle."""
        steps = max(1, int(steps))
        total = int(round(float(minutes) * 60))
        done: dict[str, int] = {}
        with self.lock:
            for i in range(steps):
                seconds = total * (i + 1) // steps - total * i // steps
                self.clock.move(seconds)
                for key, value in self.lifecycle.step(seconds).items():
                    done[key] = done.get(key, 0) + value
        return done

    # -- listings -------------------------------------------------------------------------------

    def catalogue(self) -> list[dict[str, Any]]:
        with self.lock:
            return [listing.as_dict() for listing in self._listings]

    def listings(self, in_stock_only: bool = False) -> list[Any]:
        """The listing records, in catalogue order (only those with units left, if asked)."""
        with self.lock:
            return [x for x in self._listings if x.quantity > 0] if in_stock_only else self._listings

    def listing_quantity(self, sku: str) -> int:
        with self.lock:
            return self._by_sku[sku].quantity

    def set_listing_quantity(self, sku: str, quantity: int) -> None:
        """Set a quantity directly (not recorded as a push)."""
        with self.lock:
            self._by_sku[sku].quantity = max(0, int(quantity))

    def add_listing(self, sku: str, make: Callable[[], Any], what: str = "a listing") -> dict[str, Any]:
        """A listing created by hand: ``make()`` builds it, under the lock, so it may take the next id."""
        with self.lock:
            if sku in self._by_sku:
                raise ValueError(f"{what} with sku {sku!r} exists")
            listing = make()
            self._listings.append(listing)
            self._by_sku[sku] = listing
            self._index_listing(listing)
            return listing.as_dict()

    def delete_listing(self, sku: str) -> Any:
        """A listing deleted by hand (``KeyError`` if there is none)."""
        with self.lock:
            listing = self._by_sku.pop(sku)
            self._listings.remove(listing)
            self._unindex_listing(listing)
            return listing

    def _index_listing(self, listing: Any) -> None:
        """Add a listing to the marketplace's own indexes."""

    def _unindex_listing(self, listing: Any) -> None:
        """Take a listing out of the marketplace's own indexes."""

    def take_stock(self, sku: str, quantity: int = 1) -> None:
        """What an arriving order takes off its listing, as the marketplace does."""
        with self.lock:
            listing = self._by_sku.get(sku)
            if listing is not None:
                listing.quantity = max(0, listing.quantity - quantity)

    # -- orders ---------------------------------------------------------------------------------

    def order(self, order_id: int | str) -> Any:
        """The order record; ``KeyError`` if there is none."""
        with self.lock:
            order = self._orders.get(int(order_id))
            if order is None:
                raise KeyError(f"no order {order_id}")
            return order

    def _ordered(self, lines: list[dict[str, Any]], state: Any, states: tuple, what: str) -> list[tuple]:
        """(sku, quantity, price cents, state) of the lines given to ``create_order``: each line's
        own ``state`` or else ``state``, read as ``states`` are (ints or strings); a line without a
        price takes its listing's. ``ValueError`` names what is wrong."""
        specs = []
        for spec in lines:
            sku = spec["sku"]
            if sku not in self._by_sku:
                raise ValueError(f"unknown sku {sku!r}")
            line_state = type(states[0])(spec.get("state", state))
            if line_state not in states:
                raise ValueError(f"unknown {what} state {line_state!r}")
            price = to_cents(spec.get("price", self._by_sku[sku].price))
            specs.append((sku, int(spec.get("quantity", 1)), price, line_state))
        return specs

    def ids_in_state(self, state: Any) -> list[int]:
        """Ids of the orders in ``state``, ascending. Do not mutate the result."""
        with self.lock:
            return self._by_state[state]

    def touch(self, order: Any) -> None:
        """Recompute the order's state after its lines changed, and let the lifecycle plan on it."""
        raise NotImplementedError

    def _index(self, order_id: int, order: Any, state: Any) -> None:
        self._orders[order_id] = order
        if self._ids and order_id < self._ids[-1]:
            insort(self._ids, order_id)
        else:
            self._ids.append(order_id)
        insort(self._by_state[state], order_id)

    def _restate(self, order_id: int, old: Any, new: Any) -> None:
        ids = self._by_state[old]
        del ids[bisect_left(ids, order_id)]
        insort(self._by_state[new], order_id)

    def corrupt_order(self, order_id: int, overrides: dict[str, Any] | None) -> None:
        """Serve this order with ``overrides`` applied (``DELETE`` removes a key); None restores it."""
        with self.lock:
            self.order(order_id).overrides = dict(overrides) if overrides else None

    def get_order(self, order_id: int) -> dict[str, Any]:
        """The order as served (without corruption overrides), a fresh dict."""
        with self.lock:
            order = self.order(order_id)
            overrides, order.overrides = order.overrides, None
            try:
                return self._payload(order)
            finally:
                order.overrides = overrides

    def _payload(self, order: Any) -> dict[str, Any]:
        raise NotImplementedError

    # -- an order that changes between two listing pages -----------------------------------------

    def movable(self, served: list[int]) -> list[tuple[int, int]]:
        """(order id, line id) of the orders whose first line can move on: among the ``served``
        page if one can (the listing may then shift under the client), else among all."""
        with self.lock:
            for candidates in (served, self._ids):
                movable = [
                    (order_id, line.id)
                    for order_id in candidates
                    if order_id in self._orders
                    for line in self.lines_of(self._orders[order_id])[:1]
                    if line.state in self.NEXT_STATE
                ]
                if movable:
                    return movable
            return []

    def move_on(self, order_id: int, line_id: int) -> None:
        """Move one line to its usual next state (``NEXT_STATE``)."""
        with self.lock:
            line = next(line for line in self.lines_of(self.order(order_id)) if line.id == line_id)
            self._set_state(order_id, line_id, self.NEXT_STATE[line.state])

    def lines_of(self, order: Any) -> list[Any]:
        """The order's lines, each with an ``id`` and a ``state`` (Refurbed's are its items)."""
        raise NotImplementedError

    def _set_state(self, order_id: int, line_id: int, state: Any) -> None:
        raise NotImplementedError

    # -- summary --------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "now": self.now().isoformat(),
                "elapsed_minutes": self.clock.elapsed // 60,
                "orders": len(self._orders),
                "orders_by_state": {str(s): len(ids) for s, ids in self._by_state.items()},
                "listings": {listing.sku: listing.quantity for listing in self._listings},
                "accept_calls": {str(k): v for k, v in self.accept_calls.items()},
                "pushes": len(self.pushes),
                **self._summary(),
            }

    def _summary(self) -> dict[str, Any]:
        """The marketplace's own figures for ``state``."""
        return {}
