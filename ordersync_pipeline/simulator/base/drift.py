"""What happens to listings behind the seller's back, as both marketplaces' worlds simulate it:
pushes answered but not applied, and orders that land while the listings are being read."""

from __future__ import annotations

import threading
from typing import Any


class ListingDriftBase:
    def __init__(self) -> None:
        #: listing id -> pushes still to answer without applying them
        self.ignored_pushes: dict[int, int] = {}
        #: orders (their lines) that arrive with the next read of the listings
        self.orders_on_read: list[list[dict[str, Any]]] = []
        self._lock = threading.Lock()

    def swallows_push(self, listing_id: int) -> bool:
        with self._lock:
            left = self.ignored_pushes.get(listing_id, 0)
            if left <= 0:
                return False
            self.ignored_pushes[listing_id] = left - 1
            return True

    def take_orders_on_read(self) -> list[list[dict[str, Any]]]:
        with self._lock:
            orders, self.orders_on_read = self.orders_on_read, []
            return orders
