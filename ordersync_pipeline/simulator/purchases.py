"""A customer buying one unit on a simulated marketplace, refused when the listing stands at 0.

That refusal is what the marketplaces do, and what makes a last unit sold twice countable: both
purchases went through only if the second marketplace still listed the unit when it was bought.
"""

from __future__ import annotations

from typing import Any

#: the state a new paid order's items are created in, per simulator kind
PAID = {"backmarket": 1, "refurbed": "NEW"}


def purchase(world: Any, kind: str, sku: str) -> int | None:
    """Buy one unit of ``sku``: the new order's id, or None when the listing is at 0."""
    with world.lock:
        if world.listing_quantity(sku) <= 0:
            return None
        return world.create_order(lines=[{"sku": sku, "quantity": 1}], state=PAID[kind])
