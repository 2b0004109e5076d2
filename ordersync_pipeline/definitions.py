"""The Dagster code location of ordersync."""

from dagster import Definitions

from ordersync_pipeline.defs.orders.assets import marketplace_orders
from ordersync_pipeline.defs.resources import OrdersyncDatabase, log_progress

defs = Definitions(
    assets=[marketplace_orders],
    resources={"database": OrdersyncDatabase(), "progress": log_progress},
)
