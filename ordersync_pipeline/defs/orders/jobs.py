"""Jobs over the order book: one partition per run, or every sync type of a marketplace in one run."""

from dagster import AssetSelection, define_asset_job

from ordersync_pipeline.defs.orders.assets import marketplace_orders
from ordersync_pipeline.defs.partitions import orders_partitions

sync_orders_job = define_asset_job(
    "sync_orders",
    selection=AssetSelection.assets(marketplace_orders),
    partitions_def=orders_partitions,
    description="Sync one marketplace for one sync type.",
)

sync_all_job = define_asset_job(
    "sync_all",
    selection=AssetSelection.assets(marketplace_orders),
    partitions_def=orders_partitions,
    description="Sync one marketplace for new, modified, care and incomplete, in that order, in one run.",
)
