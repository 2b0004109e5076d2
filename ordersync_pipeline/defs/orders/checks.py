"""How stale each marketplace's order book may get, per sync type, as an asset check.

Freshness is per partition here: one marketplace that stopped syncing must show, even while the
others keep the asset as a whole fresh.
"""

from datetime import UTC, datetime, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetRecordsFilter,
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    asset_check,
    define_asset_job,
)

from ordersync_pipeline.defs.orders.assets import marketplace_orders
from ordersync_pipeline.defs.orders.marketplaces import active_marketplaces
from ordersync_pipeline.defs.partitions import orders_partition_key
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.marketplaces.base import SyncType

# Twice each schedule's interval, plus a little: one missed tick is fine, two are not.
MAX_AGE = {
    SyncType.NEW: timedelta(minutes=15),
    SyncType.MODIFIED: timedelta(hours=2, minutes=15),
    SyncType.CARE: timedelta(hours=2, minutes=15),
    SyncType.INCOMPLETE: timedelta(hours=1, minutes=15),
}


@asset_check(
    asset=marketplace_orders,
    description="Every active marketplace synced each supported type within its allowed age.",
)
def orders_synced_recently(context: AssetCheckExecutionContext, database: OrdersyncDatabase) -> AssetCheckResult:
    now = datetime.now(UTC)
    stale = []
    for marketplace in active_marketplaces(database):
        for sync_type, max_age in MAX_AGE.items():
            if sync_type not in marketplace.supported:
                continue
            key = str(orders_partition_key(marketplace.code, sync_type))
            records = context.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=marketplace_orders.key, asset_partitions=[key]), limit=1
            ).records
            last = datetime.fromtimestamp(records[0].timestamp, UTC) if records else None
            if last is None or now - last > max_age:
                when = f"last synced {last:%Y-%m-%d %H:%M} UTC" if last else "never synced"
                stale.append(f"{key}: {when} (allowed {max_age})")
    return AssetCheckResult(
        passed=not stale,
        severity=AssetCheckSeverity.WARN,
        description=f"{len(stale)} partition(s) stale" if stale else "every marketplace is fresh",
        metadata={"stale": stale},
    )


order_freshness_job = define_asset_job("check_order_freshness", selection=AssetSelection.checks(orders_synced_recently))

order_freshness_schedule = ScheduleDefinition(
    name="order_freshness_schedule",
    job=order_freshness_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)
