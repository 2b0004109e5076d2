"""The simulated account's offers read back, and the drift a real account's offers go through.

- ``OfferService/ListOffers``: offers sorted by ``ID`` (ascending or descending), cursor pagination
  (``limit`` 1 to 100, ``starting_after`` an offer id), filters ``id``, ``sku`` (``any_of``,
  ``none_of``) and ``stock`` (a ``UInt32RangeFilter``); answers ``{"offers": [...], "has_more"}``;
- drift (``OfferDrift``): a stock edited in the merchant interface, a stock update answered but not
  applied, an offer deleted, an offer created by hand, and an order whose decrement lands while the
  offers are being read (it comes in before the seller's sync could see it).

The world keeps one ``OfferDrift`` (``world.listing_drift``); its control routes are under
``/_sim/offers``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from ..base.drift import ListingDriftBase
from ..base.world import SimulatedWorld
from .model import INVALID_ARGUMENT, NOT_FOUND, UNIMPLEMENTED, ApiError, Offer
from .payloads import offer_payload

MAX_LIMIT = 100
MAX_BATCH = 50
OK_STATUS = {"code": 0, "message": "", "details": []}
FILTERS = frozenset({"id", "sku", "stock"})
CONTROL_RE = re.compile(r"^/_sim/offers/(?P<sku>[^/]+)(?P<rest>/[a-z_]+)?$")


class OfferDrift(ListingDriftBase):
    """What happens to offers behind the seller's back (offer ids, stock updates, ListOffers)."""

    def __init__(self) -> None:
        super().__init__()
        #: ListOffers calls answered
        self.reads = 0

    def describe(self) -> dict[str, Any]:
        return {
            "reads": self.reads,
            "ignored_pushes": {str(k): v for k, v in self.ignored_pushes.items()},
            "orders_on_read": len(self.orders_on_read),
        }

    def take_orders_on_read(self) -> list[list[dict[str, Any]]]:
        with self._lock:
            self.reads += 1
        return super().take_orders_on_read()


# -- drift, as a person or the marketplace makes it -------------------------------------------------


def edit_stock(world: SimulatedWorld, sku: str, stock: int) -> None:
    """A person sets the stock in the merchant interface (not a push: nothing records it)."""
    world.set_listing_quantity(sku, stock)


def ignore_pushes(world: SimulatedWorld, sku: str, times: int = 1) -> None:
    """The next ``times`` stock updates of this offer are answered OK, and not applied."""
    with world.lock:
        offer_id = world._by_sku[sku].id
    world.listing_drift.ignored_pushes[offer_id] = int(times)


def delete_offer(world: SimulatedWorld, sku: str) -> None:
    world.delete_listing(sku)


def create_offer(world: SimulatedWorld, sku: str, stock: int, title: str | None = None, price: str = "199.00") -> dict:

    def make() -> Offer:
        return Offer(
            max((o.id for o in world._listings), default=0) + 1,
            sku,
            title or f"Refurbished device {sku}",
            "A",
            Decimal(price),
            max(0, int(stock)),
            created=world.now_ts(),
        )

    return world.add_listing(sku, make, "an offer")


def order_on_next_read(world: SimulatedWorld, lines: list[dict[str, Any]]) -> None:
    """An order (NEW) arrives as the offers are next read: Refurbed lowers the stock at once,
    before the seller's sync can have seen the order."""
    world.listing_drift.orders_on_read.append(list(lines))


# -- the API side --------------------------------------------------------------------------------


def rpc(world: SimulatedWorld, service: str, method: str, body: dict[str, Any]) -> Any | None:
    """The answer to an offer RPC this module answers, or None to leave it to the world."""
    if (service, method) == ("OfferService", "ListOffers"):
        for lines in world.listing_drift.take_orders_on_read():
            world.create_order(lines=lines, state="NEW")
        return list_offers(world, body)
    if (service, method) == ("OfferService", "BatchUpdateOffers") and world.listing_drift.ignored_pushes:
        return _update_offers(world, body)
    return None


def list_offers(world: SimulatedWorld, body: dict[str, Any]) -> dict[str, Any]:
    filter_ = body.get("filter") or {}
    pagination = body.get("pagination") or {}
    sort = body.get("sort") or {}
    if not isinstance(filter_, dict) or not isinstance(pagination, dict) or not isinstance(sort, dict):
        raise ApiError(INVALID_ARGUMENT, "filter, pagination and sort must be objects")
    unknown = sorted(set(filter_) - FILTERS)
    if unknown:
        raise ApiError(UNIMPLEMENTED, f"the simulator does not implement filter.{unknown[0]}")
    limit = _int64(pagination.get("limit") or MAX_LIMIT, "pagination.limit")
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(INVALID_ARGUMENT, "pagination limit is too large (>100)")
    after, before = pagination.get("starting_after"), pagination.get("ending_before")
    if after not in (None, "") and before not in (None, ""):
        raise ApiError(INVALID_ARGUMENT, 'both "ending_before" and "starting_after" are specified in pagination')
    if before not in (None, ""):
        raise ApiError(UNIMPLEMENTED, "the simulator pages offers with starting_after only")
    if sort.get("by", "ID") not in ("ID",):
        raise ApiError(UNIMPLEMENTED, f"the simulator sorts offers by ID only, not {sort.get('by')!r}")
    descending = sort.get("order") == "DESC"
    cursor = _int64(after, "pagination.starting_after") if after not in (None, "") else None
    ids_in = _id_set(filter_.get("id"), "any_of")
    ids_out = _id_set(filter_.get("id"), "none_of") or set()
    skus = filter_.get("sku") or {}
    skus_in = set(skus["any_of"]) if skus.get("any_of") else None
    skus_out = set(skus.get("none_of") or [])
    stock = filter_.get("stock") or {}

    def matches(offer: Offer) -> bool:
        if (ids_in is not None and offer.id not in ids_in) or offer.id in ids_out:
            return False
        if (skus_in is not None and offer.sku not in skus_in) or offer.sku in skus_out:
            return False
        return _in_range(offer.quantity, stock)

    with world.lock:
        # Offers are kept in id order (a new one gets the next id).
        offers = reversed(world._listings) if descending else iter(world._listings)
        found: list[Offer] = []
        for offer in offers:
            if cursor is not None and (offer.id >= cursor if descending else offer.id <= cursor):
                continue
            if matches(offer):
                found.append(offer)
                if len(found) > limit:
                    break
        return {"offers": [offer_payload(o) for o in found[:limit]], "has_more": len(found) > limit}


def _update_offers(world: SimulatedWorld, body: dict[str, Any]) -> dict[str, Any]:
    """BatchUpdateOffers with some updates answered OK and not applied."""
    offers = body.get("offers")
    if not isinstance(offers, list) or not 1 <= len(offers) <= MAX_BATCH:
        raise ApiError(INVALID_ARGUMENT, f"between 1 and {MAX_BATCH} offers are required")
    results = []
    with world.lock:
        for update in offers:
            offer = _named(world, update)
            if offer is not None and update.get("stock") is not None and world.listing_drift.swallows_push(offer.id):
                shown = offer_payload(offer) | {"stock": _int64(update["stock"], "stock")}
                results.append({"status": dict(OK_STATUS), "offer": shown})
                continue
            try:
                results.append({"status": dict(OK_STATUS), "offer": world.update_offer(update)["offer"]})
            except ApiError as exc:
                results.append({"status": exc.body(), "offer": None})
    return {"results": results}


def _named(world: SimulatedWorld, update: Any) -> Offer | None:
    identifier = update.get("identifier") if isinstance(update, dict) else None
    if not isinstance(identifier, dict):
        return None
    if str(identifier.get("id") or "").isdigit():
        return world._by_offer_id.get(int(identifier["id"]))
    return world._by_sku.get(str(identifier.get("sku") or ""))


def _int64(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().lstrip("-").isdigit():
        raise ApiError(INVALID_ARGUMENT, f"invalid value for int64 field {name}: {value!r}")
    return int(value)


def _id_set(spec: Any, key: str) -> set[int] | None:
    if not isinstance(spec, dict) or not spec.get(key):
        return None
    return {_int64(v, f"filter.id.{key}") for v in spec[key]}


def _in_range(value: int, spec: dict[str, Any]) -> bool:
    bounds = {op: _int64(spec[op], f"filter.stock.{op}") for op in ("gt", "ge", "lt", "le") if spec.get(op) is not None}
    checks = {"gt": value.__gt__, "ge": value.__ge__, "lt": value.__lt__, "le": value.__le__}
    if spec.get("any_of") and value not in {int(v) for v in spec["any_of"]}:
        return False
    if spec.get("none_of") and value in {int(v) for v in spec["none_of"]}:
        return False
    return all(checks[op](bound) for op, bound in bounds.items())


def control(world: SimulatedWorld, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any] | None:
    """``/_sim/offers`` routes: each kind of drift."""
    drift = world.listing_drift
    try:
        if path == "/_sim/offers" and method == "POST":
            return 201, create_offer(world, str(body["sku"]), int(body.get("stock", 0)), body.get("title"))
        if path == "/_sim/offers/stocks" and method == "POST":
            for sku, stock in dict(body.get("stocks") or {}).items():
                edit_stock(world, sku, int(stock))
            return 200, drift.describe()
        if path == "/_sim/offers/orders_on_read" and method == "POST":
            order_on_next_read(world, list(body.get("lines") or []))
            return 200, drift.describe()
        if match := CONTROL_RE.match(path):
            sku, rest = match["sku"], match["rest"] or ""
            if rest == "" and method == "DELETE":
                delete_offer(world, sku)
                return 200, {"deleted": sku}
            if rest == "/stock" and method == "POST":
                edit_stock(world, sku, int(body["stock"]))
                return 200, {"sku": sku, "stock": world.listing_quantity(sku)}
            if rest == "/ignore_pushes" and method == "POST":
                ignore_pushes(world, sku, int(body.get("times", 1)))
                return 200, drift.describe()
    except KeyError as exc:
        raise ApiError(NOT_FOUND, f"no offer {exc}") from None
    return None
