"""``ordersync sync``: the old ``v2:sync-orders`` command, running the Dagster assets."""

from __future__ import annotations

from dataclasses import dataclass

from ordersync_pipeline import console
from ordersync_pipeline.defs.orders.assets import SyncConfig
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.launch import Launcher, dagster_instance, ensure_marketplace_partitions
from ordersync_pipeline.marketplaces.registry import find_marketplace, list_marketplaces
from ordersync_pipeline.sync.options import DAYS_BACK, PAGE_SIZE, SYNC_TYPE_NAMES
from ordersync_pipeline.sync.report import SyncReport


@dataclass(frozen=True)
class SyncRequest:
    sync_type: str = "all"
    marketplace: str | None = None
    page_size: int = PAGE_SIZE.default
    days_back: int = DAYS_BACK.default
    verbose: bool = False


def run(request: SyncRequest, database: OrdersyncDatabase | None = None) -> list[SyncReport]:
    """Sync the chosen marketplaces and types in order; raise ``RunFailed`` on the first fatal error."""
    database = database or OrdersyncDatabase()
    engine = database.engine()
    with engine.connect() as conn:
        rows = [find_marketplace(conn, request.marketplace)] if request.marketplace else list_marketplaces(conn)
    if not rows:
        raise SystemExit("no active marketplace is configured")
    instance = dagster_instance()
    ensure_marketplace_partitions(instance, [row.code for row in rows])
    launcher = Launcher(instance, database, request.verbose)
    types = list(SYNC_TYPE_NAMES) if request.sync_type == "all" else [request.sync_type]
    # A person at a terminal wants the reason at once: no retries in the background.
    config = SyncConfig(page_size=request.page_size, days_back=request.days_back, retries=0)
    reports = []
    for row in rows:
        for sync_type in types:
            with console.sync_progress(f"{row.code} {sync_type}") as progress:
                reports.append(launcher.sync(row.code, sync_type, config, progress))
    return reports
