"""Fault modes of the simulated API, consulted once per ``/ws/`` request before it is answered.

Today: a fixed latency and Cloudflare's rate limit (429 above N requests in a sliding window).
Further modes (5xx bursts, malformed bodies, timeouts) belong in ``Faults.before_request``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .model import ApiError


@dataclass
class Faults:
    #: seconds slept before answering each /ws/ request
    latency: float = 0.0
    #: (requests, seconds): more than that many requests in the sliding window answer 429
    rate_limit: tuple[int, float] | None = None
    #: once limited, every request answers 429 for this long (Cloudflare blocks for about 10 s)
    block_seconds: float = 0.0
    limited: int = 0
    _hits: deque[float] = field(default_factory=deque, repr=False)
    _blocked_until: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def configure(self, **changes: Any) -> None:
        """Change knobs at run time (the control API calls this)."""
        with self._lock:
            if "latency" in changes:
                self.latency = float(changes["latency"] or 0.0)
            if "rate_limit" in changes:
                limit = changes["rate_limit"]
                self.rate_limit = (int(limit[0]), float(limit[1])) if limit else None
                self._hits.clear()
                self._blocked_until = 0.0
            if "block_seconds" in changes:
                self.block_seconds = float(changes["block_seconds"] or 0.0)

    def describe(self) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "rate_limit": list(self.rate_limit) if self.rate_limit else None,
            "block_seconds": self.block_seconds,
            "limited": self.limited,
        }

    def before_request(self, method: str, path: str) -> None:
        """Sleep, or raise the ``ApiError`` the request must be answered with instead."""
        if self.latency > 0:
            time.sleep(self.latency)
        if self.rate_limit is None:
            return
        limit, window = self.rate_limit
        now = time.monotonic()
        with self._lock:
            if now < self._blocked_until:
                self.limited += 1
                raise _too_many()
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
