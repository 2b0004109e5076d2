"""JSON payloads as Refurbed's Swagger document shapes them.

Field names in snake_case, int64 ids as strings, enums as names, money as decimal strings, times
as RFC 3339; unset strings are served as "" and unset lists as [], as the gateway emits them.
"""

from __future__ import annotations

import copy
from typing import Any

from ..base.catalogue import FIRST_NAMES, LAST_NAMES, STREETS
from ..base.values import DELETE, money
from .model import SHIPPED, Item, Offer, Order, fmt_ts

CURRENCY = "EUR"
TOWNS = {
    "DE": (("Berlin", "10115"), ("Hamburg", "20095"), ("München", "80331")),
    "AT": (("Wien", "1010"), ("Graz", "8010")),
    "FR": (("Paris", "75011"), ("Lyon", "69002")),
    "IT": (("Roma", "00184"), ("Milano", "20121")),
    "NL": (("Amsterdam", "1011"), ("Utrecht", "3511")),
}
COMMISSION = 0.1  # of what the customer was charged


def address(customer: int, country: str) -> dict[str, Any]:
    """A customer's address, derived from the customer number alone (nothing stored per order)."""
    towns = TOWNS.get(country, TOWNS["DE"])
    town, post_code = towns[(customer // 3) % len(towns)]
    return {
        "first_name": FIRST_NAMES[customer % len(FIRST_NAMES)],
        "family_name": LAST_NAMES[(customer // 7) % len(LAST_NAMES)],
        "entity": ("MALE", "FEMALE")[customer % 2],
        "company_name": "",
        "company_vatin": "",
        "personal_vatin": "",
        "country_code": country,
        "post_code": post_code,
        "town": town,
        "street_name": STREETS[customer % len(STREETS)],
        "house_no": str(customer % 180 + 1),
        "supplement": "",
        "phone_number": f"+4915{customer % 100_000_000:08d}",
    }


def item_payload(item: Item, country: str) -> dict[str, Any]:
    charged = money(item.price_cents)
    paid = money(item.price_cents - item.refunded_cents)
    refunded = money(item.refunded_cents)
    identifiers = [{"identifier_type": "IMEI", "value": item.identifier}] if item.identifier else []
    return {
        "id": str(item.id),
        "order_id": str(item.order_id),
        "name": item.name,
        "state": item.state,
        "sku": item.sku,
        "currency_code": CURRENCY,
        "settlement_currency_code": CURRENCY,
        "total_charged": charged,
        "settlement_total_charged": charged,
        "total_discount": "0.00",
        "settlement_total_discount": "0.00",
        "total_charged_dynamic": "0.00",
        "settlement_total_charged_dynamic": "0.00",
        "total_paid": paid,
        "settlement_total_paid": paid,
        "total_refunded": refunded,
        "settlement_total_refunded": refunded,
        "settlement_total_commission": money(int(item.price_cents * COMMISSION)),
        "taxation": "MARGINAL",
        "is_refundable": item.refunded_cents < item.price_cents,
        "refund_eligibility": "ELIGIBLE" if item.refunded_cents < item.price_cents else "INELIGIBLE_ALREADY_REFUNDED",
        "offer_data": {
            "offer_id": "" if item.offer_id is None else str(item.offer_id),
            "offer_version": "1",
            "offer_warranty": "M12",
            "offer_grading": item.grading,
            "shipping_profile_id": "501",
            "shipping_costs": "0.00",
        },
        "parcel_tracking_url": item.tracking_url,
        "return_shipment_tracking_url": "",
        "item_identifier": item.identifier,
        "item_identifiers": identifiers,
        "shipment_status": "IN_TRANSIT" if item.state == SHIPPED else "UNSPECIFIED",
        "return_initiated": False,
        "vat_rate": "0",
        "vat_country": country,
        "vat_charged": "0.00",
        "settlement_vat_charged": "0.00",
    }


def order_payload(order: Order) -> dict[str, Any]:
    charged = sum(item.price_cents for item in order.items) + order.shipping_cents
    refunded = sum(item.refunded_cents for item in order.items)
    shipping = address(order.customer, order.country)
    payload = {
        "id": str(order.id),
        "released_at": fmt_ts(order.released),
        "state": order.state,
        "labels": order.labels(),
        "customer_email": f"customer.{order.customer}@example.com",
        "shipping_address": shipping,
        "invoice_address": shipping,
        "currency_code": CURRENCY,
        "settlement_currency_code": CURRENCY,
        "settlement_exchange_rate": "1",
        "total_charged": money(charged),
        "settlement_total_charged": money(charged),
        "total_discount": "0.00",
        "settlement_total_discount": "0.00",
        "total_paid": money(charged - refunded),
        "settlement_total_paid": money(charged - refunded),
        "total_refunded": money(refunded),
        "settlement_total_refunded": money(refunded),
        "total_vat_charged": "0.00",
        "settlement_total_vat_charged": "0.00",
        "is_refundable": refunded < charged,
        "refund_eligibility": "ELIGIBLE" if refunded < charged else "INELIGIBLE_ALREADY_REFUNDED",
        "is_invoiceable": True,
        "has_invoice": False,
        "items": [item_payload(item, order.country) for item in order.items],
        "shipping_label_address": shipping,
        "payment_method": "STRIPE_CARDS",
    }
    if order.overrides:
        apply_overrides(payload, order.overrides)
    return payload


def offer_payload(offer: Offer) -> dict[str, Any]:
    return {
        "id": str(offer.id),
        "version": str(offer.version),
        "is_current": True,
        "created_at": fmt_ts(offer.created),
        "instance_id": str(offer.id + 7_000_000),
        "instance_name": offer.title,
        "state": "OK",
        "sku": offer.sku,
        "grading": offer.grading,
        "warranty": "M12",
        "stock": offer.quantity,
        "shipping_profile_id": "501",
        "shipping_profile_name": "Standard",
        "taxation": "MARGINAL",
        "real_taxation": "MARGINAL",
        "reference_currency_code": CURRENCY,
        "reference_price": str(offer.price),
        "set_market_prices": [],
        "calculated_market_prices": [],
    }


def apply_overrides(payload: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Corrupt a served payload: each key is a dotted path (``items.0.total_charged``); a dict value
    merges into what is there; ``DELETE`` removes the key."""
    for key, value in overrides.items():
        _apply(payload, str(key).split("."), value)


def _apply(target: Any, path: list[str], value: Any) -> None:
    for part in path[:-1]:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    last: Any = int(path[-1]) if isinstance(target, list) else path[-1]
    if value is DELETE:
        if isinstance(target, list):
            del target[last]
        else:
            target.pop(last, None)
        return
    current = target[last] if isinstance(target, list) or last in target else None
    if isinstance(value, dict) and isinstance(current, dict | list):
        for key, inner in value.items():
            _apply(current, [str(key)], inner)
    else:
        target[last] = copy.deepcopy(value)
