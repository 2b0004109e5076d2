"""The real-time process: receiver, inbox processors, watchers and the pusher, started together.

``ordersync realtime`` runs it in the foreground, beside Dagster's daemon and webserver. What it
does is told to ``on_activity`` (the command records it in the Dagster instance as observations
of the assets it touched) and its components beat in ``realtime_heartbeats``.
"""

from __future__ import annotations

import logging
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from ordersync_pipeline.marketplaces.base import MarketplaceError
from ordersync_pipeline.marketplaces.registry import adapter_for
from ordersync_pipeline.problems import SetupProblem
from ordersync_pipeline.realtime import heartbeat
from ordersync_pipeline.realtime.processor import NotificationProcessor, Processed
from ordersync_pipeline.realtime.pusher import PushRound, StockPusher, line_budget
from ordersync_pipeline.realtime.receiver import DEFAULT_HOST, DEFAULT_PORT, Endpoint, Receiver
from ordersync_pipeline.realtime.watcher import BackMarketWatcher, Poll, watch_interval
from ordersync_pipeline.realtime.worker import ReaderConnections
from ordersync_pipeline.sync.runner import MarketplaceRef

log = logging.getLogger(__name__)

#: seconds between the receiver's heartbeats
RECEIVER_BEAT = 10.0
#: a watcher beats after each poll, but says it may take this long: a poll can wait for a new sync
WATCHER_BEAT_AT_LEAST = 20.0


@dataclass(frozen=True)
class Activity:
    """Something the real-time path did, for the asset it touched (and its marketplace, sync type)."""

    asset: str
    metadata: dict[str, Any]
    marketplace: str | None = None
    sync_type: str | None = None


@dataclass
class RealtimeOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    receive: bool = True
    watch: bool = True
    #: seconds the pusher waits for more writes before it pushes
    settle: float = 0.05


class ConfigurationProblem(SetupProblem):
    """The real-time process cannot run as configured (one line, naming what to fix)."""


def notification_secret(row: Any) -> str | None:
    """The secret of a marketplace's notifications, from the variable its settings name."""
    name = dict(row.settings or {}).get("notification_secret_env")
    if not name:
        return None
    secret = os.environ.get(name)
    if not secret:
        raise ConfigurationProblem(
            f"marketplace {row.code}: environment variable {name} is not set (it holds the notification secret)"
        )
    return secret


@dataclass
class RealtimeService:
    engine: Engine
    rows: list[Any]
    options: RealtimeOptions = field(default_factory=RealtimeOptions)
    on_activity: Callable[[Activity], None] = lambda _activity: None

    def __post_init__(self) -> None:
        self.pusher = StockPusher(
            self.engine,
            {row.id: line_budget(row) for row in self.rows},
            on_round=self._pushed,
            settle=self.options.settle,
        )
        self.processors: dict[str, NotificationProcessor] = {}
        self.watchers: list[BackMarketWatcher] = []
        self.receiver: Receiver | None = None
        self._endpoints: list[Endpoint] = []
        self._adapters = []
        self._stop = threading.Event()
        self._beats: threading.Thread | None = None
        self._lock = threading.Lock()
        #: when the oldest write not yet pushed was made (for the push latency)
        self._unpushed_since: float | None = None
        for row in self.rows:
            ref = MarketplaceRef(row.id, row.code)
            secret = notification_secret(row) if self.options.receive else None
            if secret is not None:
                adapter = self._adapter(row)
                self._endpoints.append(Endpoint(row.id, row.code, secret))
                connections = ReaderConnections(self.engine, ref, adapter, self.pusher)
                self.processors[row.code] = NotificationProcessor(connections, on_round=self._processed)
            elif self.options.watch and row.kind == "backmarket":
                adapter = self._adapter(row)
                interval = watch_interval(dict(row.settings or {}))
                connections = ReaderConnections(self.engine, ref, adapter, self.pusher)
                self.watchers.append(BackMarketWatcher(connections, interval, on_poll=self._polled))

    def _adapter(self, row: Any):
        try:
            adapter = adapter_for(row)
        except MarketplaceError as exc:
            raise ConfigurationProblem(str(exc)) from None
        self._adapters.append(adapter)
        return adapter

    @property
    def url(self) -> str | None:
        return self.receiver.url if self.receiver else None

    def start(self) -> RealtimeService:
        self.pusher.start()
        for processor in self.processors.values():
            processor.start()
            processor.wake()  # what a crash left in the inbox
        if self._endpoints:
            try:
                receiver = Receiver(
                    self.engine, self._endpoints, self.options.host, self.options.port, on_stored=self._stored
                )
            except OSError as exc:
                self.stop()
                raise ConfigurationProblem(
                    f"the notification receiver cannot listen on {self.options.host}:{self.options.port}"
                    f" ({exc.strerror or exc}); is another ordersync realtime running? (--port chooses another)"
                ) from None
            self.receiver = receiver.start()
        for watcher in self.watchers:
            watcher.start()
        self._beats = threading.Thread(target=self._beat, name="ordersync-realtime-beat", daemon=True)
        self._beats.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.receiver is not None:
            self.receiver.stop()
        for watcher in self.watchers:
            watcher.stop()
        for processor in self.processors.values():
            processor.stop()
        self.pusher.stop()
        if self._beats is not None:
            self._beats.join(timeout=5)
        for adapter in self._adapters:
            adapter.close()

    def __enter__(self) -> RealtimeService:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what happened ----------------------------------------------------------------------------

    def _stored(self, endpoint: Endpoint, _order_id: str, _new: bool) -> None:
        self.processors[endpoint.code].wake()

    def _wrote(self) -> None:
        with self._lock:
            if self._unpushed_since is None:
                self._unpushed_since = time.monotonic()

    def _processed(self, done: Processed) -> None:
        intake = done.intake
        if intake.events:
            self._wrote()
        metadata: dict[str, Any] = {
            "source": "notification",
            "notifications": done.notifications,
            "orders_taken_in": len(intake.read),
            "created": intake.created,
            "updated": intake.updated,
            "events": intake.events,
            "accepted": intake.accepted,
            "not_found": done.not_found,
            "errors": len(intake.errors),
        }
        if done.waited:
            metadata["latency_max_s"] = round(max(done.waited), 3)
            metadata["latency_median_s"] = round(statistics.median(done.waited), 3)
        self.on_activity(Activity("marketplace_orders", metadata, done.marketplace, "new"))

    def _polled(self, poll: Poll) -> None:
        for watcher in self.watchers:
            if watcher.marketplace.code == poll.marketplace:
                self._beat_one("watcher", watcher.marketplace.id, watcher.interval, {"polls": watcher.polls})
        for sync_type, intake in (("new", poll.paid), ("modified", poll.modified)):
            if not (intake.events or intake.created or intake.updated or intake.errors):
                continue  # a poll that found nothing new is not worth an event
            if intake.events:
                self._wrote()
            metadata = {
                "source": "poll",
                "orders_taken_in": intake.orders,
                "created": intake.created,
                "updated": intake.updated,
                "events": intake.events,
                "accepted": intake.accepted,
                "errors": len(intake.errors),
                "poll_s": round(poll.seconds, 3),
            }
            self.on_activity(Activity("marketplace_orders", metadata, poll.marketplace, sync_type))

    def _pushed(self, done: PushRound) -> None:
        with self._lock:
            since, self._unpushed_since = self._unpushed_since, None
        applied, pushed = done.applied, done.pushed
        if applied.events:
            self.on_activity(
                Activity(
                    "stock_locks",
                    {
                        "source": "realtime",
                        "events": applied.events,
                        "locked": applied.locked,
                        "consumed": applied.consumed,
                        "released": applied.released,
                        "short": applied.short,
                    },
                )
            )
        if pushed.pushed or pushed.failed or done.deferred:
            metadata: dict[str, Any] = {
                "source": "realtime",
                "pushed": pushed.pushed,
                "failed": pushed.failed,
                "waiting_for_line_budget": sum(done.deferred.values()),
                "round_s": round(done.finished - done.started, 3),
            }
            if since is not None:
                metadata["written_to_pushed_s"] = round(done.finished - since, 3)
            self.on_activity(Activity("stock_push", metadata))

    # -- heartbeats -------------------------------------------------------------------------------

    def _beat(self) -> None:
        while not self._stop.is_set():
            # The receiver of a marketplace beats while both its server and its inbox processor run.
            if self.receiver is not None and self.receiver.alive:
                counts = {str(status): n for status, n in sorted(self.receiver.server.counts.items())}
                for endpoint in self._endpoints:
                    if self.processors[endpoint.code].alive:
                        self._beat_one("receiver", endpoint.marketplace_id, RECEIVER_BEAT, {"answers": counts})
            self._stop.wait(RECEIVER_BEAT)

    def _beat_one(self, component: str, marketplace_id: int, interval: float, details: dict[str, Any]) -> None:
        try:
            heartbeat.beat(self.engine, component, marketplace_id, max(interval, WATCHER_BEAT_AT_LEAST), details)
        except Exception as exc:  # a missed beat shows as one; the work goes on
            log.warning("heartbeat of %s not recorded: %s", component, exc)
