"""Fault modes of the simulated API, consulted once per API request before it is answered.

- ``latency``: seconds slept before answering;
- ``rate_limit=(n, seconds)``: a fixed window of ``n`` requests; past it, 429 with
  ``{"code": 8, ...}`` (RESOURCE_EXHAUSTED) until the window resets. Every answer carries
  ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (unix seconds, on the
  real clock: a client waits real time). Without a limit the headers describe a window too large
  to reach, as Refurbed publishes no limit;
- ``fail_next``: that many next requests answer 503 UNAVAILABLE (code 14), for retry tests;
- the seeded modes of ``simulator.chaos`` (429 bursts, a 5xx rate, timeouts, truncated and
  malformed bodies, an order changing between two pages), off by default.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..chaos import Chaos
from .model import RESOURCE_EXHAUSTED, UNAVAILABLE, ApiError

UNLIMITED = (100_000, 60.0)
# How an order moves on when it changes between two pages: each item state's usual next step.
_NEXT_STATE = {"NEW": "REJECTED", "ACCEPTED": "SHIPPED", "SHIPPED": "RETURNED"}


@dataclass
class Faults:
    latency: float = 0.0
    rate_limit: tuple[int, float] | None = None
    fail_next: int = 0
    #: requests answered 429 since the start
    limited: int = 0
    #: API requests that reached the server, by path
    requests: Counter = field(default_factory=Counter)
    chaos: Chaos = field(default_factory=Chaos)
    _window_start: float = field(default=0.0, repr=False)
    _count: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def configure(self, **changes: Any) -> None:
        """Change knobs at run time (the control API calls this)."""
        unknown = set(changes) - {"latency", "rate_limit", "fail_next"} - Chaos.KNOBS
        if unknown:
            raise ValueError(f"unknown fault knob(s): {', '.join(sorted(unknown))}")
        self.chaos.configure(changes)
        with self._lock:
            if "latency" in changes:
                self.latency = float(changes["latency"] or 0.0)
            if "rate_limit" in changes:
                limit = changes["rate_limit"]
                self.rate_limit = (int(limit[0]), float(limit[1])) if limit else None
                self._window_start, self._count = 0.0, 0
            if "fail_next" in changes:
                self.fail_next = max(0, int(changes["fail_next"] or 0))

    def describe(self) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "rate_limit": list(self.rate_limit) if self.rate_limit else None,
            "fail_next": self.fail_next,
            "limited": self.limited,
            **self.chaos.describe(),
        }

    def before_request(self, target: str = "") -> tuple[dict[str, str], str | None]:
        """The rate-limit headers for this answer, and what the handler must do to the answer
        itself: ``timeout`` (answer late), ``hang`` (close without answering), ``truncate`` or
        ``malformed`` (spoil the body), or None. Raises the ``ApiError`` to answer instead, if any.

        The raised error carries the headers too (``exc.headers``): a 429 says when to come back.
        """
        with self._lock:
            self.requests[target] += 1
        if self.latency > 0:
            time.sleep(self.latency)
        limit, window = self.rate_limit or UNLIMITED
        now = time.time()
        with self._lock:
            if not self._window_start or now >= self._window_start + window:
                self._window_start, self._count = now, 0
            self._count += 1
            headers = {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(max(0, limit - self._count)),
                # rounded up: a client that waits until Reset never comes back early
                "X-RateLimit-Reset": str(math.ceil(self._window_start + window)),
            }
            error = None
            if self.rate_limit is not None and self._count > limit:
                self.limited += 1
                error = ApiError(RESOURCE_EXHAUSTED, "rate limit exceeded")
            elif self.fail_next > 0:
                self.fail_next -= 1
                error = ApiError(UNAVAILABLE, "the service is temporarily unavailable")
        fault = self.chaos.decide(target) if error is None else None
        if fault == "burst":
            # A burst is short: its window resets within the second, whatever the long one says.
            headers = headers | {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(math.ceil(now + 1))}
            error = ApiError(RESOURCE_EXHAUSTED, "rate limit exceeded")
        elif fault == "error":
            error = ApiError(UNAVAILABLE, "the service is temporarily unavailable")
        if error is not None:
            error.headers = headers
            raise error
        return headers, fault

    def between_pages(self, world: Any, target: str, served: list[int] | None = None) -> None:
        """After a listing page with more to come: maybe change one order before the next page.

        The order is one of the page just ``served`` when one of them can move on (in a listing
        paged by offset, the orders after it would move), else any order of the account."""
        if not self.chaos.change_now(target):
            return
        with world.lock:
            movable: list[tuple[int, int]] = []
            for candidates in (served or [], world._ids):
                movable = [
                    (order_id, item.id)
                    for order_id in candidates
                    if order_id in world._orders
                    for item in world._orders[order_id].items[:1]
                    if item.state in _NEXT_STATE
                ]
                if movable:
                    break
            picked = self.chaos.pick(movable)
            if picked is not None:
                item = world._items[picked[1]]
                world.set_item_state(picked[0], picked[1], _NEXT_STATE[item.state])
                self.chaos.changed()
