"""The old scheduler's cadence: new every 5 minutes, modified and care hourly, incomplete every 30.

Each tick asks for one run per active marketplace that supports the type. The run key names
the tick, so a tick evaluated twice (a daemon restart) launches nothing more.
"""

import os

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from ordersync_pipeline.defs.orders.jobs import sync_all_job, sync_orders_job
from ordersync_pipeline.defs.partitions import orders_partition_key
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.marketplaces.base import ALL_SYNC_TYPES, SyncType

# Partition range tags: how a run covers several partitions of one asset.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

DEFAULT_CADENCE = {
    SyncType.NEW: "*/5 * * * *",
    SyncType.MODIFIED: "0 * * * *",
    SyncType.CARE: "15 * * * *",
    SyncType.INCOMPLETE: "*/30 * * * *",
}


def cadence(sync_type: SyncType) -> str:
    """The cron of a sync type's schedule; ``ORDERSYNC_<TYPE>_CRON`` overrides it."""
    return os.environ.get(f"ORDERSYNC_{str(sync_type).upper()}_CRON", DEFAULT_CADENCE[sync_type])


def _tick(context: ScheduleEvaluationContext) -> str:
    return context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")


def build_sync_schedule(sync_type: SyncType) -> ScheduleDefinition:
    @schedule(
        name=f"sync_{sync_type}_schedule",
        cron_schedule=cadence(sync_type),
        job=sync_orders_job,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"The {sync_type} sync of every active marketplace that supports it.",
    )
    def _sync_schedule(context: ScheduleEvaluationContext, database: OrdersyncDatabase):
        marketplaces = [m for m in database.marketplaces() if sync_type in m.supported]
        if not marketplaces:
            return SkipReason(f"no active marketplace supports the {sync_type} sync")
        return [
            RunRequest(
                run_key=f"{_tick(context)}|{m.code}|{sync_type}",
                partition_key=orders_partition_key(m.code, sync_type),
            )
            for m in marketplaces
        ]

    return _sync_schedule


@schedule(
    name="sync_all_schedule",
    cron_schedule="30 * * * *",
    job=sync_all_job,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Every sync type of every active marketplace, one run per marketplace, hourly (off by default).",
)
def sync_all_schedule(context: ScheduleEvaluationContext, database: OrdersyncDatabase):
    marketplaces = database.marketplaces()
    if not marketplaces:
        return SkipReason("no active marketplace")
    first, last = ALL_SYNC_TYPES[0], ALL_SYNC_TYPES[-1]
    return [
        RunRequest(
            run_key=f"{_tick(context)}|{m.code}|all",
            tags={
                RANGE_START_TAG: orders_partition_key(m.code, first),
                RANGE_END_TAG: orders_partition_key(m.code, last),
                # Counted with the marketplace's other runs by the instance's concurrency limits.
                "dagster/partition/marketplace": m.code,
            },
        )
        for m in marketplaces
    ]


SCHEDULES = [*(build_sync_schedule(t) for t in ALL_SYNC_TYPES), sync_all_schedule]
