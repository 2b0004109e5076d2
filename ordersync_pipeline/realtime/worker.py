"""A background worker of the real-time path: one daemon thread running ``_run`` until stopped.

The notification processor, the stock pusher, the watchers and the receiver start and stop the
same way: ``wake`` cuts a wait short, ``stop`` raises the stop flag, wakes the thread and waits
for it to finish the round it is in.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ordersync_pipeline.marketplaces.base import MarketplaceAdapter
    from ordersync_pipeline.realtime.pusher import StockPusher
    from ordersync_pipeline.sync.runner import MarketplaceRef


class Worker:
    #: seconds ``stop`` waits for the thread to finish its round
    join_timeout = 30.0

    def __init__(self, thread_name: str) -> None:
        self.thread_name = thread_name
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wanted.set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wanted.set()
        self._stopping()
        if self._thread is not None:
            self._thread.join(timeout=self.join_timeout)

    def _stopping(self) -> None:
        """What else ends the thread's work, before it is waited for."""

    def _run(self) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class ReaderConnections:
    """What an order reader of one marketplace works with: the order book, the marketplace and its
    adapter, and the pusher to wake once it has written."""

    engine: Engine
    marketplace: MarketplaceRef
    adapter: MarketplaceAdapter
    pusher: StockPusher


class OrderReader(Worker):
    """A worker that reads one marketplace's orders, writes them and wakes the pusher."""

    def __init__(self, thread_name: str, connections: ReaderConnections) -> None:
        super().__init__(f"{thread_name}-{connections.marketplace.code}")
        self.engine = connections.engine
        self.marketplace = connections.marketplace
        self.adapter = connections.adapter
        self.pusher = connections.pusher
