"""What the real-time process did, recorded in the Dagster instance as asset observations.

Observations, not materializations: the stock assets' automation conditions ask for a run after
a ``marketplace_orders`` materialization, and the real-time path has already applied and pushed
what it wrote. They are recorded off the hot path, on a thread of their own.
"""

from __future__ import annotations

import logging
import queue
import threading

from dagster import AssetKey, AssetObservation, DagsterInstance

from ordersync_pipeline.defs.partitions import orders_partition_key
from ordersync_pipeline.realtime.service import Activity

log = logging.getLogger(__name__)


def observation(activity: Activity) -> AssetObservation:
    partition = None
    if activity.marketplace is not None and activity.sync_type is not None:
        partition = str(orders_partition_key(activity.marketplace, activity.sync_type))
    return AssetObservation(
        asset_key=AssetKey(activity.asset),
        partition=partition,
        metadata=dict(activity.metadata),
        description=f"real-time path ({activity.metadata.get('source', 'realtime')})",
    )


class InstanceRecorder:
    """``recorder(activity)`` queues it; a thread reports it to the instance."""

    def __init__(self, instance: DagsterInstance) -> None:
        self.instance = instance
        self.recorded = 0
        self._queue: queue.Queue[Activity | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ordersync-realtime-dagster", daemon=True)
        self._thread.start()

    def __call__(self, activity: Activity) -> None:
        self._queue.put(activity)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while (activity := self._queue.get()) is not None:
            try:
                self.instance.report_runless_asset_event(observation(activity))
                self.recorded += 1
            except Exception as exc:  # the instance is down: the work itself is done and in the order book
                log.warning("real-time activity not recorded in the Dagster instance: %s", exc)
