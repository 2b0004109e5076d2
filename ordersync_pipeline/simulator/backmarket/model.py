"""Records, state codes and the error of the Back Market simulator (times and money as in
``base.values``: epoch seconds and cents)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..base.catalogue import Product
from ..base.server import SimulatorError

# Order states (the seller never sets them: they follow the lines).
ORDER_NEW = 0
ORDER_PENDING = 10
ORDER_PAID = 1
ORDER_TO_SHIP = 3
ORDER_NOT_PAID = 8
ORDER_SHIPPED = 9
ORDER_STATES = (0, 10, 1, 3, 8, 9)
UNLISTED_ORDER_STATES = frozenset({ORDER_NEW, ORDER_NOT_PAID})

# Orderline states.
LINE_NEW = 0
LINE_ON_HOLD = 9
LINE_PENDING = 8
LINE_PAID = 1
LINE_ACCEPTED = 2
LINE_SHIPPED = 3
LINE_CANCELLED = 4
LINE_REFUNDED_BEFORE = 5
LINE_REFUNDED_AFTER = 6
LINE_NOT_PAID = 7
LINE_STATES = (0, 9, 8, 1, 2, 3, 4, 5, 6, 7)

COUNTRY_CODES = (
    "fr-fr",
    "fr-be",
    "es-es",
    "de-de",
    "de-at",
    "it-it",
    "ja-jp",
    "en-au",
    "en-gb",
    "en-us",
    "nl-nl",
    "pt-pt",
    "en-ie",
    "el-gr",
    "sk-sk",
    "sv-se",
)


DOC_LINK = "https://api.backmarket.dev/"


class ApiError(SimulatorError):
    """An answer with Back Market's error body (``ErrorResponseV1``)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        target: str | None = None,
        data: Any = None,
        *,
        string_body: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.target = target
        self.data = data
        #: answered as a bare JSON string, as the listing update documents its 400
        self.string_body = string_body

    def answer(self) -> Any:
        if self.string_body:
            return self.message
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "target": self.target,
                "data": self.data if self.data is not None else {},
                "docLink": DOC_LINK,
            },
            "requestId": uuid.uuid4().hex,
        }


def order_state_for(line_states: list[int]) -> int:
    """The order state implied by its lines' states."""
    states = set(line_states)
    if not states:
        return ORDER_NEW
    if LINE_NEW in states:
        return ORDER_NEW
    if LINE_PENDING in states:
        return ORDER_PENDING
    if states == {LINE_NOT_PAID}:
        return ORDER_NOT_PAID
    if LINE_PAID in states or LINE_ON_HOLD in states:
        return ORDER_PAID
    if LINE_ACCEPTED in states:
        return ORDER_TO_SHIP
    return ORDER_SHIPPED  # every line reached a final state


@dataclass(slots=True)
class Listing(Product):
    """A product of the catalogue as Back Market lists it, under its listing and product ids."""

    listing_id: int = 0
    backmarket_id: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "listing_id": self.listing_id,
            "id": self.uuid,
            "sku": self.sku,
            "product": self.title,
            "title": self.title,
            "brand": self.brand,
            "price": self.price,
            "quantity": self.quantity,
        }


@dataclass(slots=True)
class Line:
    id: int
    order_id: int
    sku: str
    quantity: int
    price_cents: int
    state: int
    created: int
    return_reason: int | None = None
    return_message: str = ""
    imei: str = ""


@dataclass(slots=True)
class Order:
    order_id: int
    state: int
    created: int
    modified: int
    country: str
    customer: int
    lines: list[Line]
    paid: int | None = None
    shipped: int | None = None
    delivery_note: str = ""
    label: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    shipper: str = ""
    payment_method: str = "CARD"
    docs_scheduled: bool = False
    overrides: dict[str, Any] | None = None


@dataclass(slots=True)
class CareFolder:
    id: int
    orderline_id: int
    order_id: int
    state: int
    created: int
    modified: int
    last_message: int
    closed: int | None
    claim_id: int
    resolution: str
    issue: str
    messages: list[tuple[int, int, str, str]] = field(default_factory=list)  # (id, ts, initiator, text)


def fmt_ts(ts: int | None) -> str | None:
    """RFC 3339 with an explicit offset, e.g. ``2026-11-24T10:00:00+00:00``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat()
