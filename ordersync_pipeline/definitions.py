"""The Dagster code location of ordersync."""

from dagster import AutomationConditionSensorDefinition, DefaultSensorStatus, Definitions

from ordersync_pipeline.defs.health.checks import setup_check_job, setup_check_schedule, setup_is_sound
from ordersync_pipeline.defs.orders.assets import marketplace_orders
from ordersync_pipeline.defs.orders.checks import order_freshness_job, order_freshness_schedule, orders_synced_recently
from ordersync_pipeline.defs.orders.jobs import sync_all_job, sync_orders_job
from ordersync_pipeline.defs.orders.schedules import SCHEDULES
from ordersync_pipeline.defs.orders.sensors import SENSORS, IncompleteOrdersSettings
from ordersync_pipeline.defs.resources import OrdersyncDatabase, log_progress
from ordersync_pipeline.defs.stock.assets import stock_locks, stock_push
from ordersync_pipeline.defs.stock.checks import STOCK_CHECKS, StockCheckSettings

# Runs the stock assets after syncs, as their automation conditions say; on from the start so
# that no one has to remember to switch it on.
stock_automation = AutomationConditionSensorDefinition(
    "stock_after_sync",
    target=[stock_locks, stock_push],
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)

defs = Definitions(
    assets=[marketplace_orders, stock_locks, stock_push],
    asset_checks=[orders_synced_recently, *STOCK_CHECKS, setup_is_sound],
    jobs=[sync_orders_job, sync_all_job, order_freshness_job, setup_check_job],
    schedules=[*SCHEDULES, order_freshness_schedule, setup_check_schedule],
    sensors=[*SENSORS, stock_automation],
    resources={
        "database": OrdersyncDatabase(),
        "progress": log_progress,
        "stock_checks": StockCheckSettings(),
        "incomplete_orders_settings": IncompleteOrdersSettings(),
    },
)
