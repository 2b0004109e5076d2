"""Order events: what a change of an order is recorded as, with a deterministic key.

The key makes an event idempotent: a replayed sync, an overlapping window or two runs at once
compute the same key for the same transition, and the unique index keeps one row.
"""

from __future__ import annotations

import hashlib
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from ordersync_pipeline.marketplaces.base import Order, Status

ORDER_CREATED = "OrderCreated"
ORDER_STATUS_CHANGED = "OrderStatusChanged"

# A state vector: the order's status and each item's status, in a fixed order.
StateVector = tuple[str, tuple[tuple[str, str], ...]]


def state_vector(order_status: str, item_statuses: dict[str, str]) -> StateVector:
    return (order_status, tuple(sorted(item_statuses.items())))


def opening_status(status: str) -> Status:
    """Give the status an order's history starts from: every order is created pending payment or paid."""
    return Status.PENDING_PAYMENT if status == Status.PENDING_PAYMENT else Status.PAID


def created_key(marketplace_id: int, reference: str) -> str:
    return f"{marketplace_id}:{reference}:{ORDER_CREATED}"


def status_changed_key(marketplace_id: int, reference: str, before: StateVector, after: StateVector) -> str:
    # The digest of ``json.dumps([before, after])``: keys written by earlier versions must come out
    # the same. The text is built directly (json.dumps was a tenth of a first sync's own time).
    text = f"[{_vector_json(before)}, {_vector_json(after)}]"
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    return f"{marketplace_id}:{reference}:{ORDER_STATUS_CHANGED}:{digest}"


def _vector_json(vector: StateVector) -> str:
    """``json.dumps(vector)``, exactly: strings quoted as it quotes them (ASCII, escaped)."""
    status, items = vector
    pairs = ", ".join(f"[{_quote(ref)}, {_quote(item_status)}]" for ref, item_status in items)
    return f"[{_quote(status)}, [{pairs}]]"


def payload(marketplace_id: int, order: Order, item_statuses: dict[str, str] | None = None) -> dict[str, Any]:
    """Make the event body: the order and its items as of the change (statuses may be overridden)."""
    statuses = item_statuses or {}
    return {
        "marketplace_id": marketplace_id,
        "reference": order.reference,
        "items": [
            {
                "reference": item.reference,
                "sku": item.sku,
                "quantity": item.quantity,
                "status": str(statuses.get(item.reference, item.status)),
            }
            for item in order.items
        ],
    }
