"""Jobs over the order book: one partition per run, or every sync type of a marketplace in one run.

The order book's checks are left out of these runs: they run in ``watch_orders`` on their own, so
a failed sync never marks them as not executed.
"""

from dagster import AssetSelection, define_asset_job

from ordersync_pipeline.defs.orders.assets import marketplace_orders
from ordersync_pipeline.defs.partitions import orders_partitions

SYNC_SELECTION = AssetSelection.assets(marketplace_orders).without_checks()

sync_orders_job = define_asset_job(
    "sync_orders",
    selection=SYNC_SELECTION,
    partitions_def=orders_partitions,
    description="Sync one marketplace for one sync type.",
)

sync_all_job = define_asset_job(
    "sync_all",
    selection=SYNC_SELECTION,
    partitions_def=orders_partitions,
    description="Sync one marketplace for new, modified, care and incomplete, in that order, in one run.",
)
