"""JSON payloads as Back Market's OpenAPI document shapes them (snake_case, decimal strings, RFC 3339)."""

from __future__ import annotations

import copy
from typing import Any

from ..base.values import DELETE, DELETE_JSON, money
from .data import CARE_ISSUES, CONDITIONS, GRADES, LISTING_STATES, MERCHANT_ID, address, carrier
from .model import CareFolder, Line, Listing, Order, fmt_ts

EXPECTED_DISPATCH_SECONDS = 2 * 86400


def absolute(url: str, base_url: str) -> str:
    return f"{base_url}{url}" if url.startswith("/") else url


def line_payload(line: Line, listing: Listing | None) -> dict[str, Any]:
    total = line.price_cents * line.quantity
    grade = listing.grade if listing else "A"
    return {
        "id": line.id,
        "date_creation": fmt_ts(line.created),
        "state": line.state,
        "price": money(line.price_cents),
        "shipping_price": "0.00",
        "shipping_delay": 48,
        "currency": "EUR",
        "return_reason": line.return_reason,
        "return_message": line.return_message,
        "listing": line.sku,
        "listing_id": listing.listing_id if listing else None,
        "orderline_fee": money(total // 10),
        "product": listing.title if listing else line.sku,
        "quantity": line.quantity,
        "brand": listing.brand if listing else "",
        "product_id": listing.backmarket_id if listing else None,
        "backcare": False,
        "backcare_price": 0,
        "sales_taxes": "0.00",
        "imei": line.imei,
        "serial_number": "",
        "condition": CONDITIONS.get(grade, 10),
    }


def order_payload(order: Order, listings: dict[str, Listing], base_url: str) -> dict[str, Any]:
    addr = address(order.customer, order.country)
    shipper, shipper_display, _ = carrier(order.order_id)
    payload = {
        "order_id": order.order_id,
        "merchant_id": MERCHANT_ID,
        "state": order.state,
        "date_creation": fmt_ts(order.created),
        "date_modification": fmt_ts(order.modified),
        "date_payment": fmt_ts(order.paid),
        "date_shipping": fmt_ts(order.shipped),
        "expected_dispatch_date": None
        if order.shipped is not None
        else fmt_ts(order.created + EXPECTED_DISPATCH_SECONDS),
        "shipping_address": addr,
        "billing_address": dict(addr),
        "delivery_note": absolute(order.delivery_note, base_url),
        "tracking_number": order.tracking_number,
        "tracking_url": order.tracking_url,
        "shipper": order.shipper or shipper,
        "shipper_display": shipper_display,
        "is_backship": True,
        "price": money(sum(line.price_cents * line.quantity for line in order.lines)),
        "shipping_price": "0.00",
        "currency": "EUR",
        "country_code": order.country,
        "paypal_reference": None,
        "installment_payment": False,
        "payment_method": order.payment_method,
        "sales_taxes": "0.00",
        "orderlines": [line_payload(line, listings.get(line.sku)) for line in order.lines],
    }
    if order.overrides:
        apply_overrides(payload, order.overrides)
    return payload


def _is_delete(value: Any) -> bool:
    return value is DELETE or (isinstance(value, str) and value == DELETE_JSON)


def _override(target: dict[str, Any], overrides: dict[str, Any]) -> None:
    for key, value in overrides.items():
        if _is_delete(value):
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(value)


def apply_overrides(payload: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Top-level keys replace (or, with ``DELETE``, remove) the served ones. ``orderlines`` may be a
    full replacement list, or a dict {line index or line id: {field: value}} patching single lines."""
    for key, value in overrides.items():
        if key == "orderlines" and isinstance(value, dict):
            lines = payload.get("orderlines") or []
            for ref, patch in value.items():
                ref = int(ref)
                for index, line in enumerate(lines):
                    if line.get("id") == ref or (ref < len(lines) and index == ref):
                        _override(line, patch)
                        break
        elif _is_delete(value):
            payload.pop(key, None)
        else:
            payload[key] = copy.deepcopy(value)


def delivery_payload(order: Order, base_url: str) -> dict[str, Any]:
    _, carrier_name, tracking_base = carrier(order.order_id)
    number = order.tracking_number or f"6A{order.order_id:011d}"
    created = order.modified if order.shipped is None else order.shipped
    return {
        "order": order.order_id,
        "shipmentId": order.order_id * 10 + 1,
        "carrierId": 1 + order.order_id % 2,
        "orderlines": [line.id for line in order.lines],
        "referenceNumber": str(order.order_id),
        "trackingNumber": number,
        "trackingUrl": f"{tracking_base}{number}",
        "carrierName": carrier_name,
        "hubScanned": order.shipped is not None,
        "invoicedCurrency": "EUR",
        "invoicedPrice": 6,
        "datePickup": fmt_ts(order.shipped),
        "dateCreation": fmt_ts(created),
        "dateDelivery": None,
        "labelUrl": order.label,
        "type": "DELIVERY",
        "pickupInfo": None,
    }


def care_summary(care: CareFolder, order: Order) -> dict[str, Any]:
    """One entry of ``GET /ws/sav`` (schema ``careFolder``: ``orderline`` is the orderline id)."""
    return {
        "id": care.id,
        "client": order.customer,
        "merchant": MERCHANT_ID,
        "orderline": care.orderline_id,
        "date_creation": fmt_ts(care.created),
        "date_modification": fmt_ts(care.modified),
        "date_last_message": fmt_ts(care.last_message),
        "date_closed": fmt_ts(care.closed),
        "state": care.state,
        "lines": [care.claim_id],
        "country_code": order.country,
        "backcare": False,
    }


def care_detail(care: CareFolder, order: Order, line: Line, listing: Listing | None) -> dict[str, Any]:
    """``GET /ws/sav/{id}`` (schema ``getCareFolderDetailsResponse``)."""
    addr = address(order.customer, order.country)
    _, shipper_display, _ = carrier(order.order_id)
    issue, tag = CARE_ISSUES[care.claim_id % len(CARE_ISSUES)]
    return {
        "backcare": False,
        "client": {
            "id": 0,
            "username": "",
            "first_name": addr["first_name"],
            "last_name": addr["last_name"],
            "email": addr["email"],
        },
        "country_code": order.country,
        "date_closed": fmt_ts(care.closed),
        "date_creation": fmt_ts(care.created),
        "date_last_message": fmt_ts(care.last_message),
        "date_modification": fmt_ts(care.modified),
        "id": care.id,
        "lines": [
            {
                "id": care.claim_id,
                "issues": [{"customerIssue": issue, "tag": tag}],
                "state": care.state,
                "resolution_choice": care.resolution,
                "declared_warranty_state": "IN_WARRANTY",
                "return_labels": [],
            }
        ],
        "merchant": {"id": MERCHANT_ID, "username": "seller@example.com", "first_name": "", "last_name": ""},
        "messages": [
            {
                "id": message_id,
                "message": text,
                "date_creation": fmt_ts(ts),
                "attachments": [],
                "initiator": initiator,
                "kind": "CUSTOMER_TO_MERCHANT" if initiator == "Customer" else "BACKMARKET_TO_ALL",
                "is_informative": False,
            }
            for message_id, ts, initiator, text in care.messages
        ],
        "orderline": {
            "id": line.id,
            "order": {
                "order_id": order.order_id,
                "shipping_address": addr,
                "billing_address": dict(addr),
                "tracking_number": order.tracking_number,
                "tracking_url": order.tracking_url,
                "shipper": 1 + order.order_id % 2,
                "shipper_display": shipper_display,
                "date_creation": fmt_ts(order.created),
                "date_modification": fmt_ts(order.modified),
                "date_shipping": fmt_ts(order.shipped),
                "date_payment": fmt_ts(order.paid),
                "state": order.state,
                "price": money(sum(item.price_cents * item.quantity for item in order.lines)),
                "shipping_price": "0.00",
                "currency": "EUR",
                "country_code": order.country,
            },
            "snapshot": {
                "id": 0,
                "product": {"product_id": listing.backmarket_id if listing else 0, "category_3": None},
                "listing": listing.listing_id if listing else 0,
                "sku": line.sku,
                "image": "",
            },
            "quantity": line.quantity,
            "price": money(line.price_cents),
            "state": line.state,
        },
        "state": care.state,
    }


def listing_payload(listing: Listing) -> dict[str, Any]:
    """``ListingPublic`` plus ``statuscode``, as both the GET and the POST answer it."""
    return {
        "id": listing.uuid,
        "listing_id": listing.listing_id,
        "product_id": listing.product_uuid,
        "backmarket_id": listing.backmarket_id,
        "title": listing.title,
        "shippings": [],
        "state": LISTING_STATES.get(listing.grade, 0),
        "grade": GRADES.get(listing.grade, "EXCELLENT"),
        "quantity": listing.quantity,
        "currency": "EUR",
        "sku": listing.sku,
        "publication_state": 2 if listing.quantity > 0 else 3,
        "warranty_delay": 12,
        "price": money(int(listing.price * 100)),
        "comment": None,
        "max_price": money(int(listing.price * 150)),
        "min_price": None,
        "statuscode": 200,
    }
