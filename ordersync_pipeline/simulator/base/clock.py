"""A simulated account's clock: real time (from a start in the past, if given) plus the minutes
``advance`` added, and what is due on it.

Events are timed on the simulated seconds elapsed, not on the wall clock, so the same seed and
the same calls give the same states. The world's lock guards the clock.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator
from datetime import UTC, datetime


class Clock:
    def __init__(self, start: datetime | None = None) -> None:
        #: where the clock stood against the real one when it started (a start in the past is behind it)
        self._offset = 0 if start is None else int(start.timestamp() - time.time())
        #: simulated seconds added by ``move``
        self.elapsed = 0
        self._last_ts = 0
        self._events: list[tuple[int, int, str, int]] = []
        self._seq = 0

    def now_ts(self) -> int:
        """Simulated now in epoch seconds; never earlier than it said before."""
        ts = int(time.time()) + self._offset + self.elapsed
        if ts < self._last_ts:
            ts = self._last_ts
        self._last_ts = ts
        return ts

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ts(), UTC)

    def move(self, seconds: int) -> None:
        self.elapsed += seconds

    def schedule(self, delay: int, kind: str, order_id: int) -> None:
        """Plan ``kind`` for an order ``delay`` simulated seconds from now."""
        self._seq += 1
        heapq.heappush(self._events, (self.elapsed + delay, self._seq, kind, order_id))

    def due(self) -> Iterator[tuple[str, int]]:
        """(kind, order id) of every planned event whose time has come, in time order."""
        events = self._events
        while events and events[0][0] <= self.elapsed:
            _, _, kind, order_id = heapq.heappop(events)
            yield kind, order_id
