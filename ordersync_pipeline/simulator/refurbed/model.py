"""Records, states and the error of the Refurbed simulator (times and money as in
``base.values``: epoch seconds and cents)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..base.server import SimulatorError

# OrderItemState: NEW -> ACCEPTED | REJECTED | CANCELLED; ACCEPTED -> SHIPPED | CANCELLED; SHIPPED -> RETURNED.
NEW, ACCEPTED, REJECTED, CANCELLED, SHIPPED, RETURNED = (
    "NEW",
    "ACCEPTED",
    "REJECTED",
    "CANCELLED",
    "SHIPPED",
    "RETURNED",
)
ITEM_STATES = (NEW, ACCEPTED, REJECTED, CANCELLED, SHIPPED, RETURNED)
ITEM_MOVES: dict[str, tuple[str, ...]] = {
    NEW: (ACCEPTED, REJECTED, CANCELLED),
    ACCEPTED: (SHIPPED, CANCELLED),
    SHIPPED: (RETURNED,),
}
FINAL_ITEM_STATES = frozenset({REJECTED, CANCELLED, SHIPPED, RETURNED})  # SHIPPED is "possibly final"

ORDER_STATES = (
    "NEW",
    "REJECTED",
    "CANCELLED",
    "ACCEPTED",
    "SHIPPED",
    "RETURNED",
    "FULFILLED",
    "UNFULFILLED",
    "PARTIALLY_FULFILLED",
)
ORDER_LABELS = (
    "PROCESSING",
    "PARTIALLY_REJECTED",
    "PARTIALLY_CANCELLED",
    "PARTIALLY_SHIPPED",
    "PARTIALLY_RETURNED",
    "MISSING_PARCEL_TRACKING_URLS",
    "MISSING_ITEM_IDENTIFIERS",
)

# google.rpc.Code and the HTTP status the gateway answers it with.
OK, INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, RESOURCE_EXHAUSTED = 0, 3, 5, 7, 8
UNIMPLEMENTED, INTERNAL, UNAVAILABLE, UNAUTHENTICATED = 12, 13, 14, 16
HTTP_STATUS = {3: 400, 5: 404, 7: 403, 8: 429, 9: 400, 12: 501, 13: 500, 14: 503, 16: 401}


class ApiError(SimulatorError):
    """An answer with Refurbed's error body, a google.rpc.Status: ``{code, message, details}``."""

    def __init__(self, code: int, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status or HTTP_STATUS.get(code, 500)

    def answer(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": []}


def order_state_for(states: list[str]) -> str:
    """The order state the document defines for a set of item states."""
    found = set(states)
    if NEW in found:
        return "NEW"
    if ACCEPTED in found:
        return "ACCEPTED"
    for state in (REJECTED, CANCELLED, SHIPPED, RETURNED):
        if found == {state}:
            return state
    if found <= {SHIPPED, RETURNED}:
        return "FULFILLED"
    if found <= {REJECTED, CANCELLED}:
        return "UNFULFILLED"
    return "PARTIALLY_FULFILLED"


@dataclass(slots=True)
class Offer:
    id: int
    sku: str
    title: str
    grading: str
    price: Any  # Decimal
    #: the offer's stock
    quantity: int
    version: int = 1
    created: int = 0

    def as_dict(self) -> dict[str, Any]:
        # ``listing_id`` and ``quantity`` are the names stock seeding reads from a simulator catalogue.
        return {
            "offer_id": str(self.id),
            "listing_id": str(self.id),
            "sku": self.sku,
            "title": self.title,
            "grading": self.grading,
            "price": self.price,
            "quantity": self.quantity,
        }


@dataclass(slots=True)
class Item:
    id: int
    order_id: int
    sku: str
    offer_id: int | None
    name: str
    grading: str
    price_cents: int
    state: str
    tracking_url: str = ""
    identifier: str = ""
    refunded_cents: int = 0


@dataclass(slots=True)
class Order:
    id: int
    released: int
    country: str
    customer: int
    items: list[Item]
    state: str = "NEW"
    shipping_cents: int = 0
    ship_scheduled: bool = False
    overrides: dict[str, Any] | None = None

    def labels(self) -> list[str]:
        states = [item.state for item in self.items]
        found = set(states)
        labels = []
        if not found <= {NEW} and not found <= FINAL_ITEM_STATES:
            labels.append("PROCESSING")
        for state, label in (
            (REJECTED, "PARTIALLY_REJECTED"),
            (CANCELLED, "PARTIALLY_CANCELLED"),
            (SHIPPED, "PARTIALLY_SHIPPED"),
            (RETURNED, "PARTIALLY_RETURNED"),
        ):
            if state in found and found != {state}:
                labels.append(label)
        if any(not item.tracking_url for item in self.items):
            labels.append("MISSING_PARCEL_TRACKING_URLS")
        if any(not item.identifier for item in self.items):
            labels.append("MISSING_ITEM_IDENTIFIERS")
        return labels


def fmt_ts(ts: int) -> str:
    """RFC 3339 in UTC with a ``Z``, as protobuf's JSON mapping writes a Timestamp."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
