"""The stock runs as jobs: apply the pending events and check the stock, push what changed, or both."""

from dagster import AssetSelection, define_asset_job

from ordersync_pipeline.defs.stock.assets import stock_locks, stock_push

# The assets' checks come with them; a failed blocking check keeps the push from running.
update_stock_job = define_asset_job(
    "update_stock",
    selection=AssetSelection.assets(stock_locks, stock_push),
    description="Apply pending order events to the stock locks, check the stock, push listing quantities.",
)
apply_stock_job = define_asset_job(
    "apply_stock",
    selection=AssetSelection.assets(stock_locks),
    description="Apply pending order events to the stock locks and check the stock.",
)
push_stock_job = define_asset_job(
    "push_stock",
    selection=AssetSelection.assets(stock_push),
    description="Push listing quantities that changed to the marketplaces.",
)

STOCK_JOBS = [update_stock_job, apply_stock_job, push_stock_job]


def stock_job_name(apply: bool, push: bool) -> str:
    if apply and push:
        return update_stock_job.name
    return apply_stock_job.name if apply else push_stock_job.name
