"""Refurbed's fault modes, on the shared knobs of ``base.faults``:

- ``rate_limit=(n, seconds)``: a fixed window of ``n`` requests; past it, 429 with
  ``{"code": 8, ...}`` (RESOURCE_EXHAUSTED) until the window resets. Every answer carries
  ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (unix seconds, on the
  real clock: a client waits real time). Without a limit the headers describe a window too large
  to reach, as Refurbed publishes no limit;
- ``fail_next`` answers 503 UNAVAILABLE (code 14).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ..base.faults import SimulatedFaults
from .model import RESOURCE_EXHAUSTED, UNAVAILABLE, ApiError

UNLIMITED = (100_000, 60.0)


@dataclass
class Faults(SimulatedFaults):
    _window_start: float = field(default=0.0, repr=False)
    _count: int = field(default=0, repr=False)

    def _restart_window(self) -> None:
        self._window_start, self._count = 0.0, 0

    def _admit(self) -> dict[str, str]:
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
            if self.rate_limit is not None and self._count > limit:
                self.limited += 1
                raise self._with(ApiError(RESOURCE_EXHAUSTED, "rate limit exceeded"), headers)
            return headers

    def _burst(self, headers: dict[str, str]) -> ApiError:
        # A burst is short: its window resets within the second, whatever the long one says.
        short = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(math.ceil(time.time() + 1))}
        return self._with(ApiError(RESOURCE_EXHAUSTED, "rate limit exceeded"), headers | short)

    def _unavailable(self) -> ApiError:
        return ApiError(UNAVAILABLE, "the service is temporarily unavailable")
