"""Processing the notification inbox: read the notified orders, take them in, mark them done.

Each round takes up to ``batch`` waiting notifications of a marketplace and reads their orders in
as few requests as the marketplace allows (Refurbed: one ListOrders by id for up to 100), so a
burst of notifications costs a request or two, not one each; rounds are at least ``min_interval``
apart, and the adapter paces its requests by the marketplace's own rate-limit answers. A row is
marked processed only once its order is written and its paid items accepted: a crash before
leaves it waiting for the next round, which writes nothing new for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ordersync_pipeline.marketplaces.base import MarketplaceError, SyncType
from ordersync_pipeline.realtime import inbox
from ordersync_pipeline.realtime.intake import Intake, accept, write
from ordersync_pipeline.realtime.worker import OrderReader, ReaderConnections
from ordersync_pipeline.sync.exclusive import exclusive_sync

log = logging.getLogger(__name__)


@dataclass
class Processed:
    """One round of the inbox."""

    marketplace: str
    notifications: int
    intake: Intake
    #: seconds from each notification's arrival to its order written
    waited: list[float] = field(default_factory=list)
    not_found: int = 0


class NotificationProcessor(OrderReader):
    def __init__(
        self,
        connections: ReaderConnections,
        on_round: Callable[[Processed], None] = lambda _round: None,
        batch: int = 100,
        min_interval: float = 0.2,
        idle_poll: float = 1.0,
    ) -> None:
        super().__init__("ordersync-inbox", connections)
        self.on_round = on_round
        self.batch = batch
        self.min_interval = min_interval
        self.idle_poll = idle_poll
        self._last_round = 0.0

    def _run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            # The inbox is read at least every idle_poll: rows left by a crash or a failed round.
            self._wanted.wait(timeout=max(self.idle_poll, backoff))
            self._wanted.clear()
            if self._stop.is_set():
                return
            try:
                # Rounds follow each other while they find orders; one that only found unknown
                # orders leaves them to the next wake-up.
                while not self._stop.is_set():
                    result = self.process_once()
                    backoff = 0.0
                    if result is None or result.not_found == result.notifications:
                        break
            except MarketplaceError as exc:
                backoff = min(60.0, max(1.0, backoff * 2))
                log.warning(
                    "%s: notified orders not read (%s); next try in %.0f s", self.marketplace.code, exc, backoff
                )
            except Exception:
                backoff = min(60.0, max(1.0, backoff * 2))
                log.exception("%s: notification round failed; next try in %.0f s", self.marketplace.code, backoff)

    def process_once(self) -> Processed | None:
        """One round: None when nothing was waiting."""
        rows = inbox.waiting(self.engine, self.marketplace.id, self.batch)
        if not rows:
            return None
        pause = self._last_round + self.min_interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self._last_round = time.monotonic()
        references = [row.order_reference for row in rows]
        try:
            # Read and written under the new sync's lock: what is written is never older than
            # what a new sync running meanwhile wrote.
            with exclusive_sync(self.engine, self.marketplace.id, SyncType.NEW):
                page = self.adapter.get_orders(references)
                intake = write(self.engine, self.marketplace, page.orders, page.errors)
        except MarketplaceError as exc:
            inbox.failed(self.engine, rows, str(exc))
            raise
        written = time.time()
        if intake.events:
            self.pusher.wake()
        accept(self.engine, self.marketplace, self.adapter, intake)
        found = {order.reference for order in page.orders} | {error.reference for error in page.errors}
        done = [row for row in rows if row.order_reference in found]
        missing = [row for row in rows if row.order_reference not in found]
        inbox.processed(self.engine, [row.id for row in done])
        inbox.failed(self.engine, missing, "the marketplace does not know this order", give_up=True)
        waited = [max(0.0, written - _epoch(row.received_at)) for row in done]
        result = Processed(self.marketplace.code, len(rows), intake, waited, len(missing))
        self.on_round(result)
        return result


def _epoch(naive_utc: datetime) -> float:
    return naive_utc.replace(tzinfo=UTC).timestamp()
