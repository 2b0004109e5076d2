"""Fault modes of the simulated API, consulted once per ``/ws/`` request before it is answered.

- ``latency``: seconds slept before answering;
- ``rate_limit=(n, seconds)``: Cloudflare's rate limit, 429 above ``n`` requests in a sliding
  window (``block_seconds``: once limited, every request answers 429 for that long);
- ``fail_next``: that many next requests answer 503, for retry tests;
- ``order_by``: the order ``/ws/orders`` lists its results in: ``id`` (ascending, the default)
  or ``date_modification`` (ascending, then id). Back Market's document does not say which it
  uses; in the second, an order that changes while a listing is paged moves to its end, and the
  orders after it move back one place;
- the seeded modes of ``simulator.chaos`` (429 bursts, a 5xx rate, timeouts, truncated and
  malformed bodies, an order changing between two pages), off by default.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from ..chaos import Chaos
from .model import LINE_ACCEPTED, LINE_CANCELLED, LINE_PAID, LINE_REFUNDED_AFTER, LINE_SHIPPED, ApiError

# How an order moves on when it changes between two pages: each line state's usual next step.
_NEXT_STATE = {LINE_PAID: LINE_CANCELLED, LINE_ACCEPTED: LINE_SHIPPED, LINE_SHIPPED: LINE_REFUNDED_AFTER}
ORDERINGS = ("id", "date_modification")


@dataclass
class Faults:
    #: seconds slept before answering each /ws/ request
    latency: float = 0.0
    #: (requests, seconds): more than that many requests in the sliding window answer 429
    rate_limit: tuple[int, float] | None = None
    #: once limited (over ``rate_limit``, or by a 429 burst of chaos), every request answers 429
    #: for this long (Cloudflare blocks for about 10 s)
    block_seconds: float = 0.0
    fail_next: int = 0
    #: the order of ``/ws/orders`` results (one of ``ORDERINGS``)
    order_by: str = "id"
    limited: int = 0
    #: /ws/ requests that reached the server, by path
    requests: Counter = field(default_factory=Counter)
    chaos: Chaos = field(default_factory=Chaos)
    _hits: deque[float] = field(default_factory=deque, repr=False)
    _blocked_until: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def configure(self, **changes: Any) -> None:
        """Change knobs at run time (the control API calls this)."""
        unknown = set(changes) - {"latency", "rate_limit", "block_seconds", "fail_next", "order_by"} - Chaos.KNOBS
        if unknown:
            raise ValueError(f"unknown fault knob(s): {', '.join(sorted(unknown))}")
        if "order_by" in changes and (changes["order_by"] or "id") not in ORDERINGS:
            raise ValueError(f"order_by must be one of {', '.join(ORDERINGS)}")
        self.chaos.configure(changes)
        with self._lock:
            if "order_by" in changes:
                self.order_by = changes["order_by"] or "id"

            if "latency" in changes:
                self.latency = float(changes["latency"] or 0.0)
            if "rate_limit" in changes:
                limit = changes["rate_limit"]
                self.rate_limit = (int(limit[0]), float(limit[1])) if limit else None
                self._hits.clear()
                self._blocked_until = 0.0
            if "block_seconds" in changes:
                self.block_seconds = float(changes["block_seconds"] or 0.0)
            if "fail_next" in changes:
                self.fail_next = max(0, int(changes["fail_next"] or 0))

    def describe(self) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "rate_limit": list(self.rate_limit) if self.rate_limit else None,
            "block_seconds": self.block_seconds,
            "fail_next": self.fail_next,
            "order_by": self.order_by,
            "limited": self.limited,
            **self.chaos.describe(),
        }

    def before_request(self, method: str, path: str, target: str | None = None) -> str | None:
        """Sleep, or raise the ``ApiError`` the request must be answered with instead.

        Returns what the handler must do to the answer itself: ``timeout`` (answer late),
        ``hang`` (close without answering), ``truncate`` or ``malformed`` (spoil the body); else None.
        """
        with self._lock:
            self.requests[path] += 1
        if self.latency > 0:
            time.sleep(self.latency)
        self._rate_limit()
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                raise _unavailable()
        fault = self.chaos.decide(target or path)
        if fault == "burst":
            with self._lock:
                self.limited += 1
                if self.block_seconds > 0:
                    self._blocked_until = time.monotonic() + self.block_seconds
            raise _too_many()
        if fault == "error":
            raise _unavailable()
        return fault

    def between_pages(self, world: Any, target: str, served: list[int] | None = None) -> None:
        """After a listing page with more to come: maybe change one order before the next page.

        The order is one of the page just ``served`` when one of them can move on (a listing by
        modification date then shifts under the client), else any order of the account."""
        if not self.chaos.change_now(target):
            return
        with world.lock:
            movable: list[tuple[int, int]] = []
            for candidates in (served or [], world._ids):
                movable = [
                    (order_id, line.id)
                    for order_id in candidates
                    for line in world._orders[order_id].lines[:1]
                    if line.state in _NEXT_STATE
                ]
                if movable:
                    break
            picked = self.chaos.pick(movable)
            if picked is not None:
                line = world._lines[picked[1]]
                world.set_line_state(picked[0], picked[1], _NEXT_STATE[line.state])
                self.chaos.changed()

    def _rate_limit(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now < self._blocked_until:
                self.limited += 1
                raise _too_many()
            if self.rate_limit is None:
                return
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


def _too_many() -> ApiError:
    return ApiError(429, "too_many_requests", "Too many requests. Client has been rate limited.")


def _unavailable() -> ApiError:
    return ApiError(503, "service_unavailable", "The service is temporarily unavailable.")
