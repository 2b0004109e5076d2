"""What the HTTP API asks of the world: ListOrders pages, one order, item state and offer updates.

A mixin of ``World``: it relies on the world's lock, indexes and helpers. Request bodies are
checked the way the document's "Known errors" describe (INVALID_ARGUMENT, NOT_FOUND); unknown
fields are ignored, as the JSON gateway discards them.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from typing import Any

from ..base.values import parse_datetime, to_ts
from .model import (
    INVALID_ARGUMENT,
    ITEM_MOVES,
    ITEM_STATES,
    NOT_FOUND,
    ORDER_LABELS,
    ORDER_STATES,
    SHIPPED,
    UNIMPLEMENTED,
    ApiError,
)
from .payloads import item_payload, offer_payload, order_payload

MAX_LIMIT = 100
MAX_BATCH = 50
OK_STATUS = {"code": 0, "message": "", "details": []}
FILTERS = frozenset({"state", "released_at", "id", "labels"})


def _invalid(message: str) -> ApiError:
    return ApiError(INVALID_ARGUMENT, message)


def _int64(value: Any, name: str) -> int:
    """An int64 field: proto3 JSON sends it as a decimal string, and parsers accept a number too."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().lstrip("-").isdigit():
        raise _invalid(f"invalid value for int64 field {name}: {value!r}")
    return int(value)


def _enum_list(spec: dict[str, Any], key: str, allowed: tuple[str, ...], name: str) -> set[str] | None:
    values = spec.get(key)
    if values is None:
        return None
    if not isinstance(values, list) or any(v not in allowed for v in values):
        raise _invalid(f"invalid value for enum field {name}.{key}: {values!r}")
    return set(values)


def _released_filter(spec: Any) -> list[tuple[str, int]]:
    if not isinstance(spec, dict):
        raise _invalid("filter.released_at must be an object")
    bounds = []
    for op in ("gt", "ge", "lt", "le"):
        if spec.get(op):
            try:
                bounds.append((op, to_ts(parse_datetime(str(spec[op])))))
            except ValueError:
                raise _invalid(f"filter.released_at.{op} is not an RFC 3339 timestamp") from None
    return bounds


def _in_range(ts: int, bounds: list[tuple[str, int]]) -> bool:
    checks = {"gt": ts.__gt__, "ge": ts.__ge__, "lt": ts.__lt__, "le": ts.__le__}
    return all(checks[op](value) for op, value in bounds)


class WorldApi:
    lock: Any

    # -- OrderService ---------------------------------------------------------------------------

    def list_orders(self, body: dict[str, Any]) -> dict[str, Any]:
        """ListOrders: filter (state, released_at, id, labels), sort by ID, cursor pagination."""
        filter_ = body.get("filter") or {}
        pagination = body.get("pagination") or {}
        sort = body.get("sort") or {}
        if not isinstance(filter_, dict) or not isinstance(pagination, dict) or not isinstance(sort, dict):
            raise _invalid("filter, pagination and sort must be objects")
        unknown = sorted(set(filter_) - FILTERS)
        if unknown:
            raise ApiError(UNIMPLEMENTED, f"the simulator does not implement filter.{unknown[0]}")
        limit = _int64(pagination.get("limit") or MAX_LIMIT, "pagination.limit")
        if not 1 <= limit <= MAX_LIMIT:
            raise _invalid(f"pagination limit must be between 1 and {MAX_LIMIT}")
        after, before = pagination.get("starting_after"), pagination.get("ending_before")
        if after not in (None, "") and before not in (None, ""):
            raise _invalid('both "ending_before" and "starting_after" are specified in pagination')
        if sort.get("by", "ID") not in ("ID", "UNSPECIFIED"):
            raise ApiError(UNIMPLEMENTED, f"the simulator sorts by ID only, not {sort.get('by')!r}")
        if sort.get("order", "ASC") not in ("ASC", "DESC", "UNSPECIFIED"):
            raise _invalid(f"invalid value for enum field sort.order: {sort.get('order')!r}")
        descending = sort.get("order") == "DESC"
        state_spec = filter_.get("state") or {}
        any_states = _enum_list(state_spec, "any_of", ORDER_STATES, "filter.state")
        no_states = _enum_list(state_spec, "none_of", ORDER_STATES, "filter.state") or set()
        label_spec = filter_.get("labels") or {}
        label_sets = {k: _enum_list(label_spec, k, ORDER_LABELS, "filter.labels") for k in ("any_of", "all_of")}
        no_labels = _enum_list(label_spec, "none_of", ORDER_LABELS, "filter.labels") or set()
        released = _released_filter(filter_["released_at"]) if "released_at" in filter_ else []
        id_spec = filter_.get("id") or {}
        ids_in = {_int64(v, "filter.id.any_of") for v in id_spec.get("any_of") or []} or None
        ids_out = {_int64(v, "filter.id.none_of") for v in id_spec.get("none_of") or []}

        def matches(order: Any) -> bool:
            if order.state in no_states or order.id in ids_out or (ids_in is not None and order.id not in ids_in):
                return False
            if released and not _in_range(order.released, released):
                return False
            if label_sets["any_of"] or label_sets["all_of"] or no_labels:
                labels = set(order.labels())
                if label_sets["any_of"] and not labels & label_sets["any_of"]:
                    return False
                if label_sets["all_of"] and not label_sets["all_of"] <= labels:
                    return False
                if labels & no_labels:
                    return False
            return True

        with self.lock:
            if ids_in is not None:
                lists = [sorted(ids_in)]
            elif any_states is not None:
                lists = [self._by_state[state] for state in any_states - no_states]
            else:
                lists = [self._ids]
            # ending_before pages backwards from the cursor, then reads the page in sort order.
            backwards = before not in (None, "")
            cursor = _int64(before if backwards else after, "pagination cursor") if (before or after) else None
            found = []
            for order_id in self._walk(lists, cursor, descending != backwards):
                order = self._orders.get(order_id)
                if order is not None and matches(order):
                    found.append(order)
                    if len(found) > limit:
                        break
            has_more = len(found) > limit
            page = found[:limit]
            if backwards:
                page.reverse()
            return {"orders": [order_payload(order) for order in page], "has_more": has_more}

    @staticmethod
    def _walk(lists: list[list[int]], cursor: int | None, descending: bool) -> Iterator[int]:
        """Ids of the sorted ``lists`` strictly after ``cursor`` in the walking direction, lazily."""

        def one(ids: list[int]) -> Iterator[int]:
            if descending:
                end = len(ids) if cursor is None else bisect_left(ids, cursor)
                return (ids[i] for i in range(end - 1, -1, -1))
            start = 0 if cursor is None else bisect_right(ids, cursor)
            return (ids[i] for i in range(start, len(ids)))

        return heapq.merge(*(one(ids) for ids in lists), reverse=descending)

    def order_json(self, body: dict[str, Any]) -> dict[str, Any]:
        """GetOrder."""
        order_id = _int64(body.get("id"), "id")
        with self.lock:
            order = self._orders.get(order_id)
            if order is None:
                raise ApiError(NOT_FOUND, f"order {order_id} not found")
            return {"order": order_payload(order)}

    # -- OrderItemService -----------------------------------------------------------------------

    def update_item_states(self, body: dict[str, Any]) -> dict[str, Any]:
        """BatchUpdateOrderItemsState."""
        return self._batch(body.get("updates"), "updates", "order_item", self.update_item_state)

    def update_item_state(self, update: Any) -> dict[str, Any]:
        """UpdateOrderItemState: the item state machine, and the parcel tracking URL SHIPPED needs."""
        if not isinstance(update, dict):
            raise _invalid("an update must be an object")
        item_id = _int64(update.get("id"), "id")
        with self.lock:
            item = self._items.get(item_id)
            if item is None:
                raise ApiError(NOT_FOUND, f"order item {item_id} not found")
            requested = update.get("state")
            moving = requested not in (None, "", "UNSPECIFIED")
            if moving and requested not in ITEM_STATES:
                raise _invalid(f"invalid value for enum field state: {requested!r}")
            state = requested if moving else item.state
            if moving and state == "ACCEPTED":
                self.accept_calls[item.id] = self.accept_calls.get(item.id, 0) + 1
            url = update.get("parcel_tracking_url")
            if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
                raise _invalid("parcel_tracking_url must be a valid HTTP(S) URL")
            # Moving to the state an item is already in is refused too: nothing is accepted twice.
            if moving and state not in ITEM_MOVES.get(item.state, ()):
                raise _invalid(f"illegal state transition of order item {item.id} from {item.state} to {state}")
            if state == SHIPPED and not (url or item.tracking_url):
                raise _invalid("no parcel tracking url is set when transitioning to SHIPPED state")
            if url:
                item.tracking_url = url
            identifiers = update.get("item_identifiers") or []
            if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], dict):
                item.identifier = str(identifiers[0].get("value") or item.identifier)
            elif update.get("item_identifier"):
                item.identifier = str(update["item_identifier"])
            if state in ("CANCELLED", "REJECTED", "RETURNED"):
                item.refunded_cents = item.price_cents
            item.state = state
            order = self._orders[item.order_id]
            self.touch(order)
            return {"order_item": item_payload(item, order.country)}

    # -- OfferService ---------------------------------------------------------------------------

    def update_offers(self, body: dict[str, Any]) -> dict[str, Any]:
        """BatchUpdateOffers."""
        return self._batch(body.get("offers"), "offers", "offer", self.update_offer)

    def _batch(self, updates: Any, name: str, key: str, update_one: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        """A batch call: each update stands alone; results in request order."""
        if not isinstance(updates, list) or not 1 <= len(updates) <= MAX_BATCH:
            raise _invalid(f"between 1 and {MAX_BATCH} {name} are required")
        with self.lock:
            results = []
            for update in updates:
                try:
                    results.append({"status": dict(OK_STATUS), key: update_one(update)[key]})
                except ApiError as exc:
                    results.append({"status": exc.answer(), key: None})
            return {"results": results}

    def update_offer(self, update: Any) -> dict[str, Any]:
        """UpdateOffer: an offer named by id or SKU; stock (and reference price) are simulated."""
        if not isinstance(update, dict) or not isinstance(update.get("identifier"), dict):
            raise _invalid("identifier is required")
        identifier = update["identifier"]
        with self.lock:
            if identifier.get("id") not in (None, ""):
                offer = self._by_offer_id.get(_int64(identifier["id"], "identifier.id"))
            elif identifier.get("sku"):
                offer = self._by_sku.get(str(identifier["sku"]))
            else:
                raise _invalid("identifier needs an id or a sku")
            if offer is None:
                raise ApiError(NOT_FOUND, f"offer {identifier.get('id') or identifier.get('sku')} not found")
            if update.get("stock") is not None:
                stock = _int64(update["stock"], "stock")
                if stock < 0:
                    raise _invalid("invalid input offer data: stock must not be negative")
                offer.quantity = stock
                offer.version += 1
                self.pushes.append((offer.id, stock))
            return {"offer": offer_payload(offer)}
