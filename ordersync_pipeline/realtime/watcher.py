"""Polling Back Market every few seconds: it has no push.

Each poll reads the paid listing (orders waiting for the seller) and the orders modified since
the poll before, less an overlap (``date_modification`` is "on or after", and clocks differ), and
writes what it finds through the syncs' own code: an order seen before and unchanged is neither
parsed nor written (its digest), and events keep the syncs' keys. Both are read and written under
the new sync's exclusive lock, and paid items accepted as the new sync accepts them.

The interval is chosen from the account's budget: a poll costs about two requests (one page of
each listing while few orders are waiting), so ``watch_share`` of the budget (default 5 %) sets
it; the requests take their permits from the account's one pacer (shared with the scheduled
syncs, across processes through ``rate_limit_file`` or ``rate_limit_store``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ordersync_pipeline.marketplaces.backmarket.pacing import rate_limit_setting
from ordersync_pipeline.marketplaces.base import ListedOrder, Order, Page, RecordError, SyncType
from ordersync_pipeline.realtime.intake import Intake, accept, write
from ordersync_pipeline.realtime.worker import OrderReader, ReaderConnections
from ordersync_pipeline.sync.exclusive import exclusive_sync

log = logging.getLogger(__name__)

DEFAULT_WATCH_SHARE = 0.05
#: requests one poll costs when little is waiting: one page of each listing
REQUESTS_PER_POLL = 2
MIN_INTERVAL = 1.0
PAGE_SIZE = 50
DEFAULT_OVERLAP = timedelta(seconds=30)


def watch_interval(settings: dict[str, Any]) -> float:
    """Seconds between polls: ``watch_interval`` if set, else what ``watch_share`` of the budget allows."""
    if settings.get("watch_interval"):
        return max(MIN_INTERVAL, float(settings["watch_interval"]))
    budget = rate_limit_setting(settings)
    if budget is None:
        return MIN_INTERVAL
    requests, seconds = budget
    share = float(settings.get("watch_share", DEFAULT_WATCH_SHARE))
    return max(MIN_INTERVAL, REQUESTS_PER_POLL * seconds / (share * requests))


@dataclass
class Poll:
    marketplace: str
    started: datetime
    paid: Intake
    modified: Intake
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


class BackMarketWatcher(OrderReader):
    join_timeout = 60.0

    def __init__(
        self,
        connections: ReaderConnections,
        interval: float,
        on_poll: Callable[[Poll], None] = lambda _poll: None,
        overlap: timedelta = DEFAULT_OVERLAP,
    ) -> None:
        super().__init__("ordersync-watch", connections)
        self.interval = interval
        self.on_poll = on_poll
        self.overlap = overlap
        self.polls = 0
        self._since: datetime | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.poll_once()
            except Exception as exc:
                log.warning("%s: poll failed: %s", self.marketplace.code, exc)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def poll_once(self) -> Poll:
        started = datetime.now(UTC)
        clock = time.monotonic()
        since = (self._since or started) - self.overlap
        # Both listings are read and written under the new sync's lock: a new sync accepts and
        # writes its acceptance under it, and a write of an order read before that acceptance
        # would take it back (the item's status and acceptance time as they were read).
        with exclusive_sync(self.engine, self.marketplace.id, SyncType.NEW):
            batch, errors = _read(self.adapter.iter_new_orders(PAGE_SIZE, unparsed=True))
            paid = write(self.engine, self.marketplace, batch, errors, SyncType.NEW)
            if paid.events:
                self.pusher.wake()
            batch, errors = _read(self.adapter.iter_modified_orders(since, PAGE_SIZE, unparsed=True))
            modified = write(self.engine, self.marketplace, batch, errors, SyncType.MODIFIED)
            if modified.events:
                self.pusher.wake()
        accept(self.engine, self.marketplace, self.adapter, paid)
        self._since = started
        self.polls += 1
        poll = Poll(self.marketplace.code, started, paid, modified, time.monotonic() - clock)
        poll.errors = paid.errors + modified.errors
        self.on_poll(poll)
        return poll


def _read(pages) -> tuple[list[Order | ListedOrder], list[RecordError]]:
    batch: list[Order | ListedOrder] = []
    errors: list[RecordError] = []
    for page in pages:
        page: Page
        batch.extend(page.orders)
        batch.extend(page.listed)
        errors.extend(page.errors)
    return batch, errors
