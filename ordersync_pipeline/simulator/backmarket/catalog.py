"""The simulated account's listings read back, and the drift a real account's listings go through.

- ``GET /ws/listings``: every listing, ordered by listing id, paged by number (``page``,
  ``page-size`` up to 50, default 10) with ``publication_state``, ``min_quantity`` and
  ``max_quantity`` filters, in the ``{count, next, previous, results}`` envelope of ``ListingPublic``;
- the catalog's own budget (``rate_limit``, off by default; Back Market's is 20 requests per 10 s):
  reads of ``/ws/listings`` above it answer 429, and the account is blocked for ``block_seconds``;
- drift (``ListingDrift``): a quantity edited in the back office, a push answered but not applied,
  a listing deleted, a listing created by hand, and an order whose decrement lands while the
  listings are being read (the order comes in before the seller's sync could see it).

The world keeps one ``ListingDrift`` (``world.listing_drift``); its control routes are under
``/_sim/listings``.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import deque
from decimal import Decimal
from typing import Any

from ..base.drift import ListingDriftBase
from ..base.world import SimulatedWorld
from .model import ApiError, Listing
from .payloads import listing_payload

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50
LISTING_RE = re.compile(r"^/ws/listings/(?P<id>[^/]+)$")
CONTROL_RE = re.compile(r"^/_sim/listings/(?P<sku>[^/]+)(?P<rest>/[a-z_]+)?$")


class ListingDrift(ListingDriftBase):
    """What happens to listings behind the seller's back, and the catalog endpoints' budget."""

    def __init__(self) -> None:
        super().__init__()
        self.rate_limit: tuple[int, float] | None = None
        self.block_seconds = 10.0
        #: catalog reads answered 429
        self.limited = 0
        #: catalog reads that reached the server
        self.reads = 0
        self._hits: deque[float] = deque()
        self._blocked_until = 0.0

    def configure(self, rate_limit: Any = "keep", block_seconds: Any = None) -> None:
        with self._lock:
            if rate_limit != "keep":
                self.rate_limit = (int(rate_limit[0]), float(rate_limit[1])) if rate_limit else None
                self._hits.clear()
                self._blocked_until = 0.0
            if block_seconds is not None:
                self.block_seconds = float(block_seconds)

    def describe(self) -> dict[str, Any]:
        return {
            "rate_limit": list(self.rate_limit) if self.rate_limit else None,
            "block_seconds": self.block_seconds,
            "limited": self.limited,
            "reads": self.reads,
            "ignored_pushes": {str(k): v for k, v in self.ignored_pushes.items()},
            "orders_on_read": len(self.orders_on_read),
        }

    def admit_read(self) -> None:
        """Count a catalog read against the catalog's budget; 429 above it."""
        now = time.monotonic()
        with self._lock:
            self.reads += 1
            if now < self._blocked_until:
                self.limited += 1
                raise ApiError(429, "too_many_requests", "Too many requests. Client has been rate limited.")
            if self.rate_limit is None:
                return
            limit, window = self.rate_limit
            while self._hits and self._hits[0] <= now - window:
                self._hits.popleft()
            if len(self._hits) >= limit:
                self.limited += 1
                self._blocked_until = now + self.block_seconds
                raise ApiError(429, "too_many_requests", "Too many requests. Client has been rate limited.")
            self._hits.append(now)


# -- drift, as a person or the marketplace makes it -------------------------------------------------


def edit_quantity(world: SimulatedWorld, sku: str, quantity: int) -> None:
    """A person sets the quantity in the back office (not a push: nothing records it)."""
    world.set_listing_quantity(sku, quantity)


def ignore_pushes(world: SimulatedWorld, sku: str, times: int = 1) -> None:
    """The next ``times`` pushes to this listing are answered as if applied, and are not."""
    with world.lock:
        listing_id = world._by_sku[sku].listing_id
    world.listing_drift.ignored_pushes[listing_id] = int(times)


def delete_listing(world: SimulatedWorld, sku: str) -> None:
    """A person deletes the listing in the back office."""
    world.delete_listing(sku)


def create_listing(
    world: SimulatedWorld, sku: str, quantity: int, title: str | None = None, price: str = "199.00"
) -> dict:
    """A person creates a listing in the back office, under a SKU of their choosing."""

    def make() -> Listing:
        listing_id = max((x.listing_id for x in world._listings), default=4000) + 1
        return Listing(
            sku=sku,
            title=title or f"Refurbished device {sku}",
            brand="apple",
            price=Decimal(price).quantize(Decimal("0.01")),
            quantity=max(0, int(quantity)),
            grade="A",
            uuid=str(uuid.UUID(int=world.rng.getrandbits(128), version=4)),
            product_uuid=str(uuid.UUID(int=world.rng.getrandbits(128), version=4)),
            listing_id=listing_id,
            backmarket_id=900 + listing_id,
        )

    return world.add_listing(sku, make)


def order_on_next_read(world: SimulatedWorld, lines: list[dict[str, Any]]) -> None:
    """An order (paid) arrives as the listings are next read: Back Market lowers the listing at
    once, before the seller's sync can have seen the order."""
    world.listing_drift.orders_on_read.append(list(lines))


# -- the HTTP side -------------------------------------------------------------------------------


def answer(world: SimulatedWorld, method: str, path: str, params: dict[str, str], links: Any) -> tuple[int, Any] | None:
    """The answer to a catalog request, or None if the request is not one this module answers."""
    drift = world.listing_drift
    if method == "GET" and (path == "/ws/listings" or path.startswith("/ws/listings/")):
        drift.admit_read()
        for lines in drift.take_orders_on_read():
            world.create_order(lines=lines, state=1)
        if path == "/ws/listings":
            return 200, _page(world, path, params, links)
        return None  # one listing: the server's own route answers
    if method == "POST" and (match := LISTING_RE.match(path)):
        with world.lock:
            listing = world._by_listing_ref.get(match["id"])
            if listing is None or not drift.swallows_push(listing.listing_id):
                return None
            payload = listing_payload(listing)
        return 200, {**payload, "shippings_response": []}
    return None


def _page(world: SimulatedWorld, path: str, params: dict[str, str], links: Any) -> dict[str, Any]:
    page = _int(params, "page", 1, 1)
    size = _int(params, "page-size", DEFAULT_PAGE_SIZE, 1)
    if size > MAX_PAGE_SIZE:
        raise ApiError(400, "invalid_page_size", f"page-size must be at most {MAX_PAGE_SIZE}", "page-size")
    state = _int(params, "publication_state", None, 0)
    low = _int(params, "min_quantity", None, 0)
    high = _int(params, "max_quantity", None, 0)
    with world.lock:
        payloads = []
        matching = 0
        start = (page - 1) * size
        # Listings are kept in listing id order (a new one gets the next id).
        for listing in world._listings:
            if state is not None and (2 if listing.quantity > 0 else 3) != state:
                continue
            if (low is not None and listing.quantity < low) or (high is not None and listing.quantity > high):
                continue
            if start <= matching < start + size:
                served = listing_payload(listing)
                served.pop("statuscode", None)
                payloads.append(served)
            matching += 1
    return {**links(path, params, page, matching, size), "results": payloads}


def _int(params: dict[str, str], name: str, default: int | None, minimum: int) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer", name) from None
    if value < minimum:
        raise ApiError(400, "invalid_parameter", f"{name} must be at least {minimum}", name)
    return value


def control(world: SimulatedWorld, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any] | None:
    """``/_sim/listings`` routes: the catalog's budget and each kind of drift."""
    drift = world.listing_drift
    try:
        if path == "/_sim/listings" and method == "GET":
            return 200, {"listings": world.catalogue(), **drift.describe()}
        if path == "/_sim/listings" and method == "POST":
            return 201, create_listing(world, str(body["sku"]), int(body.get("quantity", 0)), body.get("title"))
        if path == "/_sim/listings/budget" and method == "POST":
            drift.configure(body.get("rate_limit", "keep"), body.get("block_seconds"))
            return 200, drift.describe()
        if path == "/_sim/listings/quantities" and method == "POST":
            for sku, quantity in dict(body.get("quantities") or {}).items():
                edit_quantity(world, sku, int(quantity))
            return 200, drift.describe()
        if path == "/_sim/listings/orders_on_read" and method == "POST":
            order_on_next_read(world, list(body.get("lines") or []))
            return 200, drift.describe()
        if match := CONTROL_RE.match(path):
            sku, rest = match["sku"], match["rest"] or ""
            if rest == "" and method == "DELETE":
                delete_listing(world, sku)
                return 200, {"deleted": sku}
            if rest == "/quantity" and method == "POST":
                edit_quantity(world, sku, int(body["quantity"]))
                return 200, {"sku": sku, "quantity": world.listing_quantity(sku)}
            if rest == "/ignore_pushes" and method == "POST":
                ignore_pushes(world, sku, int(body.get("times", 1)))
                return 200, drift.describe()
    except KeyError as exc:
        raise ApiError(404, "listing_not_found", f"no listing {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "invalid_listing", str(exc)) from None
    return None
