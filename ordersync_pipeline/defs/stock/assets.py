"""Stock: apply the order events to the locks, then push the quantities to every marketplace.

Both follow a sync by themselves: an automation condition asks for ``stock_locks`` whenever any
``marketplace_orders`` partition was materialized, and for ``stock_push`` once the locks moved.
That keeps each sync run short and retryable on its own, lets one stock run serve many syncs
that land together (a backfill), and needs no job that knows every partition.
"""

from collections.abc import Callable

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AutomationCondition,
    MaterializeResult,
    ResourceParam,
    asset,
)

from ordersync_pipeline.defs.markdown import table_metadata
from ordersync_pipeline.defs.orders.assets import marketplace_orders
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.marketplaces.registry import adapter_for
from ordersync_pipeline.stock import apply_pending_events, check_no_short_locks, push_stock
from ordersync_pipeline.sync.queries import pending_events

# eager() waits until no dependency partition is missing; with one partition per marketplace and
# sync type some are legitimately never materialized, so that clause is dropped, and the label
# says what is left.
AFTER_ANY_UPSTREAM_UPDATE = (
    AutomationCondition.eager().without(~AutomationCondition.any_deps_missing()).with_label("after any upstream update")
)


@asset(
    deps=[marketplace_orders],
    automation_condition=AFTER_ANY_UPSTREAM_UPDATE,
    group_name="stock",
    kinds={"python", "sql"},
    description="Stock locks brought in line with every pending order event; on hand lowered on shipment.",
)
def stock_locks(
    context: AssetExecutionContext, database: OrdersyncDatabase, reports: ResourceParam[Callable[[object], None]]
) -> MaterializeResult:
    engine = database.engine()
    report = apply_pending_events(engine)
    reports(report)
    for shortfall in report.shortfalls:
        context.log.warning(f"shipped without a free unit: {shortfall}")
    with engine.connect() as conn:
        waiting = pending_events(conn)
    return MaterializeResult(
        metadata={
            # What this run did:
            "events": report.events,
            "locked": report.locked,
            "consumed": report.consumed,
            "left_before_count": report.before_count,
            "released": report.released,
            "short": report.short,
            "promoted": report.promoted,
            # How things stand after it, as gauges that plot from one run to the next:
            "standing_short_locks": check_no_short_locks(engine).count,
            "pending_events": waiting.count,
        }
    )


@asset(
    deps=[stock_locks],
    automation_condition=AFTER_ANY_UPSTREAM_UPDATE,
    group_name="stock",
    kinds={"python"},
    description="Listing quantities sent to every marketplace whose computed quantity changed.",
    check_specs=[
        AssetCheckSpec(
            "no_failed_pushes",
            asset="stock_push",
            description="Every listing whose quantity changed was accepted by its marketplace.",
        )
    ],
)
def stock_push(
    context: AssetExecutionContext, database: OrdersyncDatabase, reports: ResourceParam[Callable[[object], None]]
) -> MaterializeResult:
    report = push_stock(database.engine(), adapter_for)
    reports(report)
    for error in report.errors:
        context.log.warning(error)
    check_metadata: dict = {"failed": report.failed}
    if report.errors:
        check_metadata["listings"] = table_metadata(
            ["marketplace, listing", "error"], [error.partition(": ")[::2] for error in report.errors]
        )
    failed_check = AssetCheckResult(
        check_name="no_failed_pushes",
        passed=report.failed == 0,
        # An error: a marketplace shows a quantity the stock no longer has (or hides one it has).
        severity=AssetCheckSeverity.ERROR,
        description=(
            f"{report.failed} listing(s) not updated: " + "; ".join(report.errors)
            if report.failed
            else f"{report.pushed} listing(s) pushed, none failed"
        ),
        metadata=check_metadata,
    )
    return MaterializeResult(
        metadata={"pushed": report.pushed, "unchanged": report.unchanged, "failed": report.failed},
        check_results=[failed_check],
    )
