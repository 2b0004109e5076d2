"""Checks on the order book: each marketplace and type synced recently, and no order left unparsed.

Freshness is per partition here: one marketplace that stopped syncing must show, even while the
others keep the asset as a whole fresh (that is what the asset's own freshness policy sees). The
check runs on its own schedule, never inside a sync run, so a failed sync cannot hide it.
"""

from datetime import UTC, datetime, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetRecordsFilter,
    MetadataValue,
    asset_check,
)

from ordersync_pipeline.defs.markdown import check_with_table, table_metadata
from ordersync_pipeline.defs.orders.assets import marketplace_orders
from ordersync_pipeline.defs.partitions import orders_partition_key
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.defs.schedules import checks_on_schedule
from ordersync_pipeline.marketplaces.base import SyncType
from ordersync_pipeline.sync.queries import unresolved_sync_errors

# Twice each schedule's interval, plus a little: one missed tick is fine, two are not.
MAX_AGE = {
    SyncType.NEW: timedelta(minutes=15),
    SyncType.MODIFIED: timedelta(hours=2, minutes=15),
    SyncType.CARE: timedelta(hours=2, minutes=15),
    SyncType.INCOMPLETE: timedelta(hours=1, minutes=15),
}
SHOWN = 50


@asset_check(
    asset=marketplace_orders,
    description="Every active marketplace synced each supported type within its allowed age.",
)
def orders_synced_recently(context: AssetCheckExecutionContext, database: OrdersyncDatabase) -> AssetCheckResult:
    now = datetime.now(UTC)
    stale = []
    for marketplace in database.marketplaces():
        for sync_type, max_age in MAX_AGE.items():
            if sync_type not in marketplace.supported:
                continue
            key = str(orders_partition_key(marketplace.code, sync_type))
            records = context.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=marketplace_orders.key, asset_partitions=[key]), limit=1
            ).records
            last = datetime.fromtimestamp(records[0].timestamp, UTC) if records else None
            if last is None or now - last > max_age:
                stale.append(
                    (marketplace.code, str(sync_type), f"{last:%Y-%m-%d %H:%M} UTC" if last else "never", max_age)
                )
    return check_with_table(
        not stale,
        AssetCheckSeverity.WARN,
        f"{len(stale)} stale: " + ", ".join(f"{code}|{sync_type}" for code, sync_type, _, _ in stale)
        if stale
        else "every marketplace is fresh",
        {"stale_partitions": len(stale)},
        "stale",
        ["marketplace", "sync type", "last synced", "allowed age"],
        stale,
    )


@asset_check(
    asset=marketplace_orders,
    description="No order waits in sync_errors: each one a marketplace sent that could not be read.",
)
def no_unresolved_sync_errors(database: OrdersyncDatabase) -> AssetCheckResult:
    # A warning: the rest of the book is right, and the next good sync of the order clears it.
    with database.engine().connect() as conn:
        total, rows = unresolved_sync_errors(conn, limit=SHOWN)
    metadata: dict = {"unresolved": total}
    if rows:
        metadata["oldest_unresolved_at"] = MetadataValue.timestamp(rows[0].created_at.replace(tzinfo=UTC))
        metadata["errors"] = table_metadata(
            ["marketplace", "sync type", "order", "error", "since"],
            [
                [r.marketplace, r.sync_type, r.reference or "(page)", r.error, f"{r.created_at:%Y-%m-%d %H:%M} UTC"]
                for r in rows
            ],
            total,
        )
    orders = sorted({f"{r.marketplace} {r.reference}" for r in rows if r.reference})
    return AssetCheckResult(
        passed=total == 0,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"{total} record(s) could not be read" + (f": orders {', '.join(orders)}" if orders else "")
            if total
            else "every order the marketplaces sent was read"
        ),
        metadata=metadata,
    )


ORDER_CHECKS = [orders_synced_recently, no_unresolved_sync_errors]

watch_orders_job, watch_orders_schedule = checks_on_schedule(
    "watch_orders",
    ORDER_CHECKS,
    "*/5 * * * *",
    "Run the order book's checks: freshness per marketplace and type, unresolved sync errors.",
)
