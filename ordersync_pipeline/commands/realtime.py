"""``ordersync realtime``: the receiver, the watchers and the in-process stock push, until stopped.

Runs in its own process next to the Dagster daemon and webserver (README, "Real time"); what it
does is recorded in the Dagster instance as observations of the assets it touches.
"""

from __future__ import annotations

import signal
import threading

from ordersync_pipeline.console import console
from ordersync_pipeline.defs.realtime.observations import InstanceRecorder
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.launch import dagster_instance, ensure_marketplace_partitions
from ordersync_pipeline.marketplaces.registry import find_marketplace, list_marketplaces
from ordersync_pipeline.realtime.service import ConfigurationProblem, RealtimeOptions, RealtimeService


def run(options: RealtimeOptions, marketplace: str | None = None, ready: threading.Event | None = None) -> int:
    engine = OrdersyncDatabase().engine()
    with engine.connect() as conn:
        rows = [find_marketplace(conn, marketplace)] if marketplace else list_marketplaces(conn)
    instance = dagster_instance()
    ensure_marketplace_partitions(instance, [row.code for row in rows])
    recorder = InstanceRecorder(instance)
    service = RealtimeService(engine, rows, options, on_activity=recorder)
    if not service.processors and not service.watchers:
        raise ConfigurationProblem(
            "nothing to run: no marketplace has notification_secret_env in its settings, and no Back Market one"
            " is active to watch"
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service.start()
    try:
        if service.receiver is not None:
            codes = ", ".join(service.processors)
            console.print(f"receiving notifications on {service.url}/notifications/<code> for {codes}")
        for watcher in service.watchers:
            console.print(f"watching {watcher.marketplace.code} every {watcher.interval:.1f} s")
        console.print("Ctrl-C to stop")
        if ready is not None:
            ready.set()
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
        recorder.close()
    return 0
