"""``setup_is_sound``: the checks of ``ordersync check`` (configuration, database, each active
marketplace's token, connection and clock) as an asset check of ``marketplace_orders``, run by the
``check_setup`` job on a schedule, so that a refused token or an unreachable marketplace shows on
the asset before the next sync fails on it."""

from __future__ import annotations

import os

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from ordersync_pipeline.defs.orders.assets import marketplace_orders
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.defs.schedules import checks_on_schedule
from ordersync_pipeline.health import check_setup


@asset_check(
    asset=marketplace_orders,
    description=(
        "The marketplace file is valid, the database reachable and migrated, and each active marketplace "
        "reachable, taking its token, with a clock near ours (one cheap request each)."
    ),
)
def setup_is_sound(database: OrdersyncDatabase) -> AssetCheckResult:
    order_book = database.order_book
    results = check_setup(order_book.database_url, order_book.config_file)
    failed = [f"{r.check}: {r.detail}" for r in results if not r.passed]
    return AssetCheckResult(
        passed=not failed,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(failed) if failed else f"all {len(results)} checks passed",
        metadata={"failed": failed, "passed": [r.check for r in results if r.passed]},
    )


# Hourly, off the minutes the syncs start on.
setup_check_job, setup_check_schedule = checks_on_schedule(
    "check_setup",
    [setup_is_sound],
    os.environ.get("ORDERSYNC_SETUP_CHECK_CRON", "45 * * * *"),
    "Check the configuration, the database and each active marketplace's token, connection and clock.",
    schedule_name="setup_check_schedule",
)
