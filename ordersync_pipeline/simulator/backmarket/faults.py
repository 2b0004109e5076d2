"""Back Market's fault modes, on the shared knobs of ``base.faults``:

- ``rate_limit=(n, seconds)``: Cloudflare's rate limit, 429 above ``n`` requests in a sliding
  window (``block_seconds``: once limited, every request answers 429 for that long);
- ``order_by``: the order ``/ws/orders`` lists its results in: ``id`` (ascending, the default)
  or ``date_modification`` (ascending, then id). Back Market's document does not say which it
  uses; in the second, an order that changes while a listing is paged moves to its end, and the
  orders after it move back one place.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..base.faults import SimulatedFaults
from .model import ApiError

ORDERINGS = ("id", "date_modification")


@dataclass
class Faults(SimulatedFaults):
    #: once limited (over ``rate_limit``, or by a 429 burst of chaos), every request answers 429
    #: for this long (Cloudflare blocks for about 10 s)
    block_seconds: float = 0.0
    #: the order of ``/ws/orders`` results (one of ``ORDERINGS``)
    order_by: str = "id"
    _hits: deque[float] = field(default_factory=deque, repr=False)
    _blocked_until: float = field(default=0.0, repr=False)

    EXTRA_KNOBS = frozenset({"block_seconds", "order_by"})

    def _check(self, changes: dict[str, Any]) -> None:
        if "order_by" in changes and (changes["order_by"] or "id") not in ORDERINGS:
            raise ValueError(f"order_by must be one of {', '.join(ORDERINGS)}")

    def _configure(self, changes: dict[str, Any]) -> None:
        if "order_by" in changes:
            self.order_by = changes["order_by"] or "id"
        if "block_seconds" in changes:
            self.block_seconds = float(changes["block_seconds"] or 0.0)

    def _describe(self) -> dict[str, Any]:
        return {"block_seconds": self.block_seconds, "order_by": self.order_by}

    def _restart_window(self) -> None:
        self._hits.clear()
        self._blocked_until = 0.0

    def _admit(self) -> dict[str, str]:
        now = time.monotonic()
        with self._lock:
            if now < self._blocked_until:
                self.limited += 1
                raise _too_many()
            if self.rate_limit is None:
                return {}
            limit, window = self.rate_limit
            hits = self._hits
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                self.limited += 1
                if self.block_seconds > 0:
                    self._blocked_until = now + self.block_seconds
                raise _too_many()
            hits.append(now)
            return {}

    def _burst(self, headers: dict[str, str]) -> ApiError:
        with self._lock:
            self.limited += 1
            if self.block_seconds > 0:
                self._blocked_until = time.monotonic() + self.block_seconds
        return _too_many()

    def _unavailable(self) -> ApiError:
        return ApiError(503, "service_unavailable", "The service is temporarily unavailable.")


def _too_many() -> ApiError:
    return ApiError(429, "too_many_requests", "Too many requests. Client has been rate limited.")
