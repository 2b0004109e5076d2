"""The order book, one materialization per marketplace and sync type."""

import os
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from dagster import (
    AssetExecutionContext,
    AssetMaterialization,
    Config,
    Failure,
    FreshnessPolicy,
    MetadataValue,
    MultiPartitionKey,
    ResourceParam,
    RetryRequested,
    asset,
)
from pydantic import Field

from ordersync_pipeline.defs.markdown import table_metadata
from ordersync_pipeline.defs.partitions import orders_partitions
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.marketplaces.base import AuthenticationError, MarketplaceError
from ordersync_pipeline.marketplaces.registry import adapter_for, find_marketplace
from ordersync_pipeline.sync.options import DAYS_BACK, PAGE_SIZE, SYNC_TYPE_NAMES, SyncOptions
from ordersync_pipeline.sync.report import Progress, SyncReport
from ordersync_pipeline.sync.runner import MarketplaceRef, run_sync

# The retry defaults of runs that give none (schedules, sensors, the UI); the demo's UI sets them
# lower, so that a stopped simulator shows as a failed sync within the minute.
DEFAULT_RETRIES = int(os.environ.get("ORDERSYNC_SYNC_RETRIES", "3"))
DEFAULT_RETRY_WAIT_SECONDS = float(os.environ.get("ORDERSYNC_SYNC_RETRY_WAIT_SECONDS", "30"))


class SyncConfig(Config):
    page_size: int = PAGE_SIZE.field("Orders asked per page (a marketplace that takes fewer gets its most)")
    days_back: int = DAYS_BACK.field("How far back the incomplete sync looks, in days")
    retries: int = Field(
        default=DEFAULT_RETRIES,
        ge=0,
        le=10,
        description="Tries again after a passing failure (never after refused credentials)",
    )
    retry_wait_seconds: float = Field(
        default=DEFAULT_RETRY_WAIT_SECONDS, ge=0, description="Wait before the first retry; doubles each time"
    )


def _in_sync_order(keys: list[str]) -> list[MultiPartitionKey]:
    """Partitions of one run in the order a full sync takes them: per marketplace, new to incomplete."""
    order = list(SYNC_TYPE_NAMES)
    parsed = [orders_partitions.get_partition_key_from_str(k) for k in keys]
    return sorted(
        parsed,
        key=lambda k: (k.keys_by_dimension["marketplace"], order.index(k.keys_by_dimension["sync_type"])),
    )


@asset(
    partitions_def=orders_partitions,
    # No single-run backfill policy: a backfill is one run per partition, so that each carries the
    # partition tags the instance's run limits key on. A run of several partitions of one
    # marketplace (``sync_all``) still syncs each on its own and records each with its own figures.
    # A partition is materialized only by a sync that ran: a type the marketplace does not have
    # (Refurbed's care) is left unmaterialized, and so is every partition after a failed one.
    output_required=False,
    # The new sync runs every 5 minutes: no partition synced for 15 is a failure of the asset.
    freshness_policy=FreshnessPolicy.time_window(fail_window=timedelta(minutes=15), warn_window=timedelta(minutes=10)),
    group_name="orders",
    kinds={"python", "sql"},
    description="Orders and their items, synced from one marketplace by one sync type; writes order events.",
)
def marketplace_orders(
    context: AssetExecutionContext,
    config: SyncConfig,
    database: OrdersyncDatabase,
    progress: ResourceParam[Callable[[Progress], None]],
    reports: ResourceParam[Callable[[object], None]],
) -> Iterator[AssetMaterialization]:
    engine = database.engine()
    options = SyncOptions(page_size=config.page_size, days_back=config.days_back)
    for key in _in_sync_order(context.partition_keys):
        code, sync_type = key.keys_by_dimension["marketplace"], key.keys_by_dimension["sync_type"]
        try:
            report = _sync_partition(engine, code, sync_type, options, progress)
        except MarketplaceError as exc:
            raise _retry_or_fail(context, config, exc) from None
        reports(report)
        if not report.supported:
            context.log.info(f"{code} does not support {sync_type} sync: nothing to do, nothing materialized")
            continue
        for note in report.notes:
            context.log.info(f"{code} {sync_type}: {note}")
        for sample in report.error_samples:
            context.log.warning(f"{code} {sync_type}: {sample}")
        # Each partition its own event with its own figures, however many partitions the run has.
        yield AssetMaterialization(asset_key=context.asset_key, partition=str(key), metadata=sync_metadata(report))


def _sync_partition(engine, code: str, sync_type: str, options: SyncOptions, progress) -> SyncReport:
    with engine.connect() as conn:
        row = find_marketplace(conn, code)
    adapter = adapter_for(row)
    try:
        return run_sync(engine, MarketplaceRef(row.id, row.code), adapter, sync_type, options, progress)
    finally:
        adapter.close()


def _retry_or_fail(context: AssetExecutionContext, config: SyncConfig, exc: MarketplaceError) -> Exception:
    """A passing failure (the marketplace down, a timeout) is tried again with exponential backoff
    and jitter; refused credentials, or the last try, fail the run with one line, never the token."""
    attempt = context.retry_number
    if not isinstance(exc, AuthenticationError) and attempt < config.retries:
        context.log.warning(f"try {attempt + 1} of {config.retries + 1} failed: {exc}")
        wait = min(300.0, config.retry_wait_seconds * 2**attempt) * random.uniform(0.8, 1.2)
        return RetryRequested(max_retries=config.retries, seconds_to_wait=wait)
    return Failure(description=str(exc))


COUNTS = ("pages", "fetched", "created", "updated", "unchanged", "failed", "events", "accepted")


def sync_metadata(report: SyncReport) -> dict:
    """One sync's figures as the UI shows them: counts that plot, the cursor as a time, errors as a table."""
    metadata: dict = {name: getattr(report, name) for name in COUNTS}
    if report.cursor:
        metadata["cursor"] = MetadataValue.timestamp(datetime.fromisoformat(report.cursor))
    if report.error_samples:
        metadata["error_samples"] = table_metadata(["order error"], [[sample] for sample in report.error_samples])
    return metadata
