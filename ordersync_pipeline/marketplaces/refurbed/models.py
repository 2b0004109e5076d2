"""Pydantic models of the Refurbed payloads the adapter reads, and how their states map.

Refurbed's API is gRPC behind a JSON gateway: int64 ids travel as JSON strings, enums as their
names, money as decimal strings, times as RFC 3339. Those types are held strictly: a JSON number
where the document says "string, int64" means the payload is not what we think it is. Only the
fields the adapter uses are declared; unknown ones are ignored, as Refurbed adds fields over time.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, field_validator

from ordersync_pipeline.marketplaces.base import Status
from ordersync_pipeline.marketplaces.parsing import blank_to_none, known, utc_or_none

# OrderItemState (document): NEW waits for the merchant; REJECTED and CANCELLED end it unshipped
# (rejected by the merchant, cancelled by the customer); SHIPPED may still become RETURNED.
ITEM_STATUS: dict[str, Status] = {
    "NEW": Status.PAID,
    "ACCEPTED": Status.ACCEPTED,
    "REJECTED": Status.CANCELLED,
    "CANCELLED": Status.CANCELLED,
    "SHIPPED": Status.SHIPPED,
    "RETURNED": Status.RETURNED,
}

# OrderState (document), computed by Refurbed from the items' states.
ORDER_STATUS: dict[str, Status] = {
    "NEW": Status.PAID,  # at least one item still NEW
    "ACCEPTED": Status.ACCEPTED,  # at least one item ACCEPTED, none NEW
    "SHIPPED": Status.SHIPPED,  # every item SHIPPED
    "FULFILLED": Status.SHIPPED,  # every item SHIPPED or RETURNED: the order went out
    "PARTIALLY_FULFILLED": Status.SHIPPED,  # some items went out, the others were rejected or cancelled
    "REJECTED": Status.CANCELLED,
    "CANCELLED": Status.CANCELLED,
    "UNFULFILLED": Status.CANCELLED,  # every item REJECTED or CANCELLED
    "RETURNED": Status.RETURNED,  # every item RETURNED
}

# Order states whose items can still move to something other than RETURNED: the modified sync
# re-reads every order in them, whatever its age. Orders with a partial label (PARTIALLY_SHIPPED,
# PARTIALLY_CANCELLED...) and an item still open are in one of these states too.
OPEN_ORDER_STATES = ("NEW", "ACCEPTED")

# Items that will never ship, hence never get a parcel tracking URL.
UNSHIPPED_ENDS = frozenset({"REJECTED", "CANCELLED"})

_INT64 = re.compile(r"^-?\d{1,19}$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


def _int64(value: str) -> str:
    if not _INT64.match(value):
        raise ValueError("must be an int64 id as a decimal string")
    return value


def _money(value: Any) -> Decimal:
    if not isinstance(value, str) or not _DECIMAL.match(value.strip()):
        raise ValueError("must be a decimal string such as '199.00'")
    return Decimal(value.strip())


Id = Annotated[StrictStr, AfterValidator(_int64)]
Money = Annotated[Decimal, BeforeValidator(_money)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RBOfferData(_Payload):
    offer_id: Id | None = None

    _blank = field_validator("offer_id", mode="before")(blank_to_none)


class RBOrderItem(_Payload):
    id: Id
    state: StrictStr
    # "can be empty string" (document): an offer made without a SKU. The item is kept, and
    # flagged, since no unit can be locked for it.
    sku: StrictStr = ""
    total_charged: Money
    offer_data: RBOfferData | None = None
    parcel_tracking_url: StrictStr | None = None

    _blank = field_validator("parcel_tracking_url", mode="before")(blank_to_none)

    _known_state = field_validator("state")(known("order item state", ITEM_STATUS))

    @property
    def status(self) -> Status:
        return ITEM_STATUS[self.state]

    @property
    def offer_id(self) -> str | None:
        return self.offer_data.offer_id if self.offer_data else None


class RBOrder(_Payload):
    id: Id
    released_at: datetime
    state: StrictStr
    labels: list[StrictStr] | None = None
    currency_code: StrictStr = Field(pattern=r"^[A-Z]{3}$")
    total_charged: Money
    items: list[RBOrderItem] = Field(min_length=1)

    _known_state = field_validator("state")(known("order state", ORDER_STATUS))
    _utc = field_validator("released_at")(utc_or_none)

    def tracking(self) -> str | None:
        """The parcel tracking URL, once every item that can ship has one; else None.

        Refurbed flags the gap with the MISSING_PARCEL_TRACKING_URLS label, but that label also
        stays on orders whose rejected or cancelled items will never get a URL, so the items
        themselves decide. An order whose items went into several parcels gets the first URL.
        """
        live = [item for item in self.items if item.state not in UNSHIPPED_ENDS]
        if not live or any(item.parcel_tracking_url is None for item in live):
            return None
        return live[0].parcel_tracking_url
