"""``realtime_is_running``: red when the receiver or a watcher has stopped beating.

Each real-time component records a heartbeat in the order book (``realtime_heartbeats``) with
how often it beats; one silent for three of its intervals has stopped (or hangs). A component
that never ran here is not checked: the scheduled syncs alone are a valid way to run.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from ordersync_pipeline.defs.markdown import check_with_table
from ordersync_pipeline.defs.orders.assets import marketplace_orders
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.defs.schedules import checks_on_schedule
from ordersync_pipeline.realtime.heartbeat import heartbeats


@asset_check(
    asset=marketplace_orders,
    description="The real-time receiver and watchers that have run here still beat (within three intervals).",
)
def realtime_is_running(database: OrdersyncDatabase) -> AssetCheckResult:
    now = datetime.now(UTC).replace(tzinfo=None)
    beats = heartbeats(database.engine())
    stale = [b for b in beats if b.stale(now)]
    rows = [
        [b.component, b.marketplace, f"{b.beat_at:%Y-%m-%d %H:%M:%S} UTC", f"{b.age(now).total_seconds():.0f} s"]
        for b in beats
    ]
    return check_with_table(
        not stale,
        AssetCheckSeverity.ERROR,
        "stopped: " + ", ".join(f"{b.component} of {b.marketplace}" for b in stale)
        if stale
        else (f"{len(beats)} real-time component(s) beating" if beats else "no real-time component has run here"),
        {"components": len(beats), "stopped": len(stale)},
        "heartbeats",
        ["component", "marketplace", "last beat", "age"],
        rows,
    )


watch_realtime_job, watch_realtime_schedule = checks_on_schedule(
    "watch_realtime",
    [realtime_is_running],
    "* * * * *",
    "Check that the real-time receiver and watchers still run.",
)
