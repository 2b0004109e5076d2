"""Stock: apply the order events to the locks, then push the quantities to every marketplace.

Both follow a sync by themselves: an automation condition asks for ``stock_locks`` whenever any
``marketplace_orders`` partition was materialized, and for ``stock_push`` once the locks moved.
That keeps each sync run short and retryable on its own, lets one stock run serve many syncs
that land together (a backfill), and needs no job that knows every partition.
"""

from dagster import AssetExecutionContext, AutomationCondition, MaterializeResult, asset

from ordersync_pipeline.defs.orders.assets import marketplace_orders
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.marketplaces.registry import adapter_for
from ordersync_pipeline.stock import apply_pending_events, push_stock

# eager() waits until no dependency partition is missing; with one partition per marketplace and
# sync type some are legitimately never materialized, so that clause is dropped.
AFTER_ANY_UPSTREAM_UPDATE = AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())


@asset(
    deps=[marketplace_orders],
    automation_condition=AFTER_ANY_UPSTREAM_UPDATE,
    group_name="stock",
    kinds={"python", "sql"},
    description="Stock locks brought in line with every pending order event; on hand lowered on shipment.",
)
def stock_locks(context: AssetExecutionContext, database: OrdersyncDatabase) -> MaterializeResult:
    report = apply_pending_events(database.engine())
    for shortfall in report.shortfalls:
        context.log.warning(f"shipped without a free unit: {shortfall}")
    return MaterializeResult(
        metadata={
            "events": report.events,
            "locked": report.locked,
            "consumed": report.consumed,
            "left_before_count": report.before_count,
            "released": report.released,
            "short": report.short,
            "promoted": report.promoted,
        }
    )


@asset(
    deps=[stock_locks],
    automation_condition=AFTER_ANY_UPSTREAM_UPDATE,
    group_name="stock",
    kinds={"python"},
    description="Listing quantities sent to every marketplace whose computed quantity changed.",
)
def stock_push(context: AssetExecutionContext, database: OrdersyncDatabase) -> MaterializeResult:
    report = push_stock(database.engine(), adapter_for)
    for error in report.errors:
        context.log.warning(error)
    return MaterializeResult(metadata={"pushed": report.pushed, "unchanged": report.unchanged, "failed": report.failed})
