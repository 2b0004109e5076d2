"""The Dagster code location of ordersync."""

from dagster import AutomationConditionSensorDefinition, DefaultSensorStatus, Definitions

from ordersync_pipeline.defs.alerts import AlertChannel, run_failure_alert
from ordersync_pipeline.defs.health.checks import setup_check_job, setup_check_schedule, setup_is_sound
from ordersync_pipeline.defs.orders.assets import marketplace_orders
from ordersync_pipeline.defs.orders.checks import ORDER_CHECKS, watch_orders_job, watch_orders_schedule
from ordersync_pipeline.defs.orders.jobs import sync_all_job, sync_orders_job
from ordersync_pipeline.defs.orders.schedules import SCHEDULES
from ordersync_pipeline.defs.orders.sensors import SENSORS, IncompleteOrdersSettings
from ordersync_pipeline.defs.realtime.checks import realtime_is_running, watch_realtime_job, watch_realtime_schedule
from ordersync_pipeline.defs.resources import OrdersyncDatabase, discard_report, log_progress
from ordersync_pipeline.defs.stock.assets import stock_locks, stock_push
from ordersync_pipeline.defs.stock.checks import STOCK_CHECKS, StockCheckSettings
from ordersync_pipeline.defs.stock.jobs import STOCK_JOBS
from ordersync_pipeline.defs.stock.reconcile import listing_reconciliation, reconcile_listings_job, reconcile_schedule

# Runs the stock assets after syncs, as their automation conditions say; on from the start so
# that no one has to remember to switch it on.
stock_automation = AutomationConditionSensorDefinition(
    "stock_after_sync",
    target=[stock_locks, stock_push],
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)

defs = Definitions(
    assets=[marketplace_orders, stock_locks, stock_push, listing_reconciliation],
    asset_checks=[*ORDER_CHECKS, *STOCK_CHECKS, setup_is_sound, realtime_is_running],
    jobs=[
        sync_orders_job,
        sync_all_job,
        *STOCK_JOBS,
        reconcile_listings_job,
        watch_orders_job,
        setup_check_job,
        watch_realtime_job,
    ],
    schedules=[*SCHEDULES, watch_orders_schedule, setup_check_schedule, reconcile_schedule, watch_realtime_schedule],
    sensors=[*SENSORS, stock_automation, run_failure_alert],
    resources={
        "database": OrdersyncDatabase(),
        "progress": log_progress,
        "reports": discard_report,
        "alerts": AlertChannel(),
        "stock_checks": StockCheckSettings(),
        "incomplete_orders_settings": IncompleteOrdersSettings(),
    },
)
