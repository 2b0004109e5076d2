"""Pydantic models of the Back Market payloads the adapter reads.

Only the fields the adapter uses are declared; Back Market adds fields over time, so unknown ones
are ignored rather than refused. Ids and quantities are strict integers: a string or a float
where Back Market documents an integer means the payload is not what we think it is.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, field_validator

from ordersync_pipeline.marketplaces.base import Status
from ordersync_pipeline.marketplaces.parsing import blank_to_none, known, utc_or_none

# Orderline states (document, "Table 6 - States for Orderlines").
LINE_STATUS: dict[int, Status] = {
    0: Status.PENDING_PAYMENT,  # new, payment being confirmed
    8: Status.PENDING_PAYMENT,  # customer may still pay
    9: Status.PENDING_PAYMENT,  # on hold, a partner must validate it first
    1: Status.PAID,
    2: Status.ACCEPTED,
    3: Status.SHIPPED,
    4: Status.CANCELLED,
    7: Status.CANCELLED,  # not paid: the bank refused the payment
    5: Status.REFUNDED,  # refunded before shipping
    6: Status.RETURNED,  # refunded after shipping: the unit left
}

# Order states (document, "Table 5 - Order State"). The seller never sets them: they follow the lines.
ORDER_STATUS: dict[int, Status] = {
    0: Status.PENDING_PAYMENT,
    10: Status.PENDING_PAYMENT,
    1: Status.PAID,
    3: Status.ACCEPTED,
    8: Status.CANCELLED,  # payment failed, the merchant must ignore the order
    9: Status.SHIPPED,
}


def _no_float(value: Any) -> Any:
    """Refuse a float: it has already lost digits. An order validated straight from JSON bytes
    turns a JSON number with a fraction into one (the adapter reads such pages with exact decimals
    instead, ``money_is_exact``); one read with ``json.loads(parse_float=Decimal)`` never holds one."""
    if isinstance(value, float):
        raise ValueError("a JSON number with a fraction is read exactly, not as a float")
    return value


Money = Annotated[Decimal, BeforeValidator(_no_float), Field(allow_inf_nan=False)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class BMOrderLine(_Payload):
    id: StrictInt
    state: StrictInt
    # The seller SKU. Kept when empty or missing: the line is synced, and flagged, since no unit
    # can be locked for it.
    listing: str | None = None
    listing_id: StrictInt | str | None = None
    quantity: StrictInt = Field(ge=1)
    price: Money
    currency: str | None = None

    _known_state = field_validator("state")(known("orderline state", LINE_STATUS, lambda c: str(sorted(c))))

    @property
    def status(self) -> Status:
        return LINE_STATUS[self.state]


class BMOrder(_Payload):
    order_id: StrictInt
    state: StrictInt
    date_creation: datetime
    date_modification: datetime
    date_shipping: datetime | None = None
    price: Money
    shipping_price: Money | None = None
    currency: str = Field(min_length=1)
    orderlines: list[BMOrderLine] = Field(min_length=1)
    delivery_note: str | None = None
    tracking_number: str | None = None
    is_backship: bool | None = None

    _blanks = field_validator("delivery_note", "tracking_number", "date_shipping", mode="before")(blank_to_none)

    _known_state = field_validator("state")(known("order state", ORDER_STATUS, lambda c: str(sorted(c))))
    _utc = field_validator("date_creation", "date_modification", "date_shipping")(utc_or_none)


class BMDelivery(_Payload):
    """A BackShip delivery: where the shipping label of an order lives."""

    order: StrictInt | None = None
    labelUrl: str | None = None  # noqa: N815 - Back Market's field name
    trackingNumber: str | None = None  # noqa: N815 - Back Market's field name

    _blanks = field_validator("labelUrl", "trackingNumber", mode="before")(blank_to_none)


class BMCareOrder(_Payload):
    order_id: StrictInt | None = None


class BMCareOrderline(_Payload):
    id: StrictInt
    order: BMCareOrder | None = None


class BMCareFolder(_Payload):
    """A care folder: in the list ``orderline`` is the orderline id, in the detail an object."""

    id: StrictInt
    state: StrictInt | None = None
    orderline: StrictInt | BMCareOrderline
    date_modification: datetime | None = None

    _utc = field_validator("date_modification")(utc_or_none)

    @property
    def orderline_id(self) -> int:
        return self.orderline if isinstance(self.orderline, int) else self.orderline.id

    @property
    def order_id(self) -> int | None:
        if isinstance(self.orderline, int) or self.orderline.order is None:
            return None
        return self.orderline.order.order_id


#: the member tags of these models' union fields, left out of the field paths errors name
UNION_TAGS = frozenset({"int", "str", "none", "BMCareOrderline"})
