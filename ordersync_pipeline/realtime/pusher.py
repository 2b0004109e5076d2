"""Apply and push in process, as soon as the real-time path wrote something.

Whoever wrote events (the notification processor, a watcher) wakes the pusher; it waits a moment
for more (``settle``), then runs the stock's own ``apply_pending_events`` and ``push_stock``
once for everything written meanwhile: orders of one SKU that come together cost one push.
Unwoken, it looks every second for events that others wrote (a scheduled sync) and applies them
the same way, so a listing is lowered within seconds whoever took the order in.
Requests are paced by each adapter as any push is. Back Market also caps the listing lines it
takes in an hour: each marketplace with a line budget (``listing_lines_per_hour``) takes its
lines from an hourly limiter first, and waits for the next round when the budget is spent.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from pyrate_limiter import Duration, Limiter, Rate
from sqlalchemy import Engine, select

from ordersync_pipeline.db.tables import pending_order_events
from ordersync_pipeline.marketplaces import registry
from ordersync_pipeline.marketplaces.base import MarketplaceAdapter
from ordersync_pipeline.realtime.worker import Worker
from ordersync_pipeline.stock.apply import ApplyReport, apply_pending_events
from ordersync_pipeline.stock.push import PushReport, listings_to_push, push_stock

log = logging.getLogger(__name__)

#: Back Market's documented ceiling on listing updates: SKU lines an hour
BACKMARKET_LINES_PER_HOUR = 2000
DEFAULT_LINES_PER_HOUR = {"backmarket": BACKMARKET_LINES_PER_HOUR}


def line_budget(row: Any) -> Limiter | None:
    """The hourly limiter of listing lines for a ``marketplaces`` row, ``None`` if it has no cap."""
    settings = dict(row.settings or {})
    lines = settings.get("listing_lines_per_hour", DEFAULT_LINES_PER_HOUR.get(row.kind))
    if not lines:
        return None
    return Limiter(Rate(int(lines), Duration.HOUR))


@dataclass
class PushRound:
    """One apply and push of the real-time path."""

    started: float
    finished: float
    applied: ApplyReport
    pushed: PushReport
    #: listings to push per marketplace id that waited for their line budget
    deferred: dict[int, int] = field(default_factory=dict)


class StockPusher(Worker):
    def __init__(
        self,
        engine: Engine,
        line_budgets: dict[int, Limiter | None],
        adapter_for: Callable[[Any], MarketplaceAdapter] = registry.adapter_for,
        on_round: Callable[[PushRound], None] = lambda _round: None,
        settle: float = 0.05,
        retry_after: float = 5.0,
        idle_check: float = 1.0,
    ) -> None:
        super().__init__("ordersync-realtime-push")
        self.engine = engine
        self.line_budgets = line_budgets
        self.adapter_for = adapter_for
        self.on_round = on_round
        self.settle = settle
        self.retry_after = retry_after
        self.idle_check = idle_check
        self.rounds = 0
        #: something is left to push (a failed push, a spent line budget): try again in a while
        self._left = False

    def start(self) -> Self:
        self._wanted.set()  # what an earlier process left (a crash between a write and its push)
        return super().start()

    def _run(self) -> None:
        last_try = time.monotonic()
        while not self._stop.is_set():
            woken = self._wanted.wait(timeout=self.idle_check)
            if self._stop.is_set():
                return
            # Unwoken, it still looks every idle_check for events someone else wrote (a scheduled
            # sync beside it), and every retry_after again for what a round left.
            retry = self._left and time.monotonic() - last_try >= self.retry_after
            if not woken and not retry and not self._events_pending():
                continue
            last_try = time.monotonic()
            time.sleep(self.settle)
            self._wanted.clear()
            try:
                self.push_once()
            except Exception:  # a database or marketplace outage: the next round tries again
                log.exception("real-time stock push failed; retrying in %.0f s", self.retry_after)
                self._left = True

    def _events_pending(self) -> bool:
        try:
            with self.engine.connect() as conn:
                return conn.execute(select(pending_order_events.c.event_id).limit(1)).first() is not None
        except Exception:
            return False

    def push_once(self) -> PushRound:
        """Apply what is pending, then push every listing whose quantity changed, within budgets."""
        started = time.monotonic()
        applied = apply_pending_events(self.engine)
        waiting = Counter(
            listing.marketplace_id
            for listing in listings_to_push(self.engine)
            if listing.quantity != listing.pushed_quantity
        )
        allowed, deferred = [], {}
        for marketplace_id, lines in sorted(waiting.items()):
            budget = self.line_budgets.get(marketplace_id)
            if budget is None or budget.try_acquire(str(marketplace_id), weight=lines, blocking=False):
                allowed.append(marketplace_id)
            else:
                deferred[marketplace_id] = lines
        pushed = push_stock(self.engine, self.adapter_for, allowed) if allowed else PushReport()
        self._left = bool(deferred or pushed.failed)
        self.rounds += 1
        done = PushRound(started, time.monotonic(), applied, pushed, deferred)
        if deferred:
            log.warning("listing line budget spent: %s wait for the next round", deferred)
        self.on_round(done)
        return done
