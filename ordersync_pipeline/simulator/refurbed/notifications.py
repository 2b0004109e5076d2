"""Refurbed's Instant Order Notifications, as the simulator sends them.

Refurbed POSTs ``{"order_id": <int>}`` to the seller's URL seconds after an order is released,
at least once, and retries for up to two days while the answer is not 2xx or the URL cannot be
reached. This sender does the same, on a thread of its own: each order is sent after a random
``delay``, a share of them (``duplicate_rate``) a second time after it was answered, and a
failed delivery again after a backoff that doubles up to ``max_backoff``, until ``give_up_after``
seconds have passed. The secret goes in ``Authorization: Bearer``.

``Notifier.attach(world)`` sends one for every order the world creates from then on.
"""

from __future__ import annotations

import heapq
import http.client
import json
import random
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

#: how long Refurbed goes on retrying a notification
TWO_DAYS = 2 * 86400.0


@dataclass
class NotifierStats:
    #: orders a notification was planned for
    orders: int = 0
    #: POSTs sent, answered or not
    attempts: int = 0
    #: POSTs answered 2xx (a duplicate counts again)
    delivered: int = 0
    #: POSTs answered otherwise or not at all
    failed: int = 0
    duplicates: int = 0
    given_up: int = 0
    #: answers by HTTP status, 0 for no answer
    statuses: dict[int, int] = field(default_factory=dict)


class Notifier:
    def __init__(
        self,
        url: str,
        secret: str | None,
        *,
        delay: tuple[float, float] = (0.2, 1.0),
        duplicate_rate: float = 0.1,
        first_backoff: float = 0.5,
        max_backoff: float = 60.0,
        give_up_after: float = TWO_DAYS,
        timeout: float = 5.0,
        seed: int = 7,
    ) -> None:
        self.url = url
        self._secret = secret
        self.delay = delay
        self.duplicate_rate = duplicate_rate
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.give_up_after = give_up_after
        self.timeout = timeout
        self.stats = NotifierStats()
        #: order id -> time of its first 2xx answer (``time.time()``)
        self.delivered_at: dict[int, float] = {}
        self._rng = random.Random(seed)
        self._queue: list[tuple[float, int, int, float, float, bool]] = []
        self._seq = 0
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="refurbed-notifier", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"Notifier(url={self.url!r})"

    def attach(self, world) -> Notifier:
        """Send a notification for each order ``world`` creates from now on."""
        world.order_listeners.append(self.notify)
        return self

    def notify(self, order_id: int) -> None:
        """Plan the notification of a new order."""
        now = time.monotonic()
        with self._cond:
            self.stats.orders += 1
            self._push(now + self._rng.uniform(*self.delay), int(order_id), now, 0.0, duplicate=False)

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=10)

    def _push(self, due: float, order_id: int, first: float, backoff: float, duplicate: bool) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (due, self._seq, order_id, first, backoff, duplicate))
        self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._queue or self._queue[0][0] > time.monotonic()):
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(timeout=wait)
                if self._stop:
                    return
                _, _, order_id, first, backoff, duplicate = heapq.heappop(self._queue)
            status = self._send(order_id)
            now = time.monotonic()
            with self._cond:
                self.stats.attempts += 1
                self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    self.stats.delivered += 1
                    self.delivered_at.setdefault(order_id, time.time())
                    if not duplicate and self._rng.random() < self.duplicate_rate:
                        self.stats.duplicates += 1
                        self._push(now + self._rng.uniform(*self.delay), order_id, now, 0.0, duplicate=True)
                    continue
                self.stats.failed += 1
                if now - first >= self.give_up_after:
                    self.stats.given_up += 1
                    continue
                backoff = min(self.max_backoff, backoff * 2 if backoff else self.first_backoff)
                self._push(now + backoff, order_id, first, backoff, duplicate)

    def _send(self, order_id: int) -> int:
        """POST one notification; its HTTP status, 0 when there was no answer."""
        parts = urllib.parse.urlsplit(self.url)
        body = json.dumps({"order_id": order_id}).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "refurbed-simulator-notifications"}
        if self._secret:
            headers["Authorization"] = f"Bearer {self._secret}"
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        try:
            conn.request("POST", parts.path or "/", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status
        except OSError:
            return 0
        finally:
            conn.close()
