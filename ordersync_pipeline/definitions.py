"""The Dagster code location of ordersync."""

from dagster import AutomationConditionSensorDefinition, DefaultSensorStatus, Definitions

from ordersync_pipeline.defs.orders.assets import marketplace_orders
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
    asset_checks=STOCK_CHECKS,
    sensors=[stock_automation],
    resources={
        "database": OrdersyncDatabase(),
        "progress": log_progress,
        "stock_checks": StockCheckSettings(),
    },
)
